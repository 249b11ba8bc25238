#!/usr/bin/env python3
"""Writes a random MGM-34B-shape (Yi-34B) or MGM-8x7B-shape (Mixtral) quantized decoder as a GGUF
file, inside a folder `mgm run --model` loads: the GGUF, config.json, a tokenizer and (with
--towers-from) model.safetensors holding the CLIP tower and mining weights of an existing MGM
checkpoint plus a random projector sized for the decoder. This is how the scale runs of issue 17
(peak RSS and tok/s of a model larger than BF16 fits on a 24 GB machine) get their weights.

No real weights: every block is random but valid (random quants, scales and minimums from random
bytes, the f16 super-scales `d`/`dmin` set so that values have a standard deviation near 0.02, as
initialised transformer weights). Blocks are written straight from numpy, tensor by tensor, so the
script needs a few hundred MB of memory whatever the file size.

    python Tools/gguf/make_scale_model.py --shape 34b --type q4_k_m --output /tmp/mgm34b-q4_k_m \
        --tokenizer-from ../shared/vocab/llama2 --towers-from /tmp/server-bench/MGM-2B
    python Tools/gguf/make_scale_model.py --sizes        # file size of each shape per type, writes nothing

The matrix types follow `mgm quantize` (Sources/MGPipeline/Quantization/DecoderQuantization.swift):
q4_k_m is Q4_K with Q6_K for `output` and for `attn_v`/`ffn_down` in llama.cpp's "more bits" layers;
q4_0 is Q4_0 with a Q6_K output; q8_0 is Q8_0; q2_k (llama.cpp's smallest K-quant, which the
library reads but `mgm quantize` does not write) is Q2_K with a Q6_K output.
"""

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

import gguf  # noqa: E402

Q = gguf.GGMLQuantizationType

SHAPES = {
    # Yi-34B, the decoder of MGM-34B (MGM-34B-HD): model_type "mgm" (Llama).
    "34b": dict(hidden=7168, layers=60, heads=56, kv_heads=8, ffn=20480, vocab=64000, experts=0, experts_used=0,
                rope_theta=5_000_000.0, context=4096, eps=1e-5),
    # Mixtral-8x7B, the decoder of MGM-8x7B: model_type "mgm_mixtral".
    "8x7b": dict(hidden=4096, layers=32, heads=32, kv_heads=8, ffn=14336, vocab=32000, experts=8, experts_used=2,
                 rope_theta=1_000_000.0, context=32768, eps=1e-5),
}

# llama.cpp's llama_ftype numbers (general.file_type).
FILE_TYPES = {"q8_0": 7, "q4_0": 2, "q4_k_m": 15, "q2_k": 10}

# Standard deviation of one quantized value in units of the block's f16 scale `d`, and the ratio
# dmin/d that centres the values, from the block layouts of ggml-common.h with uniform random bits.
SPREAD = {Q.Q8_0: 73.9, Q.Q4_0: 4.6, Q.Q4_K: 258.0, Q.Q6_K: 1367.0, Q.Q2_K: 13.9}
DMIN_RATIO = {Q.Q4_K: 7.5, Q.Q2_K: 1.5}
# Byte offsets of the f16 `d` (and `dmin`) inside each block.
D_OFFSET = {Q.Q8_0: 0, Q.Q4_0: 0, Q.Q4_K: 0, Q.Q6_K: 208, Q.Q2_K: 80}
DMIN_OFFSET = {Q.Q4_K: 2, Q.Q2_K: 82}


def uses_more_bits(layer, layers):
    return layer < layers // 8 or layer >= 7 * layers // 8 or (layer - layers // 8) % 3 == 2


