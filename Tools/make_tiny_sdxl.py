#!/usr/bin/env python3
"""Writes a tiny, randomly initialised pipeline with Stable Diffusion XL's architecture.

Used by the diffusers integration test (Tests/MGPipelineTests/DiffusersImageGeneratorTests.swift):
every component has SDXL's type and wiring (UNet with `addition_embed_type="text_time"`, two CLIP
text encoders of which the second has a projection, an AutoencoderKL, Euler discrete scheduling,
two CLIP BPE tokenizers) at a size that runs two denoising steps at 64×64 in well under a second.
Everything is built offline from configs; nothing is downloaded.

    HF_HUB_OFFLINE=1 python3 Tools/make_tiny_sdxl.py OUTPUT_DIR
"""

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

TEXT_WIDTH = 32          # hidden size of each text encoder
PROJECTION_WIDTH = 32    # text_encoder_2's pooled projection
TIME_EMBED_WIDTH = 8     # per added time id (SDXL: 256)
VOCAB_SIZE = 1000


def byte_alphabet():
    """The printable stand-in of each byte used by GPT-2/CLIP byte-level BPE vocabularies."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    table, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def tiny_tokenizer():
    """A CLIP tokenizer over single bytes (with and without the end-of-word mark) plus a few merges."""
    symbols = byte_alphabet()
    vocab = {}
    for symbol in symbols:
        vocab[symbol] = len(vocab)
    for symbol in symbols:
        vocab[symbol + "</w>"] = len(vocab)
    merges = [("c", "a"), ("ca", "t</w>"), ("d", "o"), ("do", "g</w>"), ("t", "h"), ("th", "e</w>")]
    for left, right in merges:
        vocab[left + right] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    assert len(vocab) <= VOCAB_SIZE
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def text_config():
    return CLIPTextConfig(
        vocab_size=VOCAB_SIZE, hidden_size=TEXT_WIDTH, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=77, hidden_act="gelu", projection_dim=PROJECTION_WIDTH,
        bos_token_id=VOCAB_SIZE - 2, eos_token_id=VOCAB_SIZE - 1, pad_token_id=1)


def build():
    torch.set_num_threads(1)  # tiny tensors: more threads only add contention on a shared CPU
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=32, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, norm_num_groups=32,
        # SDXL conditions on both encoders' hidden states (concatenated) and, through "text_time",
        # on the pooled projection plus six size/crop ids, each embedded in TIME_EMBED_WIDTH.
        cross_attention_dim=2 * TEXT_WIDTH,
        addition_embed_type="text_time", addition_time_embed_dim=TIME_EMBED_WIDTH,
        projection_class_embeddings_input_dim=6 * TIME_EMBED_WIDTH + PROJECTION_WIDTH,
        transformer_layers_per_block=1)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 64), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), norm_num_groups=32, sample_size=64)
    # The scheduler settings of SDXL base 1.0's scheduler_config.json.
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
        prediction_type="epsilon", steps_offset=1, timestep_spacing="leading", interpolation_type="linear",
        use_karras_sigmas=False)
    return StableDiffusionXLPipeline(
        vae=vae, text_encoder=CLIPTextModel(text_config()), text_encoder_2=CLIPTextModelWithProjection(text_config()),
        tokenizer=tiny_tokenizer(), tokenizer_2=tiny_tokenizer(), unet=unet, scheduler=scheduler,
        force_zeros_for_empty_prompt=True, add_watermarker=False)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_tiny_sdxl.py OUTPUT_DIR")
    build().save_pretrained(sys.argv[1], safe_serialization=True)
    print(sys.argv[1])


if __name__ == "__main__":
    main()
