"""Goldens for element-wise, activation, softmax, normalisation, reduction and RoPE ops (prefix pw_).

Small cases store inputs and outputs. Realistic sizes regenerate inputs with det_uniform (shape,
seed and range in the metadata) and store 2048 sampled outputs. References are PyTorch fp32
(torch.nn.functional, transformers' LlamaRotaryEmbedding / apply_rotary_pos_emb / RMSNorm classes).
"""
import torch
import torch.nn.functional as F
from transformers import LlamaConfig
from transformers.models.gemma.modeling_gemma import GemmaRMSNorm
from transformers.models.llama.modeling_llama import LlamaRMSNorm, LlamaRotaryEmbedding, apply_rotary_pos_emb

from .common import det_uniform, sample_indices, save_fixture

SAMPLES = 2048


def _gen(seed):
    g = torch.Generator().manual_seed(seed)
    return lambda *s, lo=-1.0, hi=1.0: torch.rand(*s, generator=g) * (hi - lo) + lo  # noqa: E731


def _sampled(name, out, **meta):
    flat = out.reshape(-1)
    idx = sample_indices(flat.numel(), SAMPLES)
    save_fixture("MGTensor", name, {"indices": idx, "expected": flat[idx]}, shape=list(out.shape), **meta)


def binary_goldens():
    r = _gen(21)
    cases = {
        "bias": (r(2, 3, 4), r(4)),
        "same": (r(3, 5), r(3, 5)),
        "rows": (r(2, 3, 4), r(2, 1, 4)),
        "nchw": (r(2, 3, 2, 2), r(1, 3, 1, 1)),
        "outer": (r(5, 1), r(1, 6)),
        "scalar": (r(3, 4), r(1)),
        "left": (r(4), r(3, 2, 4)),
        "mixed": (r(2, 1, 3, 1), r(1, 4, 1, 5)),
    }
    tensors = {}
    for key, (a, b) in cases.items():
        tensors[f"{key}.a"], tensors[f"{key}.b"] = a, b
        tensors[f"{key}.add"], tensors[f"{key}.sub"], tensors[f"{key}.mul"] = a + b, a - b, a * b
        denominator = b.abs() + 0.5  # keep the quotient well conditioned
        tensors[f"{key}.bdiv"] = denominator
        tensors[f"{key}.div"] = a / denominator
    x = r(4, 6, lo=-3, hi=3)
    tensors["scale.x"], tensors["scale.out"] = x, x * 0.125
    special = torch.tensor([0.5, float("nan"), float("inf"), -float("inf"), -2.0, 3.4e38, -0.0, float("nan")])
    tensors["nan.x"] = special
    tensors["nan.default"] = torch.nan_to_num(special)
    tensors["nan.custom"] = torch.nan_to_num(special, nan=1.5, posinf=100.0, neginf=-7.0)
    save_fixture("MGTensor", "pw_binary_small", tensors, cases=list(cases), tolerance=1e-6)

    # Realistic: a bias over ViT tokens and a per-channel scale over an NCHW feature map.
    a, b = det_uniform(31, (577, 1024)), det_uniform(32, (1024,))
    _sampled("pw_add_large", a + b, a_shape=[577, 1024], b_shape=[1024], seeds=[31, 32], tolerance=1e-6)
    a, b = det_uniform(33, (1, 192, 96, 96)), det_uniform(34, (1, 192, 1, 1))
    _sampled("pw_mul_large", a * b, a_shape=[1, 192, 96, 96], b_shape=[1, 192, 1, 1], seeds=[33, 34], tolerance=1e-6)


def activation_goldens():
    r = _gen(22)
    x = torch.cat([
        torch.linspace(-10, 10, 401),
        torch.tensor([0.0, -0.0, 1e-6, -1e-6, 1e-30, -30.0, 30.0, -90.0, 90.0, -200.0, 200.0]),
        r(200, lo=-4, hi=4),
    ])
    up = r(x.numel(), lo=-2, hi=2)
    tensors = {
        "x": x, "up": up,
        "gelu": F.gelu(x), "gelu_tanh": F.gelu(x, approximate="tanh"),
        "quick_gelu": x * torch.sigmoid(1.702 * x), "silu": F.silu(x), "sigmoid": torch.sigmoid(x),
        "silu_gated": F.silu(x) * up, "gelu_gated": F.gelu(x) * up,
        "gelu_tanh_gated": F.gelu(x, approximate="tanh") * up,
    }
    save_fixture("MGTensor", "pw_activation_small", tensors, tolerance=1e-5)

    # Realistic: the CLIP ViT-L MLP width; range [-6, 6] covers both tails of the activations.
    x = det_uniform(41, (577, 4096), -6.0, 6.0)
    meta = dict(shape_in=[577, 4096], seed=41, low=-6.0, high=6.0, tolerance=1e-5)
    _sampled("pw_gelu_large", F.gelu(x), **meta)
    _sampled("pw_gelu_tanh_large", F.gelu(x, approximate="tanh"), **meta)
    up = det_uniform(42, (577, 4096))
    _sampled("pw_silu_gated_large", F.silu(x) * up, up_seed=42, **meta)


