"""Tiny Mini-Gemini checkpoints laid out like the releases, and end-to-end goldens.

Writes under Tests/MGPipelineTests/Fixtures/:
- Checkpoints/model_zoo/OpenAI/clip-vit-large-patch14-336/  tiny CLIPModel (openai layout, fp32 .bin)
- Checkpoints/model_zoo/OpenAI/openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup/
  tiny OpenCLIP model with a timm `convnext_atto` trunk (fp16 .bin)
- Checkpoints/MGM-{7B,2B,8x7B,7B-HD}-tiny/  config, tokenizer files, sharded weights + index
- Images/quadrants.png  a synthetic 97×61 image (the photos are read from ../shared/images)
- EndToEnd/<checkpoint>--<case>.safetensors  intermediates, prefill logits and greedy ids of one
  CLI turn, computed by mgm_reference.py from the files just written (float32, eval mode)

Greedy goldens are only meaningful when the top-1/top-2 logit gap stays far above float noise, so
each checkpoint's language-model seed is the first (from its base) whose smallest relative gap
over all its cases is at least MIN_RELATIVE_MARGIN; the gaps are stored in the metadata.
After writing, everything is reloaded from disk and compared with the in-memory models.
"""
import json
import os

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from . import common, decoders, mgm_reference as ref, mgm_tokenizers, vision_preprocessing, vision_towers

FIXTURES = os.path.join(common.REPO, "Tests", "MGPipelineTests", "Fixtures")
CHECKPOINTS = os.path.join(FIXTURES, "Checkpoints")
END_TO_END = os.path.join(FIXTURES, "EndToEnd")
IMAGES = os.path.join(FIXTURES, "Images")
SHARED_IMAGES = vision_preprocessing.SHARED_IMAGES
CLIP_PATH = "model_zoo/OpenAI/clip-vit-large-patch14-336"
CONVNEXT_PATH = "model_zoo/OpenAI/openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup"
MIN_RELATIVE_MARGIN = 2e-3
MAX_NEW_TOKENS = 24
EOS_BOOST = 1.6

CLIP_VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                   image_size=56, patch_size=14, hidden_act="quick_gelu", layer_norm_eps=1e-5, num_channels=3)
CLIP_TEXT = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                 max_position_embeddings=16, hidden_act="quick_gelu", layer_norm_eps=1e-5)
OPENCLIP = {"embed_dim": 32,
            "vision_cfg": {"timm_model_name": "convnext_atto", "timm_model_pretrained": False, "timm_pool": "",
                           "timm_proj": "mlp", "timm_drop": 0.0, "timm_drop_path": 0.1, "image_size": 64},
            "text_cfg": {"context_length": 16, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1,
                         "mlp_ratio": 4.0}}

UNICODE_QUESTION = "Décris l'image — что это? 这是什么？"
CHECKPOINT_SPECS = [
    dict(name="MGM-7B-tiny", tokenizer="vicuna", family="llama", dtype="float32", format="safetensors",
         size_aux=64, grid=1, use_global=False, max_length=2048, seed=100, cases=[
             ("quadrants", ["quadrants.png"], "What colours are in the four corners of this picture?"),
             ("photo-unicode", ["extreme_ironing.jpg"], UNICODE_QUESTION),
             ("text-only", [], "Hello! Write one sentence about a city street."),
             ("two-images", ["quadrants.png", "monday.jpg"], "Compare the two images.")]),
    dict(name="MGM-2B-tiny", tokenizer="gemma", family="gemma", dtype="bfloat16", format="safetensors",
         size_aux=64, grid=1, use_global=False, max_length=2048, seed=200, cases=[
             ("quadrants", ["quadrants.png"], "Describe this picture in detail."),
             ("photo-unicode", ["waterview.jpg"], UNICODE_QUESTION),
             ("text-only", [], "What is a large language model?")]),
    dict(name="MGM-8x7B-tiny", tokenizer="mixtral", family="mixtral", dtype="float32", format="safetensors",
         size_aux=64, grid=1, use_global=False, max_length=2048, seed=300, cases=[
             ("photo", ["woolen.png"], "What is unusual about this image?"),
             ("quadrants-unicode", ["quadrants.png"], UNICODE_QUESTION),
             ("text-only", [], "Tell me about the quick brown fox.")]),
    # MGM-8B layout: Llama-3 byte-level tokenizer.json (no tokenizer.model), trained with llama_3.
    dict(name="MGM-8B-tiny", tokenizer="llama3", family="llama", dtype="float32", format="safetensors",
         size_aux=64, grid=1, use_global=False, max_length=2048, seed=500, conv_mode="llama_3", cases=[
             ("quadrants", ["quadrants.png"], "What colours are in the four corners of this picture?"),
             ("photo-unicode", ["monday.jpg"], UNICODE_QUESTION),
             ("text-only", [], "Hello! Write one sentence about a city street.")]),
    dict(name="MGM-7B-HD-tiny", tokenizer="vicuna", family="llama", dtype="float32", format="bin",
         size_aux=128, grid=2, use_global=True, max_length=4096, seed=400, cases=[
             ("quadrants", ["quadrants.png"], "Which colour is in the top left corner?"),
             ("photo-unicode", ["extreme_ironing.jpg"], UNICODE_QUESTION),
             ("text-only", [], "Hello there, who are you?")]),
]
TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


