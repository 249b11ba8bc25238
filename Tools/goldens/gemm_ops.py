"""Goldens for matmul, linear and scaled dot-product attention (fixtures prefixed mm_).

Small cases store inputs and outputs; realistic sizes regenerate inputs with det_uniform (seeds in
the metadata) and store sampled outputs. 16-bit weights are rounded by torch (.bfloat16()/.half(),
round to nearest even, as Tensor.converted(to:) does) and the reference upcasts them exactly:
F.linear(x, w.float(), b).
"""
import torch
import torch.nn.functional as F

from .common import det_uniform, sample_indices, save_fixture


def _sampled(name, out, **meta):
    flat = out.reshape(-1)
    idx = sample_indices(flat.numel())
    save_fixture("MGTensor", name, {"indices": idx, "expected": flat[idx]}, shape=list(out.shape), **meta)


def _end_aligned_causal(q, k, v, scale=None):
    """SDPA with the KV-cache causal convention: query i sees keys <= i + (Tk - Tq)."""
    tq, tk = q.shape[-2], k.shape[-2]
    mask = torch.ones(tq, tk, dtype=torch.bool).tril(diagonal=tk - tq)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, enable_gqa=True)


def matmul_goldens():
    g = torch.Generator().manual_seed(7)
    r = lambda *s: torch.rand(*s, generator=g) * 2 - 1  # noqa: E731
    a, b = r(2, 3, 5, 4), r(3, 4, 6)
    a2, b2 = r(5, 4), r(4, 6)
    at, bt = r(2, 5, 4), r(2, 6, 4)
    a3, b3 = r(5, 4), r(3, 4, 6)
    a4, b4 = r(3, 1, 5, 4), r(2, 4, 6)
    save_fixture("MGTensor", "mm_matmul_small", {
        "a": a, "b": b, "out": a @ b,
        "a2": a2, "b2": b2, "out2": a2 @ b2,
        "at": at, "bt": bt, "outT": at @ bt.transpose(-1, -2),
        "a3": a3, "b3": b3, "out3": a3 @ b3,
        "a4": a4, "b4": b4, "out4": a4 @ b4,
        "bmmOut": torch.bmm(at, bt.transpose(1, 2).contiguous()),
    }, tolerance=1e-5)

    # Realistic: a 2-D weight folded into one GEMM, and a genuinely batched product.
    a = det_uniform(11, (2, 577, 256))
    b = det_uniform(12, (256, 1024))
    _sampled("mm_matmul_fold", a @ b, seeds=[11, 12], tolerance=1e-4)
    a = det_uniform(13, (16, 577, 64))
    b = det_uniform(14, (16, 64, 577))
    _sampled("mm_matmul_batched", a @ b, seeds=[13, 14], tolerance=1e-4)


def linear_goldens():
    g = torch.Generator().manual_seed(8)
    r = lambda *s: torch.rand(*s, generator=g) * 2 - 1  # noqa: E731
    x, w, bias = r(3, 5, 40), r(70, 40), r(70)
    x1 = r(1, 40)
    wh = r(70, 40)
    # A few special f16 values: subnormals and the largest finite magnitudes.
    wh[0, :5] = torch.tensor([6e-8, 1e-5, -3e-6, 65504.0, -65504.0])
    w16, wb16 = wh.half(), w.bfloat16()
    stacked = r(3, 24, 40).bfloat16()
    save_fixture("MGTensor", "mm_linear_small", {
        "x": x, "w": w, "bias": bias, "x1": x1,
        "out": F.linear(x, w, bias), "outNoBias": F.linear(x, w), "out1": F.linear(x1, w, bias),
        "wBF16": wb16, "outBF16": F.linear(x, wb16.float(), bias), "out1BF16": F.linear(x1, wb16.float(), bias),
        "wF16": w16, "outF16": F.linear(x, w16.float()), "out1F16": F.linear(x1, w16.float(), bias),
        "stacked": stacked, "outStacked1": F.linear(x, stacked[1].float()),
        "out1Stacked2": F.linear(x1, stacked[2].float()),
    }, tolerance=1e-5)

    x = det_uniform(21, (577, 1024))
    w = det_uniform(22, (4096, 1024))
    bias = det_uniform(23, (4096,))
    _sampled("mm_linear_large", F.linear(x, w, bias), seeds=[21, 22, 23], tolerance=1e-4)

    # 3000 rows of 1024: more than one 8 MB conversion block, with a partial last block.
    x = det_uniform(31, (2, 40, 1024))
    w = det_uniform(32, (3000, 1024)).bfloat16()
    bias = det_uniform(33, (3000,))
    _sampled("mm_linear_bf16_large", F.linear(x, w.float(), bias), seeds=[31, 32, 33], tolerance=1e-4)
    x1 = det_uniform(34, (1, 1024))
    save_fixture("MGTensor", "mm_linear_bf16_decode", {
        "expected": F.linear(x1, w.float(), bias),
        "expectedF16": F.linear(x1, det_uniform(32, (3000, 1024)).half().float()),
    }, seeds=[34, 32, 33], tolerance=1e-5)


def attention_goldens():
    g = torch.Generator().manual_seed(9)
    r = lambda *s: torch.rand(*s, generator=g) * 4 - 2  # noqa: E731
    q, k, v = r(2, 4, 7, 8), r(2, 2, 7, 8), r(2, 2, 7, 6)
    qd, kd, vd = r(1, 6, 3, 16), r(1, 2, 9, 16), r(1, 2, 9, 16)
    qm, km, vm = r(1, 4, 5, 8), r(1, 1, 5, 8), r(1, 1, 5, 8)
    sdpa = F.scaled_dot_product_attention
    save_fixture("MGTensor", "mm_sdpa_small", {
        "q": q, "k": k, "v": v,
        "full": sdpa(q, k, v, enable_gqa=True),
        "causal": sdpa(q, k, v, is_causal=True, enable_gqa=True),
        "scaled": sdpa(q, k, v, scale=0.3, enable_gqa=True),
        "qd": qd, "kd": kd, "vd": vd,
        "decodeCausal": _end_aligned_causal(qd, kd, vd),
        "decodeFull": sdpa(qd, kd, vd, enable_gqa=True),
        "qm": qm, "km": km, "vm": vm,
        "mqaCausal": sdpa(qm, km, vm, is_causal=True, enable_gqa=True),
    }, tolerance=1e-5)

    cases = [
        # name, q shape, kv heads, kv length, causal, seeds
        ("mm_sdpa_vit", (1, 16, 577, 64), 16, 577, False, [41, 42, 43]),
        ("mm_sdpa_gemma_prefill", (1, 8, 640, 256), 1, 640, True, [44, 45, 46]),
        ("mm_sdpa_gemma_decode", (1, 8, 1, 256), 1, 1000, True, [47, 48, 49]),
    ]
    for name, (b, hq, tq, d), hkv, tk, causal, seeds in cases:
        q = det_uniform(seeds[0], (b, hq, tq, d), -2.0, 2.0)
        k = det_uniform(seeds[1], (b, hkv, tk, d))
        v = det_uniform(seeds[2], (b, hkv, tk, d))
        out = _end_aligned_causal(q, k, v) if causal else sdpa(q, k, v, enable_gqa=True)
        _sampled(name, out, seeds=seeds, kv=[hkv, tk], causal=causal, tolerance=1e-4)


def generate():
    matmul_goldens()
    linear_goldens()
    attention_goldens()
