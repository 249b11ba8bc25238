#!/usr/bin/env python3
"""Export a Tools/train_scenes.py run in the layout of a released Mini-Gemini checkpoint.

    python3 Tools/export_scenes_model.py /work/scratch/scenes/full Models/MGM-Scenes
    python3 Tools/export_scenes_model.py /work/scratch/scenes/lr Models/MGM-Scenes-LR

Writes, next to the checkpoint folder, the tower folders its config.json names (resolved, as
released models expect, relative to a parent folder holding `model_zoo/`):
- <out>/config.json, model.safetensors (+ model.safetensors.index.json), tokenizer.model,
  tokenizer_config.json, special_tokens_map.json — LLM, projector, mining modules and the copy of
  the CLIP tower under `model.vision_tower.vision_tower.vision_model.`, as in MGM's shards;
- <parent>/model_zoo/OpenAI/clip-vit-scenes[-lr]-tiny-patch8-64/: a Hugging Face CLIP vision
  folder (config.json, preprocessor_config.json, model.safetensors with `vision_model.*`);
- <parent>/model_zoo/OpenAI/openclip-convnext-atto-scenes/ (full model only): OpenCLIP's
  open_clip_config.json (timm trunk `convnext_atto`) and open_clip_pytorch_model.bin with the
  trunk under `visual.trunk.*`, where MGM's loader takes the ConvNeXt weights from.
All weights are stored as float16.
"""
import argparse
import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenes"))

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

import model as M  # noqa: E402

DTYPE = torch.float16
CONVNEXT_DIR = "model_zoo/OpenAI/openclip-convnext-atto-scenes"


def clip_dir(lr_only):
    return "model_zoo/OpenAI/clip-vit-scenes-lr-tiny-patch8-64" if lr_only else "model_zoo/OpenAI/clip-vit-scenes-tiny-patch8-64"


def half(tensors):
    return {k: v.detach().to(DTYPE).contiguous() for k, v in tensors.items()}


def mgm_config(vocab_size, use_hr):
    llama = M.LLAMA_CONFIG
    config = {
        "_name_or_path": "MGM-Scenes" if use_hr else "MGM-Scenes-LR",
        "architectures": ["MGMLlamaForCausalLM"], "model_type": "mgm",
        "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": llama["bos_token_id"], "eos_token_id": llama["eos_token_id"], "pad_token_id": llama["pad_token_id"],
        "hidden_act": llama["hidden_act"], "hidden_size": llama["hidden_size"], "initializer_range": 0.02,
        "intermediate_size": llama["intermediate_size"], "max_position_embeddings": llama["max_position_embeddings"],
        "num_attention_heads": llama["num_attention_heads"], "num_hidden_layers": llama["num_hidden_layers"],
        "num_key_value_heads": llama["num_key_value_heads"], "pretraining_tp": 1, "rms_norm_eps": llama["rms_norm_eps"],
        "rope_scaling": None, "rope_theta": 10000.0, "tie_word_embeddings": False, "torch_dtype": "float16",
        "transformers_version": "4.36.2", "use_cache": True, "vocab_size": vocab_size,
        # Multimodal fields (mgm/model/mgm_arch.py, mgm/train/train.py).
        "freeze_mm_mlp_adapter": False, "image_aspect_ratio": "pad", "image_global": False, "image_grid": 1,
        "image_grid_pinpoints": None, "image_size_aux": M.IMAGE_SIZE_AUX,
        "mm_hidden_size": M.CLIP_CONFIG["hidden_size"], "mm_hidden_size_aux": 600 if use_hr else None,
        "mm_projector_lr": None, "mm_projector_type": "mlp2x_gelu", "mm_use_im_patch_token": False,
        "mm_use_im_start_end": False, "mm_vision_select_feature": "patch", "mm_vision_select_layer": -2,
        "mm_vision_tower": clip_dir(not use_hr), "mm_vision_tower_aux": CONVNEXT_DIR if use_hr else None,
        "optimize_vision_tower": False, "optimize_vision_tower_aux": False,
        "tokenizer_model_max_length": llama["max_position_embeddings"], "tokenizer_padding_side": "right",
        "tune_mm_mlp_adapter": False, "use_mm_proj": True,
    }
    return config