# --------------------------------------------------------------------------------------- inputs

def make_quadrants():
    """97×61: four colour quadrants (split at x 48, y 30) with stripes and noise, so the padded
    square, the crops and the token order can be told apart."""
    height, width = 61, 97
    y, x = np.mgrid[0:height, 0:width]
    colours = np.array([[[220, 40, 40], [40, 190, 60]], [[40, 70, 220], [235, 210, 40]]], dtype=np.float64)
    image = colours[(y >= 30).astype(int), (x >= 48).astype(int)]
    image += 25.0 * np.sin((x + 2 * y) * 0.7)[..., None] * np.array([1.0, -0.5, 0.3])
    image += np.random.default_rng(97).normal(0, 8, image.shape)
    os.makedirs(IMAGES, exist_ok=True)
    path = os.path.join(IMAGES, "quadrants.png")
    Image.fromarray(np.clip(image, 0, 255).round().astype(np.uint8)).save(path, optimize=False)
    return path


def image_path(name):
    return os.path.join(IMAGES, name) if name == "quadrants.png" else os.path.join(SHARED_IMAGES, name)


# ------------------------------------------------------------------------------------ towers

def _save_json(path, value):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2, ensure_ascii=False)
        handle.write("\n")


def _owned(state, dtype=None):
    """Own storage per tensor (torch.save would otherwise write whole shared storages)."""
    return {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).detach().clone().contiguous()
            for k, v in state.items()}


def write_clip(folder):
    from transformers import CLIPConfig, CLIPModel

    config = CLIPConfig(text_config=CLIP_TEXT, vision_config=CLIP_VISION, projection_dim=32)
    torch.manual_seed(5)
    model = CLIPModel(config).eval()
    vision_towers.randomize(model.vision_model, seed=21)
    os.makedirs(folder, exist_ok=True)
    torch.save(_owned(model.state_dict()), os.path.join(folder, "pytorch_model.bin"))
    # openai/clip-vit-large-patch14-336 layout (transformers 4.x CLIPConfig.to_dict, trimmed).
    _save_json(os.path.join(folder, "config.json"), {
        "architectures": ["CLIPModel"], "initializer_factor": 1.0, "logit_scale_init_value": 2.6592,
        "model_type": "clip", "projection_dim": 32, "torch_dtype": "float32", "transformers_version": "4.36.2",
        "text_config": {**CLIP_TEXT, "model_type": "clip_text_model", "projection_dim": 32, "bos_token_id": 0,
                        "eos_token_id": 2, "pad_token_id": 1, "dropout": 0.0, "attention_dropout": 0.0},
        "vision_config": {**CLIP_VISION, "model_type": "clip_vision_model", "projection_dim": 32, "dropout": 0.0,
                          "attention_dropout": 0.0, "initializer_range": 0.02, "initializer_factor": 1.0}})
    _save_json(os.path.join(folder, "preprocessor_config.json"), {
        "crop_size": 56, "do_center_crop": True, "do_normalize": True, "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": list(vision_preprocessing.MEAN),
        "image_std": list(vision_preprocessing.STD), "resample": 3, "size": 56})
    # The CLIPVisionModel state dict under the released names (the checkpoints' CLIP copy).
    return {f"vision_model.{k}": v.detach().clone() for k, v in model.vision_model.state_dict().items()}


