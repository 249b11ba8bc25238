#!/usr/bin/env python3
"""PyTorch side of the model benchmarks: a line-oriented server driven by MGTensorBenchmarks.

Same protocol as torch_ops.py: each request on stdin is {"op": NAME, "args": {...}, "repeat": N}; the
reply is one JSON object of timings in milliseconds (or {"error": text}). Models get random weights
(the timings do not depend on the values) and are dropped after each request to bound memory.

- clip_vit_l336: transformers CLIPVisionModel ViT-L/14-336 (F32) on one 336×336 image with
  output_hidden_states=True, as Mini-Gemini's clip_encoder runs it (all 24 layers; it then keeps
  hidden_states[-2]).
- convnext_l: the timm ConvNeXt-L trunk OpenCLIP builds (F32, eval), then Mini-Gemini's backbone
  fusion (stages 1–3 resized bilinearly to stage 0 and concatenated).
- gemma_2b: transformers GemmaForCausalLM with Gemma-2B's shape in BF16 (weights and activations):
  a prefill of T positions returning the last position's logits (the faster of two), then D
  single-token decode steps on the KV cache of the second.
"""
import gc
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(int(os.environ.get("MG_NUM_THREADS", "2")))
torch.set_grad_enabled(False)

from torch_ops import median_timing, serve  # noqa: E402  (this folder, on sys.path when run as a script)


def tower_dtype(args):
    """args["dtype"]: "f32" (default) or "bf16" (weights and activations, as the official code on GPU)."""
    return torch.bfloat16 if args.get("dtype") == "bf16" else torch.float32


def clip_vit_l336(args, repeat):
    from transformers import CLIPVisionConfig, CLIPVisionModel
    config = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                              image_size=336, patch_size=14, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    dtype = tower_dtype(args)
    model = CLIPVisionModel(config).eval().to(dtype)
    pixels = (torch.rand(1, 3, 336, 336) * 4 - 2).to(dtype)
    return median_timing(lambda: model(pixel_values=pixels, output_hidden_states=True).hidden_states[-2], repeat)


def convnext_l_forward(size, dtype):
    """A random ConvNeXt-L trunk (timm) and one image of `size`², returned as a no-argument forward:
    the four stages, then Mini-Gemini's fusion (stages 2–4 resized to stage 1's grid, concatenated)."""
    from timm.models.convnext import ConvNeXt
    trunk = ConvNeXt(depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536), num_classes=0).eval().to(dtype)
    pixels = (torch.rand(1, 3, size, size) * 4 - 2).to(dtype)

    def run():
        x = trunk.stem(pixels)
        stages = []
        for stage in trunk.stages:
            x = stage(x)
            stages.append(x)
        target = stages[0].shape[-2:]
        resized = [F.interpolate(s, size=target, mode="bilinear", align_corners=False) for s in stages[1:]]
        return torch.cat([stages[0]] + resized, 1)
    return run


def convnext_l(args, repeat):
    return median_timing(convnext_l_forward(int(args["size"]), tower_dtype(args)), repeat)


def gemma_2b(args, repeat):
    from transformers import GemmaConfig, GemmaForCausalLM
    config = GemmaConfig(vocab_size=256000, hidden_size=2048, intermediate_size=16384, num_hidden_layers=18,
                         num_attention_heads=8, num_key_value_heads=1, head_dim=256, max_position_embeddings=8192,
                         rms_norm_eps=1e-6, hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True)
    # Built on the meta device and materialised directly in BF16: a default init would first fill
    # 10 GB of F32.
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device("meta"):
            model = GemmaForCausalLM(config)
    finally:
        torch.set_default_dtype(torch.float32)
    model = model.to_empty(device="cpu").eval()
    for parameter in model.parameters():
        parameter.uniform_(-0.05, 0.05)
    # Non-persistent buffers (the rotary frequencies) are not materialised by to_empty.
    model.model.rotary_emb = type(model.model.rotary_emb)(config=config)
    positions, steps = int(args["positions"]), int(args["decode"])
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, config.vocab_size, (1, positions), generator=generator)

    model(input_ids=ids[:, :16], use_cache=True, logits_to_keep=1)  # warm-up (kernel selection)
    # The fastest of two prefills, as the Swift side takes the fastest of two in each precision.
    prefill_ms = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        prefill_ms = min(prefill_ms, (time.perf_counter() - start) * 1000.0)
    cache = out.cache
    token = out.logits[:, -1:].argmax(-1)
    start = time.perf_counter()
    for _ in range(steps):
        out = model(input_ids=token, cache=cache, use_cache=True)
        cache = out.cache
        token = out.logits[:, -1:].argmax(-1)
    decode_ms = (time.perf_counter() - start) * 1000.0 / max(1, steps)
    return {"prefill_ms": prefill_ms, "decode_ms": decode_ms}


CASES = {"clip_vit_l336": clip_vit_l336, "convnext_l": convnext_l, "gemma_2b": gemma_2b}


def main():
    banner = {"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}
    # Models are dropped after each request, to bound memory.
    serve(banner, lambda request: CASES[request["op"]](request.get("args", {}), int(request.get("repeat", 3))),
          after_each=gc.collect)


if __name__ == "__main__":
    main()
