"""Writes an MGM-2B-shaped checkpoint with random BF16 weights, laid out like the release, for
timing the whole pipeline at real size (`Scripts/bench-e2e.sh`).

  <out>/MGM-2B/                     config.json (Gemma-2B + MGM fields), 2 safetensors shards + index,
                                    the tiny fixture tokenizer (ids stay far below the 256000 vocab)
  <out>/model_zoo/OpenAI/clip-vit-large-patch14-336/          config.json, preprocessor_config.json
                                    (the weights are the copy inside the MGM shards, as in the release)
  <out>/model_zoo/OpenAI/openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup/
                                    open_clip_config.json, open_clip_model.safetensors (F32, like LAION)

Usage: python3 Tools/bench/mgm2b_random_checkpoint.py OUT_DIR
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

HIDDEN, INTER, LAYERS, HEADS, KV, HEAD_DIM, VOCAB = 2048, 16384, 18, 8, 1, 256, 256000
CLIP_H, CLIP_I, CLIP_L, CLIP_TOKENS = 1024, 4096, 24, 577
DEPTHS, WIDTHS = (3, 3, 27, 3), (192, 384, 768, 1536)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "Tests/MGPipelineTests/Fixtures/Checkpoints/MGM-2B-tiny")

generator = torch.Generator().manual_seed(0)


def weight(*shape, dtype=torch.bfloat16):
    fan_in = 1
    for d in shape[1:]:
        fan_in *= d
    return (torch.randn(shape, generator=generator) * max(fan_in, 1) ** -0.5).to(dtype)


def norm(size, dtype=torch.bfloat16):
    return (1 + 0.1 * torch.randn(size, generator=generator)).to(dtype)


def bias(size, dtype=torch.bfloat16):
    return (0.02 * torch.randn(size, generator=generator)).to(dtype)


def language_model():
    t = {"model.embed_tokens.weight": weight(VOCAB, HIDDEN), "model.norm.weight": norm(HIDDEN)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        t[p + "self_attn.q_proj.weight"] = weight(HEADS * HEAD_DIM, HIDDEN)
        t[p + "self_attn.k_proj.weight"] = weight(KV * HEAD_DIM, HIDDEN)
        t[p + "self_attn.v_proj.weight"] = weight(KV * HEAD_DIM, HIDDEN)
        t[p + "self_attn.o_proj.weight"] = weight(HIDDEN, HEADS * HEAD_DIM)
        t[p + "mlp.gate_proj.weight"] = weight(INTER, HIDDEN)
        t[p + "mlp.up_proj.weight"] = weight(INTER, HIDDEN)
        t[p + "mlp.down_proj.weight"] = weight(HIDDEN, INTER)
        t[p + "input_layernorm.weight"] = 0.1 * norm(HIDDEN)
        t[p + "post_attention_layernorm.weight"] = 0.1 * norm(HIDDEN)
    return t


def multimodal():
    t = {}
    c = "model.vision_tower.vision_tower.vision_model."
    t[c + "embeddings.class_embedding"] = bias(CLIP_H) * 10
    t[c + "embeddings.patch_embedding.weight"] = weight(CLIP_H, 3, 14, 14)
    t[c + "embeddings.position_embedding.weight"] = weight(CLIP_TOKENS, CLIP_H)
    for n in ("pre_layrnorm", "post_layernorm"):
        t[c + n + ".weight"], t[c + n + ".bias"] = norm(CLIP_H), bias(CLIP_H)
    for i in range(CLIP_L):
        p = c + f"encoder.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            t[p + f"self_attn.{proj}.weight"], t[p + f"self_attn.{proj}.bias"] = weight(CLIP_H, CLIP_H), bias(CLIP_H)
        t[p + "mlp.fc1.weight"], t[p + "mlp.fc1.bias"] = weight(CLIP_I, CLIP_H), bias(CLIP_I)
        t[p + "mlp.fc2.weight"], t[p + "mlp.fc2.bias"] = weight(CLIP_H, CLIP_I), bias(CLIP_H)
        for n in ("layer_norm1", "layer_norm2"):
            t[p + n + ".weight"], t[p + n + ".bias"] = norm(CLIP_H), bias(CLIP_H)
    aux = sum(WIDTHS)
    for name, width in (("query", CLIP_H), ("aux", aux), ("val", aux)):
        p = f"model.vlm_uni_{name}_projector."
        t[p + "0.weight"], t[p + "0.bias"] = norm(width), bias(width)
        t[p + "1.weight"], t[p + "1.bias"] = weight(CLIP_H, width), bias(CLIP_H)
    t["model.mm_projector.0.weight"], t["model.mm_projector.0.bias"] = weight(HIDDEN, CLIP_H), bias(HIDDEN)
    t["model.mm_projector.2.weight"], t["model.mm_projector.2.bias"] = weight(HIDDEN, HIDDEN), bias(HIDDEN)
    return t


def convnext():
    f32 = torch.float32
    t = {"visual.trunk.stem.0.weight": weight(WIDTHS[0], 3, 4, 4, dtype=f32), "visual.trunk.stem.0.bias": bias(WIDTHS[0], f32),
         "visual.trunk.stem.1.weight": norm(WIDTHS[0], f32), "visual.trunk.stem.1.bias": bias(WIDTHS[0], f32)}
    for s, (depth, width) in enumerate(zip(DEPTHS, WIDTHS)):
        p = f"visual.trunk.stages.{s}."
        if s > 0:
            t[p + "downsample.0.weight"], t[p + "downsample.0.bias"] = norm(WIDTHS[s - 1], f32), bias(WIDTHS[s - 1], f32)
            t[p + "downsample.1.weight"], t[p + "downsample.1.bias"] = weight(width, WIDTHS[s - 1], 2, 2, dtype=f32), bias(width, f32)
        for b in range(depth):
            q = p + f"blocks.{b}."
            t[q + "gamma"] = 0.1 * norm(width, f32)
            t[q + "conv_dw.weight"], t[q + "conv_dw.bias"] = weight(width, 1, 7, 7, dtype=f32), bias(width, f32)
            t[q + "norm.weight"], t[q + "norm.bias"] = norm(width, f32), bias(width, f32)
            t[q + "mlp.fc1.weight"], t[q + "mlp.fc1.bias"] = weight(4 * width, width, dtype=f32), bias(4 * width, f32)
            t[q + "mlp.fc2.weight"], t[q + "mlp.fc2.bias"] = weight(width, 4 * width, dtype=f32), bias(width, f32)
    return t


def main(out):
    zoo = os.path.join(out, "model_zoo", "OpenAI")
    clip_dir = os.path.join(zoo, "clip-vit-large-patch14-336")
    aux_dir = os.path.join(zoo, "openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup")
    model_dir = os.path.join(out, "MGM-2B")
    for d in (clip_dir, aux_dir, model_dir):
        os.makedirs(d, exist_ok=True)

    with open(os.path.join(clip_dir, "config.json"), "w") as f:
        json.dump({"model_type": "clip", "vision_config": {
            "hidden_size": CLIP_H, "intermediate_size": CLIP_I, "num_hidden_layers": CLIP_L, "num_attention_heads": 16,
            "image_size": 336, "patch_size": 14, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5}}, f)
    with open(os.path.join(clip_dir, "preprocessor_config.json"), "w") as f:
        json.dump({"crop_size": 336, "do_center_crop": True, "do_normalize": True, "do_resize": True,
                   "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
                   "resample": 3, "size": 336, "feature_extractor_type": "CLIPFeatureExtractor"}, f)
    with open(os.path.join(aux_dir, "open_clip_config.json"), "w") as f:
        json.dump({"model_cfg": {"embed_dim": 768, "vision_cfg": {"timm_model_name": "convnext_large", "image_size": 320}}}, f)
    save_file(convnext(), os.path.join(aux_dir, "open_clip_model.safetensors"))

    shards = [language_model(), multimodal()]
    weight_map = {}
    for index, tensors in enumerate(shards, start=1):
        name = f"model-{index:05d}-of-{len(shards):05d}.safetensors"
        save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(model_dir, name), metadata={"format": "pt"})
        weight_map.update({k: name for k in tensors})
    with open(os.path.join(model_dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)
    config = {
        "architectures": ["MGMGemmaForCausalLM"], "model_type": "mgm_gemma", "hidden_size": HIDDEN,
        "intermediate_size": INTER, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "num_key_value_heads": KV,
        "head_dim": HEAD_DIM, "vocab_size": VOCAB, "max_position_embeddings": 8192, "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0, "hidden_act": "gelu_pytorch_tanh", "hidden_activation": "gelu_pytorch_tanh",
        "tie_word_embeddings": True, "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0, "torch_dtype": "bfloat16",
        "mm_vision_tower": "model_zoo/OpenAI/clip-vit-large-patch14-336",
        "mm_vision_tower_aux": "model_zoo/OpenAI/openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup",
        "mm_hidden_size": CLIP_H, "mm_hidden_size_aux": sum(WIDTHS), "image_size_aux": 768, "image_grid": 1,
        "image_global": False, "mm_projector_type": "mlp2x_gelu", "mm_vision_select_layer": -2,
        "mm_vision_select_feature": "patch", "image_aspect_ratio": "pad", "mm_use_im_start_end": False,
        "mm_use_im_patch_token": False, "tokenizer_model_max_length": 2048, "use_mm_proj": True,
    }
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    for name in os.listdir(TINY):
        if name.startswith("tokenizer") or name == "special_tokens_map.json":
            shutil.copy(os.path.join(TINY, name), model_dir)
    print(model_dir)


if __name__ == "__main__":
    torch.set_num_threads(2)
    main(sys.argv[1])
