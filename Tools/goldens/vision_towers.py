"""Vision tower goldens: tiny random-weight versions of Mini-Gemini's two towers.

- CLIP: transformers `CLIPVisionModel` (the class MGM's clip_encoder.py loads), every hidden state
  of a 4-layer model so the Swift tests can check any `mm_vision_select_layer`.
- ConvNeXt: the timm `ConvNeXt` trunk OpenCLIP builds, run as MGM's OpenCLIPVisionTower does
  (stem, stages, bilinear resize of stages 1-3 to stage 0, concat), in eval mode.

Weights are stored with their real checkpoint key names (`vision_model.*`, `visual.trunk.*`), so the
fixtures also pin the key layouts. A second set of expected outputs uses the same weights rounded to
bfloat16 (computed in float32), which the Swift tests feed as BF16 tensors.
"""
import numpy as np
import torch
import torch.nn.functional as F

from . import common
from .common import det_uniform

CLIP_CONFIG = dict(
    hidden_size=32, intermediate_size=80, num_hidden_layers=4, num_attention_heads=4, num_channels=3,
    image_size=56, patch_size=14, layer_norm_eps=1e-5, hidden_act="quick_gelu")
CONVNEXT_DEPTHS = (1, 1, 2, 1)
CONVNEXT_WIDTHS = (16, 24, 32, 48)