def write_convnext(folder):
    from open_clip.model import CLIP

    torch.manual_seed(6)
    model = CLIP(**json.loads(json.dumps(OPENCLIP))).eval()
    vision_towers.randomize(model.visual.trunk, seed=22)
    os.makedirs(folder, exist_ok=True)
    torch.save(_owned(model.state_dict(), torch.float16), os.path.join(folder, "open_clip_pytorch_model.bin"))
    _save_json(os.path.join(folder, "open_clip_config.json"), {
        "model_cfg": OPENCLIP,
        "preprocess_cfg": {"mean": list(vision_preprocessing.MEAN), "std": list(vision_preprocessing.STD),
                           "interpolation": "bicubic", "resize_mode": "shortest"}})


# -------------------------------------------------------------------------------- checkpoints

def llm_config(spec, vocab, ids=None):
    base = dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=False,
                attention_bias=False, rms_norm_eps=1e-5, rope_theta=10000.0, hidden_act="silu",
                bos_token_id=1, eos_token_id=2, pad_token_id=0)
    if spec["family"] == "gemma":
        base.update(num_key_value_heads=1, head_dim=16, rms_norm_eps=1e-6, hidden_act="gelu",
                    hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True,
                    bos_token_id=2, eos_token_id=1, pad_token_id=0)
    if spec["tokenizer"] == "llama3":
        base.update(bos_token_id=ids["<|begin_of_text|>"], eos_token_id=ids["<|eot_id|>"], pad_token_id=None,
                    rope_theta=500000.0)
    if spec["family"] == "mixtral":
        base.update(intermediate_size=64, rope_theta=1e6, num_local_experts=4, num_experts_per_tok=2,
                    sliding_window=None, router_aux_loss_coef=0.02, output_router_logits=False)
    return base


def mgm_config(spec, llm):
    architecture, model_type = {"llama": ("MGMLlamaForCausalLM", "mgm"), "gemma": ("MGMGemmaForCausalLM", "mgm_gemma"),
                                "mixtral": ("MGMMixtralForCausalLM", "mgm_mixtral")}[spec["family"]]
    config = {"_name_or_path": f"work_dirs/{spec['name']}", "architectures": [architecture], "model_type": model_type,
              **llm, "initializer_range": 0.02, "use_cache": True, "torch_dtype": spec["dtype"],
              "transformers_version": "4.38.2" if spec["family"] == "gemma" else "4.36.2",
              "mm_vision_tower": CLIP_PATH, "mm_vision_tower_aux": CONVNEXT_PATH,
              "mm_hidden_size": CLIP_VISION["hidden_size"], "mm_hidden_size_aux": 40 + 80 + 160 + 320,
              "image_size_aux": spec["size_aux"], "image_grid": spec["grid"], "image_global": spec["use_global"],
              "image_aspect_ratio": "pad", "image_grid_pinpoints": None, "mm_projector_type": "mlp2x_gelu",
              "mm_projector_lr": None, "mm_vision_select_layer": -2, "mm_vision_select_feature": "patch",
              "mm_use_im_start_end": False, "mm_use_im_patch_token": False, "use_mm_proj": True,
              "optimize_vision_tower": False, "optimize_vision_tower_aux": False, "tune_mm_mlp_adapter": False,
              "freeze_mm_mlp_adapter": False, "tokenizer_model_max_length": spec["max_length"],
              "tokenizer_padding_side": "right"}
    if spec["family"] == "llama":
        config["pretraining_tp"] = 1
        config["rope_scaling"] = None
    return config


def multimodal_modules(seed, dtype):
    """mm_projector (mlp2x_gelu) and the three mining projections, rounded to the stored dtype."""
    generator = torch.Generator().manual_seed(seed)

    def fill(module, weight_scale):
        with torch.no_grad():
            for name, parameter in module.named_parameters():
                is_norm = isinstance(dict(module.named_modules())[name.rsplit(".", 1)[0]], nn.LayerNorm)
                if is_norm and name.endswith("weight"):
                    values = 0.5 + torch.rand(parameter.shape, generator=generator)
                elif name.endswith("bias"):
                    values = 0.2 * (torch.rand(parameter.shape, generator=generator) - 0.5)
                else:
                    values = torch.randn(parameter.shape, generator=generator) * weight_scale * parameter.shape[1] ** -0.5
                parameter.copy_(values.to(dtype).float())
        return module.eval()

    hidden, aux, llm = CLIP_VISION["hidden_size"], 600, 64
    projector = nn.Sequential(nn.Linear(hidden, llm), nn.GELU(), nn.Linear(llm, llm))
    fill(projector[:1], 1.0)
    fill(projector[2:], 0.5)
    mining = [fill(nn.Sequential(nn.LayerNorm(width), nn.Linear(width, hidden)), 1.0) for width in (hidden, aux, aux)]
    return projector, mining


