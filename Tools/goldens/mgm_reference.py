"""Float32 PyTorch reference of the official Mini-Gemini inference path (helper of mgm_checkpoints.py).

Follows, step by step, MGM repo: mgm/serve/cli.py (template choice, "<image>\\n" per image, the
"Image k:" labels, HR/LR image tensors), mgm/mm_utils.py (expand2square, process_images,
tokenizer_image_token), mgm/model/mgm_arch.py (encode_images, unified_resampler,
prepare_inputs_labels_for_multimodal) and mgm/model/builder.py (what is loaded from where), with
three deliberate differences: float32 instead of float16, every module in eval mode (no drop
path in the ConvNeXt), greedy decoding.

transformers 5 vs the 4.36–4.40 MGM ran with, and what is done about it here:
- Gemma no longer scales `inputs_embeds`: the whole spliced sequence (text and image rows) is
  multiplied by sqrt(hidden) before the call, text rows being the plain (unscaled) embedding rows.
- CLIPImageProcessor is torchvision-based: the Pillow path (`CLIPImageProcessorPil`) is used.
- Gemma's activation: config.json states `hidden_activation: gelu_pytorch_tanh`, which is what
  transformers >= 4.39 runs (4.38 would have used `hidden_act: gelu`, exact erf).
- The slow LlamaTokenizer is gone: tokenizers.SlowLlama reproduces it.
- Mixtral experts are fused in transformers 5: the checkpoint keys are converted on load.
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from . import decoders, mining, vision_preprocessing, vision_towers

IMAGE_TOKEN = "<image>"
IMAGE_TOKEN_INDEX = -200
VICUNA_SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
                 "The assistant gives helpful, detailed, and polite answers to the user's questions.")


# ------------------------------------------------------------------------------------- prompting

def conversation_mode(name):
    """cli.py: template from the checkpoint folder name."""
    lower = name.lower()
    if "8x7b" in lower:
        return "mistral_instruct"
    if "34b" in lower:
        return "chatml_direct"
    if "2b" in lower:
        return "gemma"
    return "vicuna_v1"


LLAMA3_SYSTEM = ("<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful language and vision assistant. "
                 "You are able to understand the visual content that the user provides, "
                 "and assist the user with a variety of tasks using natural language.")


def render(mode, user_text):
    """conversation.py get_prompt for one user turn and the pending assistant turn."""
    if mode == "vicuna_v1":
        return f"{VICUNA_SYSTEM} USER: {user_text} ASSISTANT:"
    if mode == "llama_3":
        # LLAMA_3 style (as MPT): system + sep, role + message + sep, then the pending role, which
        # MGM's llama_3 template spells "system" (sic, as trained).
        return (f"{LLAMA3_SYSTEM}<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n{user_text}<|eot_id|>"
                "<|start_header_id|>system<|end_header_id|>\n\n")
    if mode == "gemma":
        return f"<start_of_turn>user\n{user_text}<end_of_turn>\n<start_of_turn>model\n"
    if mode == "mistral_instruct":
        return f"[INST] {user_text} [/INST]"
    raise ValueError(mode)


def build_prompt(mode, question, image_count):
    """cli.py: `("<image>\\n" * n) + question` in the first turn, then "Image k:" before each
    placeholder when there are two or more."""
    prompt = render(mode, (IMAGE_TOKEN + "\n") * image_count + question)
    if prompt.count(IMAGE_TOKEN) >= 2:
        pieces = prompt.split(IMAGE_TOKEN)
        prompt = "".join(piece + (f"Image {i + 1}:" + IMAGE_TOKEN if i < len(pieces) - 1 else "")
                         for i, piece in enumerate(pieces))
    return prompt


def tokenizer_image_token(prompt, tokenizer):
    """mm_utils.py: each chunk tokenised on its own; BOS kept once; −200 between chunks."""
    chunks = [tokenizer.encode(chunk) for chunk in prompt.split(IMAGE_TOKEN)]
    ids, offset = [], 0
    if chunks and chunks[0] and chunks[0][0] == tokenizer.bos_token_id:
        offset = 1
        ids.append(chunks[0][0])
    for index, chunk in enumerate(chunks):
        if index > 0:
            ids.append(IMAGE_TOKEN_INDEX)
        ids.extend(chunk[offset:])
    return ids


def check_templates(records_path):
    """Our renderer against the official renders committed in MGPipelineTests/Fixtures/templates.json."""
    records = json.load(open(records_path, encoding="utf-8"))
    checked = 0
    for record in records:
        if record["template"] not in ("vicuna_v1", "gemma", "mistral_instruct", "llama_3") or "labelled" not in record:
            continue
        messages = record["messages"]
        if len(messages) != 2 or messages[1][1] is not None:
            continue
        text = messages[0][1]
        if not text:
            continue  # an empty user turn renders as a pending one; the CLI never sends it
        count = text.count(IMAGE_TOKEN)
        if count and not text.startswith((IMAGE_TOKEN + "\n") * count):
            continue
        question = text[len(IMAGE_TOKEN + "\n") * count:]
        ours = build_prompt(record["template"], question, count)
        assert ours == record["labelled"], (record["template"], record["case"], ours, record["labelled"])
        checked += 1
    return checked


# ------------------------------------------------------------------------------------------ images

def load_image(path):
    return Image.open(path).convert("RGB")


def process_images(images, clip_dir, size_aux):
    """mm_utils.process_images after cli.py overrode the processor's size with image_size_aux:
    pad to square with the mean colour, Pillow bicubic resize, normalise. Returns [n, 3, S, S]."""
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    processor = CLIPImageProcessorPil.from_pretrained(clip_dir)
    raw = dict(processor.crop_size)
    processor.crop_size = {"height": size_aux, "width": size_aux}
    processor.size = {"shortest_edge": size_aux}
    background = tuple(int(x * 255) for x in processor.image_mean)
    tensors = []
    for image in images:
        padded = vision_preprocessing.expand2square(image, background)
        tensor = processor.preprocess(padded, return_tensors="pt")["pixel_values"][0]
        _, manual = vision_preprocessing.clip_reference(padded, size_aux)
        assert torch.equal(tensor, manual[0]), "preprocessor_config.json path differs from the Pillow reference"
        tensors.append(tensor)
    return torch.stack(tensors), raw["height"]


def low_resolution(pixels_hr, raw, grid, use_global):
    """cli.py: bilinear resize of the normalised HR tensor to raw·grid, then crops (+ global)."""
    if grid < 2:
        return F.interpolate(pixels_hr, size=[raw, raw], mode="bilinear", align_corners=False)
    assert pixels_hr.shape[0] == 1, "the CLI's grid reshape handles one image"
    return vision_preprocessing.mgm_low_resolution(pixels_hr, raw, grid, use_global)


# ------------------------------------------------------------------------------------------ model

class Reference:
    """The modules MGM's loader ends up with, all float32 and in eval mode."""

    def __init__(self, config, clip, trunk, mining_modules, projector, llm, embed_weight, tokenizer):
        self.config = config
        self.clip = clip.eval()
        self.trunk = trunk.eval()
        self.query, self.aux, self.val = (m.eval() for m in mining_modules)
        self.projector = projector.eval()
        self.llm = llm.eval()
        self.embed_weight = embed_weight
        self.tokenizer = tokenizer

    # mgm_arch.py encode_images, with the intermediates kept.
    def encode_images(self, images, images_aux):
        grid = self.config.get("image_grid", 1)
        use_global = self.config.get("image_global", False)
        if grid > 1:
            batch = images.shape[0]
            if use_global:
                global_images = images[:, -1:].flatten(0, 1).contiguous()
                grid_images = images[:, :-1].flatten(0, 1).contiguous()
                images = torch.cat([grid_images, global_images], dim=0)
            else:
                images = images.flatten(0, 1).contiguous()
        states = self.clip(pixel_values=images, output_hidden_states=True).hidden_states
        features_lr = states[self.config["mm_vision_select_layer"]][:, 1:]
        features = features_lr
        if use_global:
            feat_global = features[-len(global_images):]
            features = features[:len(grid_images)]
        _, features_hr = vision_towers.mgm_convnext_backbone(self.trunk, images_aux)
        raw_aux = features_hr
        if use_global:
            aux_global = F.interpolate(raw_aux, scale_factor=1 / grid, mode="bilinear", align_corners=False)
            mined_global, _ = mining.unified_resampler(self.query, self.aux, self.val, feat_global, aux_global)
        if grid > 1:
            raw_aux = raw_aux.reshape(*raw_aux.shape[:2], grid, raw_aux.shape[-2] // grid, grid, raw_aux.shape[-1] // grid)
            raw_aux = raw_aux.permute(0, 2, 4, 1, 3, 5).flatten(1, 2).flatten(0, 1).contiguous()
        mined, _ = mining.unified_resampler(self.query, self.aux, self.val, features, raw_aux)
        if grid > 1:
            features = features.reshape(batch, grid ** 2, *features.shape[1:]).flatten(1, 2)
            mined = mined.reshape(batch, grid ** 2, *mined.shape[1:]).flatten(1, 2)
        if use_global:
            features = torch.cat([feat_global, features], dim=1)
            mined = torch.cat([mined_global, mined], dim=1)
        fused = features + mined
        return {"features_lr": features_lr, "features_hr": features_hr, "mined": fused,
                "visual_tokens": self.projector(fused)}

    def splice(self, input_ids, visual_tokens):
        """prepare_inputs_labels_for_multimodal for one sequence (text rows unscaled)."""
        ids = torch.tensor(input_ids)
        marks = [-1] + torch.where(ids == IMAGE_TOKEN_INDEX)[0].tolist() + [len(ids)]
        pieces = []
        for k in range(len(marks) - 1):
            pieces.append(F.embedding(ids[marks[k] + 1:marks[k + 1]], self.embed_weight))
            if k < len(marks) - 2:
                pieces.append(visual_tokens[k])
        embeds = torch.cat(pieces)
        limit = self.config.get("tokenizer_model_max_length")
        return embeds[:limit] if limit else embeds

    def greedy(self, embeds, max_new_tokens):
        """HF generate(do_sample=False, eos=tokenizer eos) with the KV cache; also the top-2 gaps."""
        if self.config["model_type"] == "mgm_gemma":
            # transformers 4.x GemmaModel: hidden = inputs_embeds * sqrt(hidden), image rows included.
            embeds = embeds * torch.tensor(self.config["hidden_size"] ** 0.5, dtype=embeds.dtype)
        eos = self.tokenizer.eos_token_id
        out = self.llm(inputs_embeds=embeds[None], use_cache=True)
        prefill = out.logits[0, -1].float()
        logits, generated, margins, relative = prefill, [], [], []
        for _ in range(max_new_tokens):
            top = torch.topk(logits, 2).values
            margins.append(float(top[0] - top[1]))
            relative.append(float((top[0] - top[1]) / logits.abs().max()))
            token = int(torch.argmax(logits))
            generated.append(token)
            if token == eos:
                break
            out = self.llm(input_ids=torch.tensor([[token]]), past_key_values=out.past_key_values, use_cache=True)
            logits = out.logits[0, -1].float()
        return prefill, generated, margins, relative

    def prepare(self, question, images):
        """One CLI turn up to the spliced embeddings. `images`: PIL images (may be empty)."""
        # MGM-8B was trained with llama_3, which its eval scripts pass explicitly (the CLI's name rule
        # would pick vicuna_v1); a checkpoint spec can name its template the same way.
        mode = self.config.get("_conv_mode") or conversation_mode(self.config["_name"])
        prompt = build_prompt(mode, question, len(images))
        input_ids = tokenizer_image_token(prompt, self.tokenizer)
        tensors, visual = {}, None
        if images:
            pixels_hr, raw = process_images(images, self.config["_clip_dir"], self.config["image_size_aux"])
            grid = self.config.get("image_grid", 1)
            pixels_lr = low_resolution(pixels_hr, raw, grid, self.config.get("image_global", False))
            # cli.py unsqueezes the HD views into [1, views, 3, h, w]; normal images stay [n, 3, h, w].
            lr_batch = pixels_lr[None] if grid >= 2 else pixels_lr
            encoded = self.encode_images(lr_batch, pixels_hr)
            tensors = {"pixels_hr": pixels_hr, "pixels_lr": pixels_lr, **encoded}
            visual = encoded["visual_tokens"]
        record = {"conv_mode": mode, "prompt": prompt, "input_ids": input_ids}
        return record, tensors, self.splice(input_ids, visual)

    def decode(self, embeds, max_new_tokens=24):
        prefill, generated, margins, relative = self.greedy(embeds, max_new_tokens)
        record = {"generated_ids": generated, "generated_text": self.tokenizer.decode(generated).strip(),
                  "min_margin": min(margins), "min_relative_margin": min(relative)}
        return record, prefill

    def run(self, question, images):
        record, tensors, embeds = self.prepare(question, images)
        generated, prefill = self.decode(embeds)
        return {**record, **generated}, {**tensors, "logits_prefill": prefill}


# ------------------------------------------------------------------------------------ from files

def llm_config_for_hf(config):
    """The decoders.py config dict of the language-model part of an MGM config.json."""
    keys = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "max_position_embeddings", "tie_word_embeddings", "attention_bias",
            "rms_norm_eps", "rope_theta", "hidden_act", "bos_token_id", "eos_token_id", "pad_token_id",
            "head_dim", "sliding_window", "num_local_experts", "num_experts_per_tok"]
    return {k: config[k] for k in keys if k in config}


