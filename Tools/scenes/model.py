"""The tiny Mini-Gemini of the scenes demo: module structure, preprocessing and prompts as the official
MGM code (mgm/model/mgm_arch.py, mgm/model/multimodal_encoder/*, mgm/train/train.py,
mgm/conversation.py), shrunk so it trains on two CPU cores.

Shared by Tools/train_scenes.py, Tools/export_scenes_model.py and Tools/eval_scenes.py.
"""
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import CLIPVisionConfig, CLIPVisionModel, LlamaConfig, LlamaForCausalLM

TOOLS = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)
from goldens.tokenizers import SlowLlama  # noqa: E402  (transformers 4.x slow LlamaTokenizer semantics)

# CLIP/OpenAI normalisation (what MGM's CLIP image processor applies; also the OpenCLIP ConvNeXt's).
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
IMAGE_SIZE_AUX = 256
IMAGE_SIZE = 64
SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
          "The assistant gives helpful, detailed, and polite answers to the user's questions.")
IMAGE_TOKEN_INDEX = -200
IGNORE_INDEX = -100
CONVNEXT = "convnext_atto"

CLIP_CONFIG = dict(hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
                   image_size=IMAGE_SIZE, patch_size=8, hidden_act="quick_gelu", layer_norm_eps=1e-5,
                   projection_dim=128, num_channels=3)
LLAMA_CONFIG = dict(hidden_size=128, intermediate_size=384, num_hidden_layers=4, num_attention_heads=4,
                    num_key_value_heads=4, max_position_embeddings=512, rms_norm_eps=1e-5, hidden_act="silu",
                    tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0)


# ---------------------------------------------------------------- preprocessing

def preprocess(pixels):
    """uint8 [B, 256, 256, 3] → (HR [B,3,256,256], LR [B,3,64,64]) float32, as MGM prepares images.

    The CLIP processor's bicubic resize to `image_size_aux` is the identity for a 256×256 input
    (Pillow returns a copy, and the bicubic kernel is 1 at 0 and 0 at ±1, ±2), padding to square
    is a no-op; what remains is rescale (float64 → float32) and normalise in float32. The LR image
    is the bilinear (align_corners=False) downsample of the normalised HR tensor (mgm/train/train.py).
    """
    x = torch.from_numpy((np.asarray(pixels, dtype=np.float64) * (1 / 255)).astype(np.float32))
    x = x.permute(0, 3, 1, 2)
    mean = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    hr = ((x - mean) / std).contiguous()
    lr = F.interpolate(hr, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False)
    return hr, lr


# ---------------------------------------------------------------- model

class TinyMGM(nn.Module):
    """LR CLIP tower → (+ patch info mining over the ConvNeXt map) → mlp2x_gelu → Llama."""

    def __init__(self, vocab_size, use_hr=True):
        super().__init__()
        self.use_hr = use_hr
        self.clip = CLIPVisionModel(CLIPVisionConfig(**CLIP_CONFIG))
        self.llm = LlamaForCausalLM(LlamaConfig(vocab_size=vocab_size, **LLAMA_CONFIG))
        dim, hidden = CLIP_CONFIG["hidden_size"], LLAMA_CONFIG["hidden_size"]
        if use_hr:
            trunk = timm.create_model(CONVNEXT, pretrained=False, num_classes=0, drop_path_rate=0.0)
            self.vision_stem, self.vision_stages = trunk.stem, trunk.stages
            self.aux_channels = sum(trunk.feature_info[i]["num_chs"] for i in range(4))
            self.vlm_uni_query_projector = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim))
            self.vlm_uni_aux_projector = nn.Sequential(nn.LayerNorm(self.aux_channels), nn.Linear(self.aux_channels, dim))
            self.vlm_uni_val_projector = nn.Sequential(nn.LayerNorm(self.aux_channels), nn.Linear(self.aux_channels, dim))
        self.mm_projector = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, hidden))

    # -- towers
    def lr_features(self, lr):
        out = self.clip(pixel_values=lr, output_hidden_states=True)
        return out.hidden_states[-2][:, 1:]  # mm_vision_select_layer −2, select feature "patch"

    def aux_map(self, hr):
        """OpenCLIPVisionTower.backbone: stem, four stages, stages 1–3 bilinearly resized to stage 0."""
        x = self.vision_stem(hr)
        stages = []
        for stage in self.vision_stages:
            x = stage(x)
            stages.append(x)
        size = stages[0].shape[-2:]
        return torch.cat([stages[0]] + [F.interpolate(s.float(), size=size, mode="bilinear", align_corners=False)
                                        for s in stages[1:]], dim=1)

    # -- mining
    def _blocks(self, tokens, aux):
        patch_num = int(tokens.shape[1] ** 0.5)
        patch_size = aux.shape[-1] // patch_num
        aux = aux.permute(0, 2, 3, 1)
        aux = aux.reshape(len(aux), patch_num, patch_size, patch_num, patch_size, aux.shape[-1])
        aux = aux.permute(0, 1, 3, 2, 4, 5)
        return aux.reshape(len(aux), patch_num ** 2, patch_size ** 2, aux.shape[-1])

    def unified_resampler(self, tokens, aux):
        """The official `unified_resampler` step by step (the reference for inference)."""
        aux = self._blocks(tokens, aux).contiguous()
        query = self.vlm_uni_query_projector(tokens)
        key = self.vlm_uni_aux_projector(aux)
        value = self.vlm_uni_val_projector(aux)
        att = query[:, :, None] @ (key.transpose(-1, -2) / (key.shape[-1] ** 0.5))
        att = att.nan_to_num()
        return (att.softmax(-1) @ value).mean(2)

    def unified_resampler_fast(self, tokens, aux):
        """The same function, reassociated for training speed.

        With n the normalised aux cell and LN affine (g, b): k = W_k(n·g_k + b_k) + c_k, so
        q·k = ((q W_k)·g_k)·n + (a per-token constant that softmax cancels), and
        Σ softmax·v = W_v((Σ softmax·n)·g_v + b_v) + c_v. The 600→128 projections then run per
        token instead of per HR cell (64× fewer multiply-adds).
        """
        aux = self._blocks(tokens, aux)
        ln_k, lin_k = self.vlm_uni_aux_projector
        ln_v, lin_v = self.vlm_uni_val_projector
        normed = F.layer_norm(aux, (aux.shape[-1],), eps=ln_k.eps)
        query = self.vlm_uni_query_projector(tokens)
        query_aux = (query @ lin_k.weight) * ln_k.weight / (lin_k.out_features ** 0.5)
        att = torch.einsum("btc,btjc->btj", query_aux, normed).softmax(-1)
        pooled = torch.einsum("btj,btjc->btc", att, normed)
        return lin_v(pooled * ln_v.weight + ln_v.bias)

    def encode_images(self, hr, lr, fast=False):
        tokens = self.lr_features(lr)
        if self.use_hr:
            aux = self.aux_map(hr).to(tokens.dtype)
            mined = (self.unified_resampler_fast if fast else self.unified_resampler)(tokens, aux)
            tokens = tokens + mined
        return self.mm_projector(tokens)

    # -- language model input
    def splice(self, prefix_ids, image_features, suffix_ids):
        """inputs_embeds = [embed(prefix), image features, embed(suffix)] (prefix shared by the batch)."""
        embed = self.llm.get_input_embeddings()
        batch = image_features.shape[0]
        prefix = embed(prefix_ids)[None].expand(batch, -1, -1)
        return torch.cat([prefix, image_features.to(prefix.dtype), embed(suffix_ids)], dim=1)