def checkpoint_state(spec, llm_model, projector, mining, clip_vision, dtype):
    state = decoders._checkpoint_state(spec["family"], llm_model)
    if spec["family"] == "gemma":
        state["lm_head.weight"] = state["model.embed_tokens.weight"]  # MGM-2B stores the tied copy too
    for index in (0, 2):
        for leaf in ("weight", "bias"):
            state[f"model.mm_projector.{index}.{leaf}"] = getattr(projector[index], leaf)
    for name, module in zip(("query", "aux", "val"), mining):
        for index in (0, 1):
            for leaf in ("weight", "bias"):
                state[f"model.vlm_uni_{name}_projector.{index}.{leaf}"] = getattr(module[index], leaf)
    for key, value in clip_vision.items():
        state[f"model.vision_tower.vision_tower.{key}"] = value
    return _owned(state, dtype)


def write_weights(folder, spec, state):
    """Two shards (LLM body | head, projector, mining, CLIP copy) and the index, as the releases."""
    first = sorted(k for k in state if k.startswith(("model.embed_tokens.", "model.layers.")))
    second = sorted(k for k in state if k not in first)
    if spec["format"] == "safetensors":
        names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
        index_name = "model.safetensors.index.json"
    else:
        names = ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]
        index_name = "pytorch_model.bin.index.json"
    weight_map = {}
    for name, keys in zip(names, (first, second)):
        part = {k: state[k] for k in keys}
        if spec["format"] == "safetensors":
            save_file(part, os.path.join(folder, name), metadata={"format": "pt"})
        else:
            torch.save(part, os.path.join(folder, name))
        weight_map.update({k: name for k in keys})
    total = sum(v.numel() * v.element_size() for v in state.values())
    _save_json(os.path.join(folder, index_name), {"metadata": {"total_size": total},
                                                  "weight_map": dict(sorted(weight_map.items()))})


def in_memory_reference(spec, config, clip_vision, trunk, mining, projector, llm_model, tokenizer, dtype):
    from transformers import CLIPVisionConfig, CLIPVisionModel

    clip = CLIPVisionModel(CLIPVisionConfig(**CLIP_VISION))
    clip.config._attn_implementation = "eager"
    rounded = {k: v.to(dtype).float() for k, v in clip_vision.items()}
    own = clip.state_dict()
    if not next(iter(own)).startswith("vision_model."):
        rounded = {k[len("vision_model."):]: v for k, v in rounded.items()}
    clip.load_state_dict(rounded, strict=True)
    config = dict(config, _name=spec["name"], _conv_mode=spec.get("conv_mode"), _clip_dir=os.path.join(CHECKPOINTS, CLIP_PATH))
    embed = llm_model.get_input_embeddings().weight.detach().clone()
    return ref.Reference(config, clip, trunk, mining, projector, llm_model, embed, tokenizer)


def boost_eos(model, eos, dtype):
    """Scales the end-of-sequence row of the output matrix (rounded to the stored dtype) so that
    some answers stop early (the stop rule gets tested) while others run to max_new_tokens."""
    with torch.no_grad():
        weight = model.get_output_embeddings().weight
        weight[eos] = (weight[eos] * EOS_BOOST).to(dtype).float()


def tune_llm(spec, llm_dict, reference_for, prepared, eos):
    """First seed from spec['seed'] whose smallest relative top-2 gap over all cases is large enough,
    with at least one case stopping at EOS and one running to MAX_NEW_TOKENS."""
    torch_dtype = TORCH_DTYPES[spec["dtype"]]
    for seed in range(spec["seed"], spec["seed"] + 200):
        torch.manual_seed(0)
        model = decoders._build(spec["family"], llm_dict)
        decoders._randomise(model, torch_dtype, seed)
        boost_eos(model, eos, torch_dtype)
        reference = reference_for(model)
        records = [reference.decode(embeds_for(reference, item), MAX_NEW_TOKENS)[0] for item in prepared]
        worst = min(r["min_relative_margin"] for r in records)
        lengths = [len(r["generated_ids"]) for r in records]
        stops = any(r["generated_ids"][-1] == eos for r in records)
        if worst >= MIN_RELATIVE_MARGIN and stops and MAX_NEW_TOKENS in lengths:
            return model, seed, worst
    raise SystemExit(f"{spec['name']}: no language-model seed met the margin and stop conditions")


def embeds_for(reference, item):
    """Re-splices with this reference's embedding table (the only LLM weight the prefix uses)."""
    record, tensors, _ = item
    return reference.splice(record["input_ids"], tensors.get("visual_tokens"))