def hf_family(model_type):
    return {"mgm": "llama", "mgm_gemma": "gemma", "mgm_mixtral": "mixtral"}[model_type]


def load_shards(folder):
    """Every tensor of the checkpoint, through its index file (safetensors or .bin)."""
    from safetensors.torch import load_file
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        path = os.path.join(folder, index_name)
        if os.path.exists(path):
            weight_map = json.load(open(path))["weight_map"]
            break
    else:
        raise FileNotFoundError(f"no index in {folder}")
    state = {}
    for shard in sorted(set(weight_map.values())):
        file = os.path.join(folder, shard)
        part = load_file(file) if shard.endswith(".safetensors") else torch.load(file, map_location="cpu", weights_only=True)
        state.update(part)
    assert set(state) == set(weight_map), "index and shards disagree"
    return state, weight_map


def hf_llm_state(family, state, model):
    """Checkpoint keys → the transformers 5 module's keys (fused Mixtral experts)."""
    out = {}
    expected = model.state_dict()
    for key, value in expected.items():
        if family == "mixtral" and ".mlp.experts." in key:
            prefix = key.split(".mlp.")[0] + ".block_sparse_moe.experts."
            experts = value.shape[0]
            if key.endswith("gate_up_proj"):
                out[key] = torch.stack([torch.cat([state[f"{prefix}{e}.w1.weight"], state[f"{prefix}{e}.w3.weight"]])
                                        for e in range(experts)])
            else:
                out[key] = torch.stack([state[f"{prefix}{e}.w2.weight"] for e in range(experts)])
        elif family == "mixtral" and key.endswith(".mlp.gate.weight"):
            out[key] = state[key.replace(".mlp.gate.", ".block_sparse_moe.gate.")]
        elif family == "gemma" and key == "lm_head.weight":
            out[key] = state["model.embed_tokens.weight"]  # tied
        else:
            out[key] = state[key]
    return {k: v.float() for k, v in out.items()}