def matrix_type(kind, name, layer, layers):
    """The block type of a matrix, as `mgm quantize` (and llama.cpp's mixes) choose it."""
    if kind == "q8_0":
        return Q.Q8_0
    if name == "output.weight":
        return Q.Q6_K
    if kind == "q4_0":
        return Q.Q4_0
    if kind == "q2_k":
        return Q.Q2_K
    more = name.endswith((".attn_v.weight", ".ffn_down.weight", ".ffn_down_exps.weight"))
    return Q.Q6_K if more and layer is not None and uses_more_bits(layer, layers) else Q.Q4_K


def tensors(shape, kind):
    """(name, numpy shape of the values, type) for every tensor, in file order."""
    s = SHAPES[shape]
    h, d = s["hidden"], s["hidden"] // s["heads"]
    out = [("token_embd.weight", (s["vocab"], h), matrix_type(kind, "token_embd.weight", None, s["layers"]))]
    for i in range(s["layers"]):
        b = f"blk.{i}."

        def m(name, rows, cols, experts=0):
            shape_ = (experts, rows, cols) if experts else (rows, cols)
            out.append((b + name, shape_, matrix_type(kind, b + name, i, s["layers"])))

        out.append((b + "attn_norm.weight", (h,), Q.F32))
        m("attn_q.weight", s["heads"] * d, h)
        m("attn_k.weight", s["kv_heads"] * d, h)
        m("attn_v.weight", s["kv_heads"] * d, h)
        m("attn_output.weight", h, s["heads"] * d)
        out.append((b + "ffn_norm.weight", (h,), Q.F32))
        if s["experts"]:
            out.append((b + "ffn_gate_inp.weight", (s["experts"], h), Q.F32))  # llama.cpp keeps the router F32
            m("ffn_gate_exps.weight", s["ffn"], h, s["experts"])
            m("ffn_down_exps.weight", h, s["ffn"], s["experts"])
            m("ffn_up_exps.weight", s["ffn"], h, s["experts"])
        else:
            m("ffn_gate.weight", s["ffn"], h)
            m("ffn_up.weight", s["ffn"], h)
            m("ffn_down.weight", h, s["ffn"])
    out.append(("output_norm.weight", (h,), Q.F32))
    out.append(("output.weight", (s["vocab"], h), matrix_type(kind, "output.weight", None, s["layers"])))
    return out