def build_checkpoint(spec, clip_vision, trunk):
    folder = os.path.join(CHECKPOINTS, spec["name"])
    os.makedirs(folder, exist_ok=True)
    for stale in os.listdir(folder):
        os.remove(os.path.join(folder, stale))
    mgm_tokenizers.build(spec["tokenizer"], folder, spec["max_length"])
    use_fast = spec["tokenizer"] != "vicuna"
    tokenizer = mgm_tokenizers.ReferenceTokenizer(folder, use_fast=use_fast)
    llm_dict = llm_config(spec, tokenizer.vocab_size, mgm_tokenizers.special_ids(folder))
    dtype = TORCH_DTYPES[spec["dtype"]]
    projector, mining = multimodal_modules(spec["seed"] + 7, dtype)
    config = mgm_config(spec, llm_dict)

    def reference_for(model):
        return in_memory_reference(spec, config, clip_vision, trunk, mining, projector, model, tokenizer, dtype)

    images = {name: ref.load_image(image_path(name)) for _, names, _ in spec["cases"] for name in names}
    probe = reference_for(decoders._build(spec["family"], llm_dict))
    prepared = [probe.prepare(question, [images[n] for n in names]) for _, names, question in spec["cases"]]
    for _, _, question in spec["cases"]:
        mgm_tokenizers.sentencepiece_agrees(folder, spec["tokenizer"], [question])
    llm_model, seed, worst = tune_llm(spec, llm_dict, reference_for, prepared, tokenizer.eos_token_id)
    memory = reference_for(llm_model)

    _save_json(os.path.join(folder, "config.json"), config)
    if spec["family"] == "gemma":
        _save_json(os.path.join(folder, "generation_config.json"), {
            "_from_model_config": True, "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
            "transformers_version": "4.38.2"})
    write_weights(folder, spec, checkpoint_state(spec, llm_model, projector, mining, clip_vision, dtype))
    print(f"  {spec['name']}: LM seed {seed}, min relative margin {worst:.4f}", flush=True)
    return folder, memory, images, seed


def write_goldens(spec, folder, memory, images, seed):
    loaded = ref.from_files(folder, mgm_tokenizers.ReferenceTokenizer, spec.get("conv_mode"))
    margins = []
    for case, names, question in spec["cases"]:
        pil = [images[n] for n in names]
        record, tensors = loaded.run(question, pil)
        again, tensors_memory = memory.run(question, pil)
        # Save/load check: the files reproduce the in-memory models exactly (same rounded weights).
        assert again == record, (spec["name"], case, again, record)
        for key, value in tensors.items():
            assert torch.equal(value, tensors_memory[key]), (spec["name"], case, key)
        check_kv_cache(loaded, record, tensors)
        check_hf_generate(loaded, record, tensors)
        name = f"{spec['name']}--{case}"
        metadata = {"checkpoint": spec["name"], "case": case, "images": json.dumps(names), "question": question,
                    "conv_mode": record["conv_mode"], "prompt": record["prompt"],
                    "input_ids": json.dumps(record["input_ids"]), "generated_ids": json.dumps(record["generated_ids"]),
                    "generated_text": record["generated_text"], "min_margin": json.dumps(record["min_margin"]),
                    "min_relative_margin": json.dumps(record["min_relative_margin"]), "lm_seed": json.dumps(seed),
                    "max_new_tokens": json.dumps(MAX_NEW_TOKENS),
                    "eos_token_id": json.dumps(loaded.tokenizer.eos_token_id), "generator": "Tools/goldens/mgm_checkpoints.py",
                    "reference": "mgm_reference.py: official MGM CLI flow in float32, eval mode, greedy",
                    "torch": torch.__version__}
        path = os.path.join(END_TO_END, name + ".safetensors")
        clean = {k: v.detach().float().contiguous() for k, v in tensors.items()}
        # The fused HR map is most of a golden's bytes (0.6 MB, 2.4 MB for HD): keep its shape and
        # 4096 sampled values (common.sample_indices, always the first and last element).
        if "features_hr" in clean:
            full = clean.pop("features_hr")
            indices = common.sample_indices(full.numel())
            clean["features_hr.samples"] = full.flatten()[indices].contiguous()
            clean["features_hr.indices"] = indices
            metadata["features_hr_shape"] = json.dumps(list(full.shape))
        write_sorted_safetensors(path, clean, metadata)
        back = load_file(path)
        assert set(back) == set(clean) and all(torch.equal(back[k], clean[k]) for k in clean)
        with safe_open(path, "pt") as handle:
            assert handle.metadata() == metadata
        margins.append(record["min_relative_margin"])
        shapes = {k: list(v.shape) for k, v in clean.items()}
        print(f"    {name}: {len(record['input_ids'])} ids, {len(record['generated_ids'])} generated, "
              f"margin {record['min_margin']:.4f} (rel {record['min_relative_margin']:.4f}) {shapes}", flush=True)
        print(f"      text: {record['generated_text']!r}", flush=True)
    return min(margins)


