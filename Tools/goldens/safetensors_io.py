"""Fixtures for the safetensors reader/writer and the F32 <-> F16/BF16 conversions.

io_dtypes:   the same values stored as F32, F16 and BF16, plus the bit patterns torch produces for
             `.to(float16/bfloat16)` and `.float()`, and an I64 tensor with values beyond 2^53.
io_layout:   mixed dtypes and awkward names written by `safetensors.torch.save_file` with a single
             metadata key, so the Swift writer can be checked byte for byte.
io_sharded/: a two-shard checkpoint with `model.safetensors.index.json`.
"""
import json
import os

import torch
from safetensors.torch import save_file

from . import common


def special_values() -> torch.Tensor:
    bits = [0x7F800001, 0xFF800001, 0x7FC00000, 0xFFC00000]  # signalling/quiet NaNs of both signs
    nans = torch.tensor(bits, dtype=torch.int64).to(torch.int32).view(torch.float32)
    values = [
        0.0, -0.0, 1.0, -1.0, 0.1, 1.0 / 3.0, 3.14159265, -2.7182818,
        65504.0, 65519.0, 65520.0, -65520.0, 70000.0, 1e5, 3.4028234e38, -3.4028234e38,
        3.3895314e38, 3.3895e38, 1e-5, 6.1035156e-05, 6.097e-05, 5.9604645e-08, 2.9802322e-08, 2.99e-08,
        1e-7, -1e-7, 4.5e-6, -2.5e-7, 1e-40, -1e-40, 1.4e-45, 1.1754942e-38,
        float("inf"), float("-inf"),
        1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, 1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8,
        1.0 + 2.0 ** -8 + 2.0 ** -20, -(1.0 + 3 * 2.0 ** -8), 2049.0, 2051.0,
        257.0, 259.0, 0.000123, -0.000123, 1024.5, 4097.0,
    ]
    special = torch.cat([torch.tensor(values, dtype=torch.float32), nans])
    # Random values spread over many binades, to exercise rounding everywhere.
    mantissas = common.det_uniform(7, (64,), 1.0, 2.0)
    exponents = torch.arange(64, dtype=torch.float32) - 40.0
    signs = torch.where(torch.arange(64) % 3 == 0, -1.0, 1.0)
    spread = (mantissas * torch.pow(2.0, exponents) * signs).to(torch.float32)
    flat = torch.cat([special, spread])
    pad = (-flat.numel()) % 8
    flat = torch.cat([flat, torch.zeros(pad, dtype=torch.float32)])
    return flat.reshape(-1, 8)


def dtypes_fixture() -> None:
    f32 = special_values()
    f16 = f32.to(torch.float16)
    bf16 = f32.to(torch.bfloat16)
    ids = torch.tensor([0, 1, -1, 2 ** 53 + 1, -(2 ** 62) - 3, 2 ** 63 - 1], dtype=torch.int64)
    common.save_fixture("MGTensor", "io_dtypes", {
        "values_f32": f32,
        "values_f16": f16,
        "values_bf16": bf16,
        "f32_to_f16_bits": f16.view(torch.int16).clone(),
        "f32_to_bf16_bits": bf16.view(torch.int16).clone(),
        "f16_to_f32_bits": f16.float().view(torch.int32),
        "bf16_to_f32_bits": bf16.float().view(torch.int32),
        "position_ids": ids,
    }, note="values_* hold the same numbers; *_bits are torch's conversions as raw bits")


def layout_fixture() -> None:
    tensors = {
        "b.f16": common.det_uniform(11, (3,)).to(torch.float16),
        "a.f32": common.det_uniform(12, (2, 2)),
        "c.i64": torch.tensor([5, -6], dtype=torch.int64),
        "d.bf16": common.det_uniform(13, (1, 3)).to(torch.bfloat16),
        "e.u8": torch.tensor([1, 2, 3, 250, 255], dtype=torch.uint8),
        "f.empty": torch.zeros((0, 4), dtype=torch.float32),
        "name \"quoted\"\n\u00e9": torch.tensor([1.5], dtype=torch.float32),
    }
    path = os.path.join(common.fixture_dir("MGTensor"), "io_layout.safetensors")
    save_file(tensors, path, metadata={"format": "pt"})


def sharded_fixture() -> None:
    shards = {
        "model-00001-of-00002.safetensors": {
            "layers.0.weight": common.det_uniform(21, (4, 3)).to(torch.bfloat16),
            "layers.0.bias": common.det_uniform(22, (4,)),
        },
        "model-00002-of-00002.safetensors": {
            "layers.1.weight": common.det_uniform(23, (2, 4)).to(torch.float16),
            "embed.weight": common.det_uniform(24, (5, 2)),
        },
    }
    folder = os.path.join(common.fixture_dir("MGTensor"), "io_sharded")
    os.makedirs(folder, exist_ok=True)
    weight_map = {}
    total = 0
    for file, tensors in shards.items():
        save_file(tensors, os.path.join(folder, file), metadata={"format": "pt"})
        for name, tensor in tensors.items():
            weight_map[name] = file
            total += tensor.numel() * tensor.element_size()
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as handle:
        json.dump(index, handle, indent=2)
        handle.write("\n")


def generate() -> None:
    dtypes_fixture()
    layout_fixture()
    sharded_fixture()