def byte_count(values_shape, qtype):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    *outer, cols = values_shape
    assert cols % block == 0, (values_shape, qtype)
    return int(np.prod(outer, dtype=np.int64)) * (cols // block) * size


def random_blocks(rng, values_shape, qtype, sigma=0.02):
    """Random valid blocks (uint8, byte shape) whose values have about `sigma` spread."""
    if qtype == Q.F32:  # norms around 1, a router like any matrix
        centre, spread = (1.0, 0.1) if len(values_shape) == 1 else (0.0, sigma)
        return (centre + spread * rng.standard_normal(values_shape)).astype(np.float32)
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    *outer, cols = values_shape
    count = int(np.prod(outer, dtype=np.int64)) * (cols // block)
    data = np.frombuffer(bytearray(rng.bytes(count * size)), dtype=np.uint8).reshape(count, size)
    scale = sigma / SPREAD[qtype]
    d = (scale * rng.uniform(0.5, 1.5, count)).astype(np.float16)
    data[:, D_OFFSET[qtype]:D_OFFSET[qtype] + 2] = d.view(np.uint8).reshape(count, 2)
    if qtype in DMIN_OFFSET:
        dmin = (d.astype(np.float32) * DMIN_RATIO[qtype]).astype(np.float16)
        data[:, DMIN_OFFSET[qtype]:DMIN_OFFSET[qtype] + 2] = dmin.view(np.uint8).reshape(count, 2)
    return data.reshape(*outer, cols // block * size)


class BlockPool:
    """A few tens of MB of random blocks per type, written out at a random block offset for each
    tensor: generating 20 GB of random bytes costs minutes of CPU on a shared 2-core machine, and
    a scale run needs distinct pages of valid blocks, not distinct values."""

    def __init__(self, rng, pool_bytes=32 << 20):
        self.rng, self.pool_bytes, self.pools = rng, pool_bytes, {}

    def write(self, fout, nbytes, qtype):
        size = gguf.GGML_QUANT_SIZES[qtype][1]
        if qtype not in self.pools:
            blocks = self.pool_bytes // size
            self.pools[qtype] = random_blocks(self.rng, (blocks, gguf.GGML_QUANT_SIZES[qtype][0]), qtype).reshape(-1)
        pool = self.pools[qtype]
        offset = int(self.rng.integers(0, len(pool) // size)) * size
        remaining = nbytes
        while remaining > 0:
            chunk = pool[offset:offset + remaining]
            chunk.tofile(fout)
            remaining -= len(chunk)
            offset = 0


def write_gguf(path, shape, kind, seed):
    s = SHAPES[shape]
    plan = tensors(shape, kind)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(f"random MGM-{shape.upper()}-shape decoder")
    writer.add_context_length(s["context"])
    writer.add_embedding_length(s["hidden"])
    writer.add_block_count(s["layers"])
    writer.add_feed_forward_length(s["ffn"])
    writer.add_head_count(s["heads"])
    writer.add_head_count_kv(s["kv_heads"])
    writer.add_rope_dimension_count(s["hidden"] // s["heads"])
    writer.add_rope_freq_base(s["rope_theta"])
    writer.add_layer_norm_rms_eps(s["eps"])
    writer.add_vocab_size(s["vocab"])
    writer.add_file_type(FILE_TYPES[kind])
    if s["experts"]:
        writer.add_expert_count(s["experts"])
        writer.add_expert_used_count(s["experts_used"])
    for name, values_shape, qtype in plan:
        if qtype == Q.F32:
            writer.add_tensor_info(name, values_shape, np.dtype(np.float32), int(np.prod(values_shape)) * 4)
        else:
            nbytes = byte_count(values_shape, qtype)
            block, size = gguf.GGML_QUANT_SIZES[qtype]
            byte_shape = (*values_shape[:-1], values_shape[-1] // block * size)
            writer.add_tensor_info(name, byte_shape, np.dtype(np.uint8), nbytes, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    rng = np.random.default_rng(seed)
    pool = BlockPool(rng)
    fout = writer.fout[0]
    start, written = time.time(), 0
    for index, (name, values_shape, qtype) in enumerate(plan):
        writer.write_padding(fout, fout.tell())
        if qtype == Q.F32:
            data = random_blocks(rng, values_shape, qtype)
            data.tofile(fout)
            nbytes = data.nbytes
        else:
            nbytes = byte_count(values_shape, qtype)
            pool.write(fout, nbytes, qtype)
        writer.write_padding(fout, nbytes)
        written += nbytes
        if index % 50 == 0:
            print(f"  {name}: {written / 1e9:.1f} GB in {time.time() - start:.0f} s", flush=True)
    writer.close()
    return written


def config_json(shape, source_config):
    s = SHAPES[shape]
    base = json.loads(Path(source_config).read_text()) if source_config else {}
    config = {
        "architectures": ["MGMMixtralForCausalLM" if s["experts"] else "MGMLlamaForCausalLM"],
        "model_type": "mgm_mixtral" if s["experts"] else "mgm",
        "hidden_size": s["hidden"], "intermediate_size": s["ffn"], "num_hidden_layers": s["layers"],
        "num_attention_heads": s["heads"], "num_key_value_heads": s["kv_heads"], "vocab_size": s["vocab"],
        "max_position_embeddings": s["context"], "rms_norm_eps": s["eps"], "rope_theta": s["rope_theta"],
        "hidden_act": "silu", "tie_word_embeddings": False, "attention_bias": False,
        "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "torch_dtype": "bfloat16",
    }
    if s["experts"]:
        config.update(num_local_experts=s["experts"], num_experts_per_tok=s["experts_used"], sliding_window=None)
    # The vision side of the source (tower paths, widths, image sizes), or MGM's released values.
    for key in ["mm_vision_tower", "mm_vision_tower_aux", "mm_hidden_size", "mm_hidden_size_aux", "image_size_aux",
                "image_grid", "image_global", "mm_projector_type", "mm_vision_select_layer", "mm_vision_select_feature",
                "image_aspect_ratio", "mm_use_im_start_end", "mm_use_im_patch_token", "use_mm_proj"]:
        if key in base:
            config[key] = base[key]
    config.setdefault("mm_vision_tower", "model_zoo/OpenAI/clip-vit-large-patch14-336")
    config.setdefault("mm_projector_type", "mlp2x_gelu")
    config.setdefault("mm_hidden_size", 1024)
    config["tokenizer_model_max_length"] = 4096
    return config


def write_other_weights(output, towers_from, hidden, seed):
    """model.safetensors: the CLIP tower and mining weights of `towers_from`, and a random BF16
    mlp2x_gelu projector from the CLIP width to `hidden`."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    folder = Path(towers_from)
    index = folder / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else ["model.safetensors"]
    kept = {}
    for name in files:
        with safe_open(str(folder / name), framework="pt") as f:
            for key in f.keys():
                if "vision_tower" in key or "vlm_uni" in key:
                    kept[key] = f.get_tensor(key)
    clip_width = kept["model.vlm_uni_query_projector.1.weight"].shape[0] if "model.vlm_uni_query_projector.1.weight" in kept else 1024
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return (0.02 * torch.randn(*shape, generator=generator)).to(torch.bfloat16)

    kept["model.mm_projector.0.weight"] = randn(hidden, clip_width)
    kept["model.mm_projector.0.bias"] = randn(hidden)
    kept["model.mm_projector.2.weight"] = randn(hidden, hidden)
    kept["model.mm_projector.2.bias"] = randn(hidden)
    save_file({k: v.contiguous() for k, v in kept.items()}, str(output / "model.safetensors"), metadata={"format": "pt"})
    return sum(v.numel() * v.element_size() for v in kept.values())


def print_sizes():
    for shape in SHAPES:
        for kind in FILE_TYPES:
            total = sum(byte_count(v, t) if t != Q.F32 else int(np.prod(v)) * 4 for _, v, t in tensors(shape, kind))
            print(f"{shape:5} {kind:7} {total / 1e9:6.2f} GB ({total / 2**30:6.2f} GiB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="34b")
    parser.add_argument("--type", choices=sorted(FILE_TYPES), default="q4_k_m")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--tokenizer-from", type=Path, help="folder whose tokenizer.model / tokenizer.json to copy")
    parser.add_argument("--towers-from", type=Path, help="MGM checkpoint whose CLIP tower and mining weights to copy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sizes", action="store_true", help="print the file size of every shape and type, write nothing")
    args = parser.parse_args()
    if args.sizes:
        print_sizes()
        return
    if args.output is None:
        parser.error("--output is required")
    args.output.mkdir(parents=True, exist_ok=True)
    hidden = SHAPES[args.shape]["hidden"]
    source_config = args.towers_from / "config.json" if args.towers_from else None
    (args.output / "config.json").write_text(json.dumps(config_json(args.shape, source_config), indent=2) + "\n")
    if args.tokenizer_from:
        for name in ["tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
            if (args.tokenizer_from / name).exists():
                shutil.copy(args.tokenizer_from / name, args.output / name)
    if args.towers_from and (args.output / "model.safetensors").exists():
        print("model.safetensors exists, kept")
    elif args.towers_from:
        other = write_other_weights(args.output, args.towers_from, hidden, args.seed)
        print(f"model.safetensors: {other / 1e9:.2f} GB")
    path = args.output / f"language_model.{args.type}.gguf"
    start = time.time()
    written = write_gguf(path, args.shape, args.type, args.seed)
    print(f"{path}: {path.stat().st_size / 1e9:.2f} GB ({written / 1e9:.2f} GB of tensors) in {time.time() - start:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