def sequential(prefix, state, kind):
    if kind == "projector":
        w0, w2 = state[prefix + "0.weight"], state[prefix + "2.weight"]
        module = nn.Sequential(nn.Linear(w0.shape[1], w0.shape[0]), nn.GELU(), nn.Linear(w2.shape[1], w2.shape[0]))
    else:
        w1 = state[prefix + "1.weight"]
        module = nn.Sequential(nn.LayerNorm(w1.shape[1]), nn.Linear(w1.shape[1], w1.shape[0]))
    module.load_state_dict({k[len(prefix):]: v.float() for k, v in state.items() if k.startswith(prefix)})
    return module


def load_clip(clip_dir, state):
    """builder.py: CLIPVisionModel from the openai folder, then initialize_uni_modules overwrites it
    with the checkpoint's `vision_tower.vision_tower.*` copy (strict load)."""
    from transformers import CLIPVisionModel

    clip = CLIPVisionModel.from_pretrained(clip_dir, attn_implementation="eager").float()
    prefix = "model.vision_tower.vision_tower."
    copy = {k[len(prefix):]: v.float() for k, v in state.items() if k.startswith(prefix)}
    own = clip.state_dict()
    if not next(iter(own)).startswith("vision_model."):
        copy = {k[len("vision_model."):]: v for k, v in copy.items()}
    missing, unexpected = clip.load_state_dict(copy, strict=True)
    assert not missing and not unexpected
    return clip