def softmax_goldens():
    r = _gen(23)
    tensors = {}
    x = r(3, 7, lo=-5, hi=5)
    x[1, 2] = -float("inf")
    x[2, :] = torch.tensor([1000.0, 999.0, -1000.0, 0.0, 998.5, 1000.0, -5.0])
    tensors["last.x"], tensors["last.out"] = x, torch.softmax(x, dim=-1)
    x = r(2, 5, 3, lo=-5, hi=5)
    tensors["mid.x"], tensors["mid.out"] = x, torch.softmax(x, dim=1)
    x = r(4, 3, 2, lo=-5, hi=5)
    tensors["first.x"], tensors["first.out"] = x, torch.softmax(x, dim=0)
    x = r(2, 3, 37, lo=-5, hi=5)
    tensors["tail.x"], tensors["tail.out"] = x, torch.softmax(x, dim=-1)
    save_fixture("MGTensor", "pw_softmax_small", tensors, tolerance=1e-5)

    # Realistic: ViT-L attention scores (16 heads × 577 × 577) and a non-last axis.
    x = det_uniform(51, (16, 577, 577), -8.0, 8.0)
    _sampled("pw_softmax_large", torch.softmax(x, dim=-1), shape_in=[16, 577, 577], seed=51, low=-8.0, high=8.0,
             axis=-1, tolerance=1e-5)
    x = det_uniform(52, (4, 300, 333), -8.0, 8.0)
    _sampled("pw_softmax_axis1", torch.softmax(x, dim=1), shape_in=[4, 300, 333], seed=52, low=-8.0, high=8.0,
             axis=1, tolerance=1e-5)


def _layer_norm_2d(x, w, b, eps):
    """timm's LayerNorm2d: permute to channels-last, layer_norm over C, permute back."""
    c = x.shape[1]
    return F.layer_norm(x.permute(0, 2, 3, 1), (c,), w, b, eps).permute(0, 3, 1, 2)


def norm_goldens():
    r = _gen(24)
    t = {}
    x, w, b = r(4, 10, lo=-3, hi=5), r(10), r(10)
    t["ln.x"], t["ln.w"], t["ln.b"], t["ln.out"] = x, w, b, F.layer_norm(x, (10,), w, b, 1e-5)
    x = r(3, 2, 7)
    t["ln_plain.x"], t["ln_plain.out"] = x, F.layer_norm(x, (7,), None, None, 1e-6)
    x, w, b = r(2, 5, 3, 4, lo=-2, hi=3), r(5), r(5)
    t["ln2d.x"], t["ln2d.w"], t["ln2d.b"], t["ln2d.out"] = x, w, b, _layer_norm_2d(x, w, b, 1e-6)
    x, w = r(3, 16, lo=-4, hi=4), r(16)
    gemma, llama = GemmaRMSNorm(16, eps=1e-6), LlamaRMSNorm(16, eps=1e-6)
    with torch.no_grad():
        gemma.weight.copy_(w)
        llama.weight.copy_(w)
        t["rms.x"], t["rms.w"], t["rms.gemma"], t["rms.llama"] = x, w, gemma(x), llama(x)
    save_fixture("MGTensor", "pw_norm_small", t, tolerance=1e-5)

    # Realistic: CLIP ViT-L tokens, ConvNeXt stage-1 channels-last rows, ConvNeXt LayerNorm2d, Gemma-2B.
    x, w, b = det_uniform(61, (577, 1024), -2.0, 3.0), det_uniform(62, (1024,)), det_uniform(63, (1024,))
    _sampled("pw_ln_large", F.layer_norm(x, (1024,), w, b, 1e-5), shape_in=[577, 1024], seeds=[61, 62, 63],
             low=-2.0, high=3.0, eps=1e-5, tolerance=1e-5)
    x, w, b = det_uniform(64, (36864, 192), -2.0, 3.0), det_uniform(65, (192,)), det_uniform(66, (192,))
    _sampled("pw_ln_convnext", F.layer_norm(x, (192,), w, b, 1e-6), shape_in=[36864, 192], seeds=[64, 65, 66],
             low=-2.0, high=3.0, eps=1e-6, tolerance=1e-5)
    x, w, b = det_uniform(67, (1, 192, 192, 192), -2.0, 3.0), det_uniform(68, (192,)), det_uniform(69, (192,))
    _sampled("pw_ln2d_large", _layer_norm_2d(x, w, b, 1e-6), shape_in=[1, 192, 192, 192], seeds=[67, 68, 69],
             low=-2.0, high=3.0, eps=1e-6, tolerance=1e-5)
    x, w = det_uniform(70, (577, 2048), -4.0, 4.0), det_uniform(71, (2048,))
    gemma = GemmaRMSNorm(2048, eps=1e-6)
    with torch.no_grad():
        gemma.weight.copy_(w)
        out = gemma(x)
    _sampled("pw_rms_large", out, shape_in=[577, 2048], seeds=[70, 71], low=-4.0, high=4.0, eps=1e-6, tolerance=1e-5)