def randomize(module, seed):
    """Replaces every parameter with well-scaled random values (norm scales near 1, small biases,
    weights ~ fan_in^-1/2), so each one visibly affects the output; ConvNeXt's gamma (1e-6 at
    init) would otherwise hide the blocks."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            is_norm = "norm" in name or "layrnorm" in name or (name.startswith("stem.1") or ".downsample.0." in name)
            if leaf == "gamma":
                values = 0.5 + torch.rand(parameter.shape, generator=generator)
            elif is_norm and leaf == "weight":
                values = 0.5 + torch.rand(parameter.shape, generator=generator)
            elif leaf == "bias":
                values = 0.2 * (torch.rand(parameter.shape, generator=generator) - 0.5)
            elif parameter.dim() <= 2 and "embedding" in name:
                values = 0.5 * torch.randn(parameter.shape, generator=generator)
            else:
                fan_in = parameter[0].numel()
                values = torch.randn(parameter.shape, generator=generator) * fan_in ** -0.5
            parameter.copy_(values)
    return module


def bf16_rounded(module):
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(parameter.bfloat16().float())
    return module


def clip_goldens():
    from transformers import CLIPVisionConfig, CLIPVisionModel

    config = CLIPVisionConfig(**CLIP_CONFIG)
    model = randomize(CLIPVisionModel(config), seed=7).eval()
    pixels = det_uniform(301, [2, 3, 56, 56], -2.0, 2.0)
    with torch.no_grad():
        states = torch.stack(model(pixel_values=pixels, output_hidden_states=True).hidden_states)  # [L+1, N, T, C]
    # transformers 5 names the bare vision model's tensors without the `vision_model.` prefix that the
    # released CLIP checkpoints (full CLIPModel state dicts) carry; store them as released.
    weights = {key if key.startswith("vision_model.") else f"vision_model.{key}": value
               for key, value in model.state_dict().items()}
    rounded = bf16_rounded(randomize(CLIPVisionModel(config), seed=7)).eval()
    with torch.no_grad():
        states_bf16 = rounded(pixel_values=pixels, output_hidden_states=True).hidden_states[-2]
    common.save_fixture(
        "MGVision", "tw_clip_tiny",
        {**weights, "expected.hidden_states": states, "expected.bf16_select_m2": states_bf16},
        config=CLIP_CONFIG, pixels_seed=301, tolerance=1e-4,
        reference="transformers CLIPVisionModel, output_hidden_states=True; hidden_states stacked")


def mgm_convnext_backbone(trunk, pixels):
    """OpenCLIPVisionTower.backbone of MGM (openclip_encoder.py), on the timm trunk."""
    x = trunk.stem(pixels)
    stages = []
    for stage in trunk.stages:
        x = stage(x)
        stages.append(x)
    size = stages[0].shape[-2:]
    fused = torch.cat([stages[0]] + [F.interpolate(s, size=size, mode="bilinear", align_corners=False) for s in stages[1:]], 1)
    return stages, fused


def convnext_goldens():
    from timm.models.convnext import ConvNeXt

    def build():
        # drop_path_rate as OpenCLIP configures it; eval() turns it off (MGM's serving code does not).
        trunk = ConvNeXt(depths=CONVNEXT_DEPTHS, dims=CONVNEXT_WIDTHS, num_classes=0, drop_path_rate=0.1)
        return randomize(trunk, seed=11).eval()

    trunk = build()
    pixels = det_uniform(401, [2, 3, 64, 64], -2.0, 2.0)
    wide = det_uniform(402, [1, 3, 64, 96], -2.0, 2.0)
    with torch.no_grad():
        stages, fused = mgm_convnext_backbone(trunk, pixels)
        _, fused_wide = mgm_convnext_backbone(trunk, wide)
        _, fused_bf16 = mgm_convnext_backbone(bf16_rounded(build()), pixels)
    weights = {f"visual.trunk.{key}": value for key, value in trunk.state_dict().items()
               if key.startswith("stem.") or key.startswith("stages.")}
    # The head's norm is in every OpenCLIP file; the tower must ignore it (it only reads stem/stages).
    weights["visual.trunk.head.norm.weight"] = torch.ones(CONVNEXT_WIDTHS[-1])
    fused_index = common.sample_indices(fused.numel(), samples=2048)
    wide_index = common.sample_indices(fused_wide.numel(), samples=2048, seed=77)
    tensors = {**weights,
               "expected.fused_indices": fused_index, "expected.fused_values": fused.flatten()[fused_index],
               "expected.wide_indices": wide_index, "expected.wide_values": fused_wide.flatten()[wide_index],
               "expected.bf16_fused_values": fused_bf16.flatten()[fused_index]}
    for index, stage in enumerate(stages):
        tensors[f"expected.stage{index}"] = stage
    common.save_fixture(
        "MGVision", "tw_convnext_tiny", tensors,
        depths=list(CONVNEXT_DEPTHS), widths=list(CONVNEXT_WIDTHS), pixels_seed=401, wide_seed=402, tolerance=1e-4,
        reference="timm ConvNeXt trunk in eval mode + MGM OpenCLIPVisionTower.backbone fusion")


def real_size_weights(shapes, seed):
    """Mirrors `ConvNeXtCLIPRealSizeTests.randomStore` (Swift) bit-exactly: tensor k uses seed + k."""
    tensors = {}
    for offset, (name, shape) in enumerate(shapes):
        if name.endswith("gamma"):
            low, high = 0.0625, 0.1875
        elif len(shape) == 1:
            low, high = (0.5, 1.5) if name.endswith(".weight") else (-0.125, 0.125)
        else:
            fan_in = int(np.prod(shape[1:]))
            bound = float(np.sqrt(np.float32(3) / np.float32(fan_in)))
            low, high = -bound, bound
        tensors[name] = det_uniform(seed + offset, shape, low, high)
    return tensors


def real_clip_shapes(layers=24, h=1024, i=4096, patch=14, tokens=577):
    p = "vision_model."
    shapes = [(p + "embeddings.patch_embedding.weight", [h, 3, patch, patch]), (p + "embeddings.class_embedding", [h]),
              (p + "embeddings.position_embedding.weight", [tokens, h]),
              (p + "pre_layrnorm.weight", [h]), (p + "pre_layrnorm.bias", [h])]
    for layer in range(layers):
        q = f"{p}encoder.layers.{layer}."
        for norm in ("layer_norm1", "layer_norm2"):
            shapes += [(q + norm + ".weight", [h]), (q + norm + ".bias", [h])]
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            shapes += [(q + f"self_attn.{proj}.weight", [h, h]), (q + f"self_attn.{proj}.bias", [h])]
        shapes += [(q + "mlp.fc1.weight", [i, h]), (q + "mlp.fc1.bias", [i]), (q + "mlp.fc2.weight", [h, i]),
                   (q + "mlp.fc2.bias", [h])]
    return shapes


def real_convnext_shapes(depths=(3, 3, 27, 3), widths=(192, 384, 768, 1536)):
    p = "visual.trunk."
    shapes = [(p + "stem.0.weight", [widths[0], 3, 4, 4]), (p + "stem.0.bias", [widths[0]]),
              (p + "stem.1.weight", [widths[0]]), (p + "stem.1.bias", [widths[0]])]
    for s, width in enumerate(widths):
        q = f"{p}stages.{s}."
        if s > 0:
            previous = widths[s - 1]
            shapes += [(q + "downsample.0.weight", [previous]), (q + "downsample.0.bias", [previous]),
                       (q + "downsample.1.weight", [width, previous, 2, 2]), (q + "downsample.1.bias", [width])]
        for b in range(depths[s]):
            r = f"{q}blocks.{b}."
            shapes += [(r + "conv_dw.weight", [width, 1, 7, 7]), (r + "conv_dw.bias", [width]),
                       (r + "norm.weight", [width]), (r + "norm.bias", [width]),
                       (r + "mlp.fc1.weight", [4 * width, width]), (r + "mlp.fc1.bias", [4 * width]),
                       (r + "mlp.fc2.weight", [width, 4 * width]), (r + "mlp.fc2.bias", [width]), (r + "gamma", [width])]
    return shapes


def real_size_goldens():
    """ViT-L/14-336 and ConvNeXt-L at 768 with deterministic weights the Swift test regenerates;
    only sampled outputs are stored (the release-only real-size tests compare against them)."""
    from timm.models.convnext import ConvNeXt
    from transformers import CLIPVisionConfig, CLIPVisionModel

    torch.set_num_threads(2)
    config = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                              image_size=336, patch_size=14, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    clip = CLIPVisionModel(config).eval()
    weights = {k[len("vision_model."):]: v for k, v in real_size_weights(real_clip_shapes(), 1000).items()}
    missing, unexpected = clip.load_state_dict(weights, strict=False)
    assert not unexpected and all(k.startswith("post_layernorm") for k in missing), (missing, unexpected)
    pixels = det_uniform(5, [1, 3, 336, 336], -2.0, 2.0)
    with torch.no_grad():
        tokens = clip(pixel_values=pixels, output_hidden_states=True).hidden_states[-2][:, 1:]
    index = common.sample_indices(tokens.numel())
    common.save_fixture("MGVision", "tw_clip_large", {"indices": index, "values": tokens.flatten()[index]},
                        weights_seed=1000, pixels_seed=5, tolerance=1e-4,
                        reference="transformers CLIPVisionModel ViT-L/14-336, hidden_states[-2] without CLS")
    del clip, weights

    trunk = ConvNeXt(depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536), num_classes=0).eval()
    weights = {k[len("visual.trunk."):]: v for k, v in real_size_weights(real_convnext_shapes(), 2000).items()}
    missing, unexpected = trunk.load_state_dict(weights, strict=False)
    assert not unexpected and all(k.startswith("head") for k in missing), (missing, unexpected)
    pixels = det_uniform(6, [1, 3, 768, 768], -2.0, 2.0)
    with torch.no_grad():
        stages, fused = mgm_convnext_backbone(trunk, pixels)
    tensors = {}
    for number, stage in enumerate(stages):
        stage_index = common.sample_indices(stage.numel(), samples=2048, seed=100 + number)
        tensors[f"stage{number}_indices"] = stage_index
        tensors[f"stage{number}_values"] = stage.flatten()[stage_index]
    fused_index = common.sample_indices(fused.numel())
    tensors.update({"fused_indices": fused_index, "fused_values": fused.flatten()[fused_index]})
    common.save_fixture("MGVision", "tw_convnext_large", tensors, weights_seed=2000, pixels_seed=6, tolerance=1e-4,
                        reference="timm ConvNeXt-L trunk (eval) at 768 + MGM backbone fusion")


def generate():
    common.seed_everything(0)
    clip_goldens()
    convnext_goldens()
    real_size_goldens()