# ---------------------------------------------------------------- prompts

class PromptCodec:
    """vicuna_v1 prompts and `tokenizer_image_token` on the slow LlamaTokenizer (legacy=False)."""

    def __init__(self, tokenizer_model):
        self.tok = SlowLlama(tokenizer_model, legacy=False)
        self.bos, self.eos = 1, 2
        self.vocab_size = self.tok.sp.get_piece_size()

    def encode(self, text):
        """`SlowLlama(legacy=False).encode(text)` for texts whose only special token is </s>.

        The same steps without the per-character special-token scan (which dominates training-data
        time): split on </s>, the first piece gets the "▁" prefix (encoded behind <unk>, which is
        then dropped), later pieces only when they start with a space. `check_encoder` compares.
        """
        ids = [self.bos]
        for index, part in enumerate(text.split("</s>")):
            if index:
                ids.append(self.eos)
            if index == 0 and part:
                part = "\u2581" + part.replace("\u2581", " ")
            if not part:
                continue
            if part.startswith(("\u2581", " ")):
                pieces = self.tok.sp.encode("<unk>" + part, out_type=int)[self.tok.unk_len:]
            else:
                pieces = self.tok.sp.encode(part, out_type=int)
            ids.extend(pieces)
        return ids

    def check_encoder(self, texts):
        for text in texts:
            assert self.encode(text) == self.tok.encode(text), text

    def image_token_ids(self, prompt):
        """`tokenizer_image_token`: chunks split on <image>, BOS once, −200 between chunks."""
        chunks = [self.encode(chunk) for chunk in prompt.split("<image>")]
        ids = [self.bos]
        for index, chunk in enumerate(chunks):
            if index:
                ids.append(IMAGE_TOKEN_INDEX)
            ids.extend(chunk[1:])
        return ids

    @staticmethod
    def conversation(turns):
        """Rendered vicuna_v1 text for (question, answer) turns; the last answer may be None."""
        text = SYSTEM + " "
        for index, (question, answer) in enumerate(turns):
            user = "<image>\n" + question if index == 0 else question
            text += "USER: " + user + " "
            text += "ASSISTANT:" if answer is None else "ASSISTANT: " + answer + "</s>"
        return text

    def training_example(self, turns):
        """(ids with −200, labels): loss on each answer and its </s> only (as preprocess_v1)."""
        ids = self.image_token_ids(self.conversation(turns))
        labels = [IGNORE_INDEX] * len(ids)
        for index in range(len(turns)):
            start = len(self.image_token_ids(self.conversation(turns[:index] + [(turns[index][0], None)])))
            end = len(self.image_token_ids(self.conversation(turns[:index + 1])))
            labels[start:end] = ids[start:end]
        return ids, labels

    def split_image(self, ids):
        position = ids.index(IMAGE_TOKEN_INDEX)
        return ids[:position], ids[position + 1:]