def tokenizer_files(out, tokenizer_model, max_length):
    shutil.copyfile(tokenizer_model, os.path.join(out, "tokenizer.model"))
    added = {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                      "special": True} for i, t in enumerate(("<unk>", "<s>", "</s>"))}
    config = {"add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": added, "bos_token": "<s>",
              "clean_up_tokenization_spaces": False, "eos_token": "</s>", "legacy": False,
              "model_max_length": max_length, "pad_token": None, "padding_side": "right", "sp_model_kwargs": {},
              "tokenizer_class": "LlamaTokenizer", "unk_token": "<unk>"}
    write_json(os.path.join(out, "tokenizer_config.json"), config)
    write_json(os.path.join(out, "special_tokens_map.json"),
               {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<unk>", "unk_token": "<unk>"})


def write_json(path, value):
    with open(path, "w") as handle:
        json.dump(value, handle, indent=2)
        handle.write("\n")


def export(run, out):
    checkpoint = torch.load(os.path.join(run, "checkpoint.pt"), map_location="cpu", weights_only=False)
    use_hr, vocab = checkpoint["use_hr"], checkpoint["vocab_size"]
    model = M.TinyMGM(vocab, use_hr=use_hr)
    model.load_state_dict(checkpoint["state_dict"])
    out = os.path.abspath(out)
    root = os.path.dirname(out)
    os.makedirs(out, exist_ok=True)

    # transformers 5 names CLIPVisionModel's tensors without the `vision_model.` level that the
    # openai files and MGM's shards (saved with transformers 4.x) have; write the release names.
    clip = {(k if k.startswith("vision_model.") else "vision_model." + k): v
            for k, v in model.clip.state_dict().items() if not k.endswith("position_ids")}
    shards = {}
    for key, value in model.llm.state_dict().items():
        shards[key] = value  # model.embed_tokens…, model.layers…, model.norm, lm_head
    for index in (0, 2):
        for name, value in model.mm_projector[index].state_dict().items():
            shards[f"model.mm_projector.{index}.{name}"] = value
    if use_hr:
        for module in ("vlm_uni_query_projector", "vlm_uni_aux_projector", "vlm_uni_val_projector"):
            for name, value in getattr(model, module).state_dict().items():
                shards[f"model.{module}.{name}"] = value
    for name, value in clip.items():
        shards["model.vision_tower.vision_tower." + name] = value
    shards = half(shards)
    save_file(shards, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    total = sum(v.numel() * v.element_size() for v in shards.values())
    write_json(os.path.join(out, "model.safetensors.index.json"),
               {"metadata": {"total_size": total}, "weight_map": {k: "model.safetensors" for k in sorted(shards)}})
    write_json(os.path.join(out, "config.json"), mgm_config(vocab, use_hr))
    tokenizer_files(out, os.path.join(run, "tokenizer.model"), M.LLAMA_CONFIG["max_position_embeddings"])

    clip_out = os.path.join(root, clip_dir(not use_hr))
    os.makedirs(clip_out, exist_ok=True)
    save_file(half(clip), os.path.join(clip_out, "model.safetensors"), metadata={"format": "pt"})
    clip_config = dict(M.CLIP_CONFIG, architectures=["CLIPVisionModel"], model_type="clip_vision_model",
                       attention_dropout=0.0, initializer_factor=1.0, initializer_range=0.02,
                       torch_dtype="float16", transformers_version="4.36.2")
    write_json(os.path.join(clip_out, "config.json"), clip_config)
    size = M.IMAGE_SIZE
    write_json(os.path.join(clip_out, "preprocessor_config.json"), {
        "crop_size": {"height": size, "width": size}, "do_center_crop": True, "do_convert_rgb": True,
        "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": list(M.MEAN),
        "image_processor_type": "CLIPImageProcessor", "image_std": list(M.STD), "resample": 3,
        "rescale_factor": 1 / 255, "size": {"shortest_edge": size}})

    if use_hr:
        aux_out = os.path.join(root, CONVNEXT_DIR)
        os.makedirs(aux_out, exist_ok=True)
        trunk = {"visual.trunk.stem." + k: v for k, v in model.vision_stem.state_dict().items()}
        trunk.update({"visual.trunk.stages." + k: v for k, v in model.vision_stages.state_dict().items()})
        torch.save(half(trunk), os.path.join(aux_out, "open_clip_pytorch_model.bin"))
        write_json(os.path.join(aux_out, "open_clip_config.json"), {
            "model_cfg": {"embed_dim": M.CLIP_CONFIG["hidden_size"],
                          "vision_cfg": {"timm_model_name": M.CONVNEXT, "timm_model_pretrained": False,
                                         "timm_pool": "", "timm_proj": "linear", "timm_drop": 0.0,
                                         "timm_drop_path": 0.0, "image_size": M.IMAGE_SIZE_AUX},
                          "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 128, "heads": 2,
                                       "layers": 1}},
            "preprocess_cfg": {"mean": list(M.MEAN), "std": list(M.STD), "interpolation": "bicubic",
                               "resize_mode": "shortest"}})
    minutes = sum(record.get("minutes", record.get("seconds", 0) / 60) for record in checkpoint.get("history", []))
    print(f"exported {run} → {out} ({minutes:.1f} CPU-minutes of training recorded)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="output folder of Tools/train_scenes.py")
    parser.add_argument("out", help="checkpoint folder, e.g. Models/MGM-Scenes")
    args = parser.parse_args()
    export(args.run, args.out)


if __name__ == "__main__":
    main()
