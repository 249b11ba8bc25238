"""Spatial and layout op goldens (fixtures `sp_*`): conv2d (general, grouped, depthwise, 1x1 and
patch convolutions), bilinear interpolation, permute/concat/slice and embedding.

Small cases store their inputs; realistic-size cases take inputs from `det_uniform` (the Swift
tests regenerate them bit-exactly) and store outputs at `sample_indices` positions only.
"""
import torch
import torch.nn.functional as F

from . import common
from .common import det_uniform, sample_indices

TARGET = "MGTensor"


def sampled(name, out, **meta):
    flat = out.reshape(-1)
    idx = sample_indices(flat.numel())
    common.save_fixture(TARGET, name, {"indices": idx, "expected": flat[idx]}, shape=list(out.shape), **meta)


def conv_small():
    # Grouped conv with asymmetric stride and padding; inputs stored.
    x = det_uniform(1, [2, 4, 9, 11])
    w = det_uniform(2, [6, 2, 3, 3], -0.5, 0.5)
    b = det_uniform(3, [6], -0.25, 0.25)
    y = F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), groups=2)
    common.save_fixture(TARGET, "sp_conv_small", {"input": x, "weight": w, "bias": b, "expected": y},
                        stride=[2, 1], padding=[1, 2], groups=2)
    # BF16 weight, no bias, general path (3x3 stride 1 padding 1).
    x = det_uniform(4, [1, 5, 8, 6])
    w = det_uniform(5, [7, 5, 3, 3], -0.5, 0.5).to(torch.bfloat16)
    y = F.conv2d(x, w.float(), None, stride=1, padding=1)
    common.save_fixture(TARGET, "sp_conv_bf16", {"input": x, "weight": w, "expected": y},
                        stride=[1, 1], padding=[1, 1], groups=1)
    # 1x1 pointwise with an F16 weight and bias.
    x = det_uniform(6, [2, 6, 5, 7])
    w = det_uniform(7, [5, 6, 1, 1], -0.5, 0.5).to(torch.float16)
    b = det_uniform(8, [5], -0.25, 0.25)
    y = F.conv2d(x, w.float(), b)
    common.save_fixture(TARGET, "sp_conv_pointwise", {"input": x, "weight": w, "bias": b, "expected": y},
                        stride=[1, 1], padding=[0, 0], groups=1)
    # Depthwise 7x7 (ConvNeXt block) and a strided depthwise 3x3.
    x = det_uniform(9, [2, 8, 10, 37])
    w = det_uniform(10, [8, 1, 7, 7], -0.5, 0.5)
    b = det_uniform(11, [8], -0.25, 0.25)
    y = F.conv2d(x, w, b, padding=3, groups=8)
    common.save_fixture(TARGET, "sp_conv_depthwise_small", {"input": x, "weight": w, "bias": b, "expected": y},
                        stride=[1, 1], padding=[3, 3], groups=8)
    x = det_uniform(12, [1, 4, 9, 10])
    w = det_uniform(13, [4, 1, 3, 3], -0.5, 0.5)
    y = F.conv2d(x, w, None, stride=2, padding=1, groups=4)
    common.save_fixture(TARGET, "sp_conv_depthwise_strided", {"input": x, "weight": w, "expected": y},
                        stride=[2, 2], padding=[1, 1], groups=4)


def conv_realistic():
    # Seeds: input s, weight s+1, bias s+2. Weight ranges keep outputs O(1).
    cases = [
        # name, input shape, weight shape, weight bound, bias, stride, padding, groups
        ("sp_conv_clip_patch", [1, 3, 336, 336], [1024, 3, 14, 14], 0.05, False, 14, 0, 1),
        ("sp_conv_convnext_stem", [1, 3, 768, 768], [192, 3, 4, 4], 0.2, True, 4, 0, 1),
        ("sp_conv_convnext_down", [1, 192, 48, 48], [384, 192, 2, 2], 0.05, True, 2, 0, 1),
        ("sp_conv_depthwise_96", [1, 192, 96, 96], [192, 1, 7, 7], 0.15, True, 1, 3, 192),
    ]
    for seed, (name, xs, ws, bound, has_bias, stride, pad, groups) in enumerate(cases, start=1):
        base = 100 + 10 * seed
        x = det_uniform(base, xs)
        w = det_uniform(base + 1, ws, -bound, bound)
        b = det_uniform(base + 2, [ws[0]], -0.25, 0.25) if has_bias else None
        y = F.conv2d(x, w, b, stride=stride, padding=pad, groups=groups)
        sampled(name, y, seed=base, input_shape=xs, weight_shape=ws, weight_bound=bound, bias=has_bias,
                stride=[stride, stride], padding=[pad, pad], groups=groups)


