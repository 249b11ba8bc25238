"""Patch info mining goldens: the official `unified_resampler` (mgm/model/mgm_arch.py) re-stated in
PyTorch step by step, plus the HD split/global path of `encode_images`.

All weights and inputs come from `det_uniform`, so the Swift tests regenerate them bit-exactly and
the fixtures hold only configuration and outputs.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import common
from .common import det_uniform


def projector(seed, dim_in, dim_out, w_scale):
    """nn.Sequential(LayerNorm(dim_in), Linear(dim_in, dim_out)) with deterministic parameters."""
    module = nn.Sequential(nn.LayerNorm(dim_in), nn.Linear(dim_in, dim_out))
    with torch.no_grad():
        module[0].weight.copy_(det_uniform(seed, [dim_in], 0.5, 1.5))
        module[0].bias.copy_(det_uniform(seed + 1, [dim_in], -0.5, 0.5))
        module[1].weight.copy_(det_uniform(seed + 2, [dim_out, dim_in], -w_scale, w_scale))
        module[1].bias.copy_(det_uniform(seed + 3, [dim_out], -0.125, 0.125))
    return module.eval()


def unified_resampler(q_proj, k_proj, v_proj, images, images_aux):
    # Step by step as the official method: regroup the aux map into per-token M×M blocks, project,
    # scaled dot product over each block, nan_to_num, softmax, weighted sum, mean over the query axis.
    patch_num = int(images.shape[1] ** 0.5)
    patch_size = images_aux.shape[-1] // patch_num
    aux = images_aux.permute(0, 2, 3, 1)
    aux = aux.reshape(len(aux), patch_num, patch_size, patch_num, patch_size, aux.shape[-1])
    aux = aux.permute(0, 1, 3, 2, 4, 5)
    aux = aux.reshape(len(aux), patch_num ** 2, patch_size ** 2, aux.shape[-1]).contiguous()
    query = q_proj(images)
    key = k_proj(aux)
    value = v_proj(aux)
    logits = query[:, :, None] @ (key.transpose(-1, -2) / (key.shape[-1] ** 0.5))
    logits = logits.nan_to_num()
    mined = (logits.softmax(-1) @ value).mean(2)
    return mined, logits


def case(name, tokens_side, block, dim, dim_aux, batch, seed):
    w_scale_q = 2.0 ** -5
    w_scale_a = 2.0 ** -6
    q_proj = projector(seed + 10, dim, dim, w_scale_q)
    k_proj = projector(seed + 20, dim_aux, dim, w_scale_a)
    v_proj = projector(seed + 30, dim_aux, dim, w_scale_a)
    side = tokens_side * block
    tokens = det_uniform(seed, [batch, tokens_side ** 2, dim], -2.0, 2.0)
    aux = det_uniform(seed + 1, [batch, dim_aux, side, side], -2.0, 2.0)
    with torch.no_grad():
        mined, logits = unified_resampler(q_proj, k_proj, v_proj, tokens, aux)
    indices = common.sample_indices(mined.numel())
    sampled_logits = common.sample_indices(logits.numel(), samples=2048, seed=99)
    common.save_fixture(
        "MGMining", name,
        {"mined_indices": indices, "mined_values": mined.flatten()[indices],
         "logits_indices": sampled_logits, "logits_values": logits.flatten()[sampled_logits]},
        config={"tokens_side": tokens_side, "block": block, "dim": dim, "dim_aux": dim_aux,
                "batch": batch, "seed": seed, "w_scale_q": w_scale_q, "w_scale_aux": w_scale_a},
        tolerance={"mined": 1e-4, "logits": 1e-5})


def hd_case(seed=500):
    """HD: aux map of twice the size, split into 2×2 quadrants + global (scale_factor 1/2)."""
    tokens_side, block, dim, dim_aux = 4, 4, 32, 48
    q_proj = projector(seed + 10, dim, dim, 2.0 ** -5)
    k_proj = projector(seed + 20, dim_aux, dim, 2.0 ** -6)
    v_proj = projector(seed + 30, dim_aux, dim, 2.0 ** -6)
    side = tokens_side * block * 2
    local_tokens = det_uniform(seed, [4, tokens_side ** 2, dim], -2.0, 2.0)
    global_tokens = det_uniform(seed + 2, [1, tokens_side ** 2, dim], -2.0, 2.0)
    aux = det_uniform(seed + 1, [1, dim_aux, side, side], -2.0, 2.0)
    with torch.no_grad():
        aux_global = F.interpolate(aux, scale_factor=0.5, mode="bilinear", align_corners=False)
        mined_global, _ = unified_resampler(q_proj, k_proj, v_proj, global_tokens, aux_global)
        grid = 2
        split = aux.reshape(1, dim_aux, grid, side // grid, grid, side // grid)
        split = split.permute(0, 2, 4, 1, 3, 5).flatten(1, 2).flatten(0, 1).contiguous()
        mined_local, _ = unified_resampler(q_proj, k_proj, v_proj, local_tokens, split)
        local = (local_tokens + mined_local).reshape(1, 4 * tokens_side ** 2, dim)
        fused = torch.cat([global_tokens + mined_global, local], dim=1)
    common.save_fixture(
        "MGMining", "mining_hd", {"fused": fused},
        config={"tokens_side": tokens_side, "block": block, "dim": dim, "dim_aux": dim_aux, "seed": seed},
        tolerance={"fused": 1e-4})


def projector_case(seed=700):
    """mm_projector `mlp2x_gelu`: Linear → GELU(erf) → Linear, as the official builder makes it."""
    dim_in, dim_out, rows = 64, 96, 10
    mlp = nn.Sequential(nn.Linear(dim_in, dim_out), nn.GELU(), nn.Linear(dim_out, dim_out))
    with torch.no_grad():
        mlp[0].weight.copy_(det_uniform(seed, [dim_out, dim_in], -0.125, 0.125))
        mlp[0].bias.copy_(det_uniform(seed + 1, [dim_out], -0.125, 0.125))
        mlp[2].weight.copy_(det_uniform(seed + 2, [dim_out, dim_out], -0.125, 0.125))
        mlp[2].bias.copy_(det_uniform(seed + 3, [dim_out], -0.125, 0.125))
        features = det_uniform(seed + 4, [1, rows, dim_in], -2.0, 2.0)
        projected = mlp(features)
    common.save_fixture(
        "MGMining", "projector_mlp2x_gelu",
        {"model.mm_projector.0.weight": mlp[0].weight, "model.mm_projector.0.bias": mlp[0].bias,
         "model.mm_projector.2.weight": mlp[2].weight, "model.mm_projector.2.bias": mlp[2].bias,
         "features": features, "projected": projected},
        tolerance={"projected": 1e-5})


def generate():
    case("mining_tiny", tokens_side=4, block=4, dim=32, dim_aux=48, batch=2, seed=100)
    case("mining_clip_convnext", tokens_side=6, block=8, dim=1024, dim_aux=2880, batch=1, seed=200)
    hd_case()
    projector_case()
