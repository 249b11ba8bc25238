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
library reads but `mgm quantize` does not write) is Q2_K with a Q6_K output. The tensor list, type
mix, random blocks and GGUF writing are shared with Tools/bench/gguf_model_bench.py (random_gguf.py).
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

from random_gguf import Q, byte_count, decoder_tensors, random_blocks, add_decoder_metadata, write_gguf  # noqa: E402  (this folder)

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


def tensors(shape, kind):
    """(name, numpy shape of the values, type) for every tensor, in file order."""
    s = SHAPES[shape]
    return decoder_tensors(
        kind, hidden=s["hidden"], ffn=s["ffn"], layers=s["layers"], heads=s["heads"], kv_heads=s["kv_heads"],
        head_dim=s["hidden"] // s["heads"], vocab=s["vocab"], experts=s["experts"])


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


def write_decoder(path, shape, kind, seed):
    s = SHAPES[shape]

    def metadata(writer):
        writer.add_name(f"random MGM-{shape.upper()}-shape decoder")
        add_decoder_metadata(
            writer, context=s["context"], hidden=s["hidden"], layers=s["layers"], ffn=s["ffn"], heads=s["heads"],
            kv_heads=s["kv_heads"], head_dim=s["hidden"] // s["heads"], eps=s["eps"], rope_theta=s["rope_theta"])
        writer.add_vocab_size(s["vocab"])
        writer.add_file_type(FILE_TYPES[kind])
        if s["experts"]:
            writer.add_expert_count(s["experts"])
            writer.add_expert_used_count(s["experts_used"])

    rng = np.random.default_rng(seed)
    pool = BlockPool(rng)
    start, written, index = time.time(), 0, 0

    def tensor(fout, name, values_shape, qtype):
        nonlocal written, index
        if qtype == Q.F32:
            random_blocks(rng, values_shape, qtype).tofile(fout)
        else:
            pool.write(fout, byte_count(values_shape, qtype), qtype)
        written += byte_count(values_shape, qtype)
        if index % 50 == 0:
            print(f"  {name}: {written / 1e9:.1f} GB in {time.time() - start:.0f} s", flush=True)
        index += 1

    return write_gguf(path, "llama", tensors(shape, kind), metadata, tensor)


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
            total = sum(byte_count(v, t) for _, v, t in tensors(shape, kind))
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
    written = write_decoder(path, args.shape, args.type, args.seed)
    print(f"{path}: {path.stat().st_size / 1e9:.2f} GB ({written / 1e9:.2f} GB of tensors) in {time.time() - start:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