def load_convnext(aux_dir):
    """openclip_encoder.py: the OpenCLIP model from open_clip_config.json (the official wrapper picks
    the architecture from the folder name instead), non-strict load, keep stem + stages."""
    from open_clip.model import CLIP

    config = json.load(open(os.path.join(aux_dir, "open_clip_config.json")))["model_cfg"]
    model = CLIP(**config)
    model.visual.trunk.norm_pre = None
    model.visual.trunk.head = None
    model.visual.head = None
    state = torch.load(os.path.join(aux_dir, "open_clip_pytorch_model.bin"), map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    trunk = model.visual.trunk
    # Only stem and stages are used; make sure they came from the file.
    for key, value in trunk.state_dict().items():
        assert torch.equal(value, state["visual.trunk." + key].float()), key
    return trunk


def from_files(checkpoint_dir, tokenizer_cls, conv_mode=None):
    """The reference as MGM's loader builds it from the files on disk."""
    config = json.load(open(os.path.join(checkpoint_dir, "config.json")))
    name = os.path.basename(checkpoint_dir.rstrip("/"))
    parents = os.path.dirname(checkpoint_dir.rstrip("/"))
    config["_name"] = name
    config["_conv_mode"] = conv_mode
    config["_clip_dir"] = os.path.join(parents, config["mm_vision_tower"])
    aux_dir = os.path.join(parents, config["mm_vision_tower_aux"])
    state, _ = load_shards(checkpoint_dir)
    family = hf_family(config["model_type"])
    llm = decoders._build(family, llm_config_for_hf(config))
    llm.load_state_dict(hf_llm_state(family, state, llm), strict=True)
    # builder.py asks for the slow tokenizer except for 8x7b/2b; AutoTokenizer falls back to the fast
    # one when there is no tokenizer.model (Llama-3).
    use_fast = "8x7b" in name.lower() or "2b" in name.lower() or not os.path.exists(os.path.join(checkpoint_dir, "tokenizer.model"))
    tokenizer = tokenizer_cls(checkpoint_dir, use_fast=use_fast)
    assert tokenizer.vocab_size == config["vocab_size"]
    mining_modules = [sequential(f"model.vlm_uni_{p}_projector.", state, "mining") for p in ("query", "aux", "val")]
    return Reference(config, load_clip(config["_clip_dir"], state), load_convnext(aux_dir), mining_modules,
                     sequential("model.mm_projector.", state, "projector"), llm,
                     state["model.embed_tokens.weight"].float(), tokenizer)