def write_sorted_safetensors(path, tensors, metadata):
    """F32 safetensors with sorted metadata and tensor order: `save_file` serialises the metadata
    from a hash map, so its bytes change from run to run; these stay byte-identical."""
    header, offset, blobs = {"__metadata__": dict(sorted(metadata.items()))}, 0, []
    for name in sorted(tensors):
        is_index = tensors[name].dtype == torch.int64
        data = tensors[name].numpy().astype("<i8" if is_index else "<f4").tobytes()
        header[name] = {"dtype": "I64" if is_index else "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as handle:
        handle.write(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def check_kv_cache(reference, record, tensors):
    """A full recompute over prompt + generated tokens picks the same tokens as the cached greedy
    loop, and for a text-only prompt the input_ids path (where transformers 5 scales Gemma's
    embeddings itself) gives the prefill logits of the manually scaled inputs_embeds path."""
    ids, generated = record["input_ids"], record["generated_ids"]
    embeds = reference.splice(ids, tensors.get("visual_tokens"))
    full = torch.cat([embeds, torch.nn.functional.embedding(torch.tensor(generated[:-1], dtype=torch.long),
                                                            reference.embed_weight)])
    if reference.config["model_type"] == "mgm_gemma":
        full = full * torch.tensor(reference.config["hidden_size"] ** 0.5)
    logits = reference.llm(inputs_embeds=full[None]).logits[0, len(embeds) - 1:]
    assert logits.argmax(-1).tolist() == generated, "cached greedy differs from a full recompute"
    assert torch.allclose(logits[0], tensors["logits_prefill"], atol=1e-5, rtol=0)
    if ref.IMAGE_TOKEN_INDEX not in ids:
        direct = reference.llm(input_ids=torch.tensor([ids])).logits[0, -1]
        assert torch.allclose(direct, tensors["logits_prefill"], atol=1e-5, rtol=0), "embeds path differs"


def check_hf_generate(reference, record, tensors):
    """transformers' own greedy `generate` on the same spliced embeddings gives the same ids."""
    embeds = reference.splice(record["input_ids"], tensors.get("visual_tokens"))
    if reference.config["model_type"] == "mgm_gemma":
        embeds = embeds * torch.tensor(reference.config["hidden_size"] ** 0.5)
    eos = reference.tokenizer.eos_token_id
    out = reference.llm.generate(inputs_embeds=embeds[None], attention_mask=torch.ones(1, len(embeds), dtype=torch.long),
                                 do_sample=False, max_new_tokens=MAX_NEW_TOKENS, eos_token_id=eos, pad_token_id=eos)
    assert out[0].tolist()[-len(record["generated_ids"]):] == record["generated_ids"], "HF generate differs"
    assert len(out[0]) in (len(record["generated_ids"]), len(embeds) + len(record["generated_ids"]))


@torch.no_grad()
def generate():
    common.seed_everything(0)
    torch.use_deterministic_algorithms(False)
    torch.set_num_threads(2)
    checked = ref.check_templates(os.path.join(FIXTURES, "templates.json"))
    print(f"  prompt renderer matches {checked} official renders", flush=True)
    make_quadrants()
    os.makedirs(END_TO_END, exist_ok=True)
    for stale in os.listdir(END_TO_END):
        if stale.endswith(".safetensors"):
            os.remove(os.path.join(END_TO_END, stale))
    write_clip_result = write_clip(os.path.join(CHECKPOINTS, CLIP_PATH))
    write_convnext(os.path.join(CHECKPOINTS, CONVNEXT_PATH))
    trunk = ref.load_convnext(os.path.join(CHECKPOINTS, CONVNEXT_PATH))
    overall = []
    for spec in CHECKPOINT_SPECS:
        folder, memory, images, seed = build_checkpoint(spec, write_clip_result, trunk)
        overall.append(write_goldens(spec, folder, memory, images, seed))
    print(f"  min relative margin over all goldens: {min(overall):.4f}")