def reduction_goldens():
    t = {}
    x = torch.tensor([[1.0, 3.0, 3.0, 2.0], [-1.0, -1.0, -5.0, -2.0], [0.0, float("nan"), 9.0, float("nan")],
                      [-float("inf"), -float("inf"), -float("inf"), -float("inf")]])
    t["argmax.x"] = x
    t["argmax.last"] = torch.argmax(x, dim=-1)
    t["argmax.first"] = torch.argmax(x[:2], dim=0)
    r = _gen(25)
    x = torch.randperm(3 * 50, generator=torch.Generator().manual_seed(3)).float().reshape(3, 50) / 7 - 10
    values, indices = torch.topk(x, 5, dim=-1)
    t["topk.x"], t["topk.values"], t["topk.indices"] = x, values, indices
    y = r(20, 3)
    values, indices = torch.topk(y, 4, dim=0)
    t["topk0.x"], t["topk0.values"], t["topk0.indices"] = y, values, indices
    t["argmax0.out"] = torch.argmax(y, dim=0)
    # Realistic: Gemma's 256 000-entry vocabulary; det_uniform has ties, so check the top is tie-free.
    logits = det_uniform(82, (256000,), -20.0, 20.0)
    values, indices = torch.topk(logits, 41)
    assert len(set(values.tolist())) == 41, "ties among the top values"
    t["vocab.values"], t["vocab.indices"] = values[:40], indices[:40]
    t["vocab.argmax"] = torch.argmax(logits).reshape(1)
    save_fixture("MGTensor", "pw_reduce", t, vocab_seed=82, vocab_low=-20.0, vocab_high=20.0, tolerance=0.0)


def _rope_reference(x, positions, theta):
    dim = x.shape[-1]
    config = LlamaConfig(hidden_size=dim * x.shape[1], num_attention_heads=x.shape[1], head_dim=dim,
                         rope_theta=theta, max_position_embeddings=8192)
    rotary = LlamaRotaryEmbedding(config)
    position_ids = positions.reshape(1, -1)
    cos, sin = rotary(x, position_ids)
    out, _ = apply_rotary_pos_emb(x, x, cos, sin)
    return out, cos[0], sin[0], rotary.inv_freq


def rope_goldens():
    t = {}
    x = _gen(26)(1, 2, 5, 64)
    positions = torch.arange(5)
    out, cos, sin, inv = _rope_reference(x, positions, 10000.0)
    t["small.x"], t["small.positions"], t["small.out"], t["small.inv_freq"] = x, positions, out, inv
    save_fixture("MGTensor", "pw_rope_small", t, theta=10000.0, tolerance=1e-5)

    cases = [
        ("pw_rope_d64", (1, 2, 4096, 64), torch.arange(4096), 10000.0, 91),
        ("pw_rope_d128", (1, 4, 300, 128), torch.arange(3700, 4000), 500000.0, 92),
        ("pw_rope_d256", (1, 8, 128, 256), torch.arange(3968, 4096), 10000.0, 93),
    ]
    for name, shape, positions, theta, seed in cases:
        x = det_uniform(seed, shape)
        out, cos, sin, inv = _rope_reference(x, positions, theta)
        half = shape[-1] // 2
        flat_cos = cos[:, :half].reshape(-1)
        idx = sample_indices(flat_cos.numel(), SAMPLES)
        flat = out.reshape(-1)
        out_idx = sample_indices(flat.numel(), SAMPLES)
        save_fixture("MGTensor", name, {
            "indices": out_idx, "expected": flat[out_idx], "positions": positions, "inv_freq": inv,
            "table_indices": idx, "cos": flat_cos[idx], "sin": sin[:, :half].reshape(-1)[idx],
        }, shape=list(shape), seed=seed, theta=theta, tolerance=1e-5)


def generate():
    binary_goldens()
    activation_goldens()
    softmax_goldens()
    norm_goldens()
    reduction_goldens()
    rope_goldens()