def bilinear():
    small = {}
    for i, (shape, size) in enumerate([([1, 3, 7, 9], (21, 5)), ([2, 2, 13, 11], (37, 40)),
                                       ([1, 2, 20, 30], (90, 70)), ([1, 1, 9, 9], (4, 5))]):
        x = det_uniform(200 + i, shape)
        small[f"input{i}"] = x
        small[f"expected{i}"] = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    common.save_fixture(TARGET, "sp_bilinear_small", small, count=4)

    # Model sizes (channels reduced): MGM's resizes of CLIP/ConvNeXt features and images.
    cases = [
        ("sp_bilinear_768_336", [1, 2, 768, 768], (336, 336)),
        ("sp_bilinear_1536_672", [1, 1, 1536, 1536], (672, 672)),
        ("sp_bilinear_672_336", [1, 2, 672, 672], (336, 336)),
        ("sp_bilinear_24_192", [1, 16, 24, 24], (192, 192)),
        ("sp_bilinear_48_192", [1, 8, 48, 48], (192, 192)),
        ("sp_bilinear_96_192", [1, 4, 96, 96], (192, 192)),
        ("sp_bilinear_384_192", [1, 2, 384, 384], (192, 192)),
        ("sp_bilinear_rect", [2, 3, 30, 50], (47, 129)),
    ]
    for i, (name, shape, size) in enumerate(cases):
        seed = 300 + i
        y = F.interpolate(det_uniform(seed, shape), size=size, mode="bilinear", align_corners=False)
        sampled(name, y, seed=seed, input_shape=shape, size=list(size))
    for i, (shape, factor) in enumerate([([1, 2, 384, 384], 0.5), ([1, 2, 301, 301], 0.3), ([1, 3, 61, 47], 2.5)]):
        seed = 400 + i
        y = F.interpolate(det_uniform(seed, shape), scale_factor=factor, mode="bilinear", align_corners=False)
        sampled(f"sp_bilinear_scale{i}", y, seed=seed, input_shape=shape, scale_factor=factor)


def layout():
    x = det_uniform(500, [2, 3, 4, 5])
    tensors = {"input": x}
    perms = [[0, 2, 3, 1], [0, 3, 1, 2], [3, 2, 1, 0], [1, 0, 2, 3], [0, 2, 1, 3], [2, 0, 3, 1]]
    for i, p in enumerate(perms):
        tensors[f"permute{i}"] = x.permute(*p).contiguous()
    parts = [det_uniform(510 + i, [1, c, 3, 4]) for i, c in enumerate([2, 1, 3, 2])]
    for i, p in enumerate(parts):
        tensors[f"part{i}"] = p
    tensors["concat1"] = torch.cat(parts, dim=1)
    tensors["concat3"] = torch.cat([p[:, :1] for p in parts], dim=3)
    img = det_uniform(520, [1, 3, 6, 8])
    tensors["image"] = img
    for qi, (r, c) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        tensors[f"quadrant{qi}"] = img[:, :, r * 3:(r + 1) * 3, c * 4:(c + 1) * 4].contiguous()
    common.save_fixture(TARGET, "sp_layout", tensors, perms=perms)


def embedding():
    ids = [0, 5, 49, 17, 17, 3]
    for dtype, name in [(torch.bfloat16, "bf16"), (torch.float16, "f16"), (torch.float32, "f32")]:
        table = det_uniform(600, [50, 16]).to(dtype)
        y = F.embedding(torch.tensor(ids), table).float()
        common.save_fixture(TARGET, f"sp_embedding_{name}", {"table": table, "expected": y}, ids=ids)


def generate():
    conv_small()
    conv_realistic()
    bilinear()
    layout()
    embedding()
