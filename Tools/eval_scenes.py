#!/usr/bin/env python3
"""Reference evaluation of an exported scenes model (Models/MGM-Scenes or Models/MGM-Scenes-LR).

    python3 Tools/eval_scenes.py Models/MGM-Scenes --scenes 400
    python3 Tools/eval_scenes.py Models/MGM-Scenes-LR --scenes 400 --json /tmp/lr.json

Loads the folder the way MGM's builder does — LLM, projector and mining modules from the shards,
the CLIP tower from the `mm_vision_tower` folder overwritten by the copy in the shards, the
ConvNeXt from `open_clip_pytorch_model.bin` of `mm_vision_tower_aux` (folders resolved like the
Swift `TowerLocator`: as written, then relative to the checkpoint folder and its parents) — and
answers every question of fresh evaluation-domain scenes (seeds `--first-seed` …) with the
official inference path: vicuna_v1 prompt, `tokenizer_image_token`, preprocessing,
`unified_resampler`, mlp2x_gelu, splicing, greedy decoding (HF `generate`, float32 on CPU).
Prints the accuracy per question type.

`--gguf FILE` (repeatable) also answers every question with the decoder of an `mgm quantize`
GGUF (`language_model.<type>.gguf`, architecture `llama`) in place of the checkpoint's, on the
same visual tokens, with mgm's arithmetic: the GGUF's tensors dequantized (gguf-py, bit-exact
with mgm), and before each product with a Q8_0/Q4_0 (Q4_K/Q6_K) matrix the activations rounded
to Q8_0 (Q8_K) blocks as mgm's integer kernels (and llama.cpp's) round them; other formats
(Q5_0, the fallback of Q4_K on 128-wide rows) are multiplied with F32 activations, as in mgm.

    python3 Tools/eval_scenes.py Models/MGM-Scenes --scenes 400 \
        --gguf MGM-Scenes-q8_0/language_model.q8_0.gguf --gguf MGM-Scenes-q4_0/language_model.q4_0.gguf
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenes"))

import timm  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import CLIPVisionModel, LlamaConfig, LlamaForCausalLM  # noqa: E402

import model as M  # noqa: E402
import scenes as S  # noqa: E402


def locate(checkpoint, configured):
    folder = os.path.abspath(checkpoint)
    candidates = [os.path.abspath(configured)]
    while True:
        candidates.append(os.path.join(folder, configured))
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for candidate in candidates:
        if os.path.isdir(candidate):
            return candidate
    raise SystemExit(f"tower folder {configured} not found; looked in {candidates}")


class ExportedMGM(nn.Module):
    """The exported checkpoint as MGM modules; `unified_resampler` etc. come from M.TinyMGM."""

    def __init__(self, folder):
        super().__init__()
        config = json.load(open(os.path.join(folder, "config.json")))
        self.config = config
        shards = load_file(os.path.join(folder, "model.safetensors"))
        shards = {k: v.float() for k, v in shards.items()}

        llama_fields = {k: config[k] for k in (
            "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
            "max_position_embeddings", "rms_norm_eps", "hidden_act", "vocab_size", "tie_word_embeddings",
            "bos_token_id", "eos_token_id", "pad_token_id")}
        llama_config = LlamaConfig(**llama_fields)
        llama_config.rope_parameters = {"rope_type": "default", "rope_theta": config["rope_theta"]}
        self.llm = LlamaForCausalLM(llama_config)
        llm_keys = {k: v for k, v in shards.items() if k == "lm_head.weight" or (
            k.startswith("model.") and not k.startswith(("model.mm_projector", "model.vlm_uni", "model.vision_tower")))}
        missing, unexpected = self.llm.load_state_dict(llm_keys, strict=False)
        assert not unexpected and all("rotary" in k for k in missing), (missing, unexpected)

        dim, hidden = config["mm_hidden_size"], config["hidden_size"]
        self.mm_projector = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        self.mm_projector.load_state_dict({k.removeprefix("model.mm_projector."): v for k, v in shards.items()
                                           if k.startswith("model.mm_projector.")})

        clip_folder = locate(folder, config["mm_vision_tower"])
        self.clip = CLIPVisionModel.from_pretrained(clip_folder, dtype=torch.float32)
        prefix = "model.vision_tower.vision_tower."
        # The shards use the transformers-4.x names (`…vision_model.embeddings…`); transformers 5's
        # CLIPVisionModel has no `vision_model.` level in its state dict.
        own = set(self.clip.state_dict())
        copy = {}
        for key, value in shards.items():
            if key.startswith(prefix):
                name = key.removeprefix(prefix)
                copy[name if name in own else name.removeprefix("vision_model.")] = value
        if copy:  # initialize_uni_modules: the shard copy overwrites the tower folder's weights
            missing, unexpected = self.clip.load_state_dict(copy, strict=False)
            assert not unexpected, unexpected
        self.select_layer = config["mm_vision_select_layer"]

        self.use_hr = bool(config.get("mm_vision_tower_aux"))
        if self.use_hr:
            aux_folder = locate(folder, config["mm_vision_tower_aux"])
            open_clip = json.load(open(os.path.join(aux_folder, "open_clip_config.json")))
            trunk = timm.create_model(open_clip["model_cfg"]["vision_cfg"]["timm_model_name"], pretrained=False,
                                      num_classes=0, drop_path_rate=0.0)
            state = torch.load(os.path.join(aux_folder, "open_clip_pytorch_model.bin"), map_location="cpu")
            trunk_state = {k.removeprefix("visual.trunk."): v.float() for k, v in state.items()
                           if k.startswith("visual.trunk.")}
            missing, unexpected = trunk.load_state_dict(trunk_state, strict=False)
            assert not unexpected and all(k.startswith(("head", "norm_pre")) for k in missing), (missing, unexpected)
            self.vision_stem, self.vision_stages = trunk.stem, trunk.stages
            aux = config["mm_hidden_size_aux"]
            for name, width in (("vlm_uni_query_projector", dim), ("vlm_uni_aux_projector", aux),
                                ("vlm_uni_val_projector", aux)):
                module = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, dim))
                module.load_state_dict({k.removeprefix(f"model.{name}."): v for k, v in shards.items()
                                        if k.startswith(f"model.{name}.")})
                setattr(self, name, module)
        self.eval()

    aux_map = M.TinyMGM.aux_map
    _blocks = M.TinyMGM._blocks
    unified_resampler = M.TinyMGM.unified_resampler

    def encode_images(self, hr, lr):
        out = self.clip(pixel_values=lr, output_hidden_states=True)
        tokens = out.hidden_states[self.select_layer][:, 1:]
        if self.use_hr:
            tokens = tokens + self.unified_resampler(tokens, self.aux_map(hr))
        return self.mm_projector(tokens)


def _round_to_q8_blocks(x, block):
    """x rounded as mgm's QuantizedActivations (ggml's x86 quantize_row_q8_0 / quantize_row_q8_K)."""
    shape = x.shape
    xb = x.reshape(-1, shape[-1] // block, block).float()
    if block == 32:
        amax = xb.abs().amax(dim=-1, keepdim=True)
        d = (amax / 127).half().float()
        inv = torch.where(amax > 0, 127 / amax, torch.zeros_like(amax))
        return (torch.round(xb * inv) * d).reshape(shape)  # torch.round: half to even
    index = xb.abs().argmax(dim=-1, keepdim=True)
    top = torch.gather(xb, -1, index)
    iscale = torch.where(top != 0, -127 / top, torch.zeros_like(top))
    q = torch.clamp(torch.round(iscale * xb), max=127)
    d = torch.where(iscale != 0, 1 / iscale, torch.zeros_like(iscale))
    return (q * d).reshape(shape)


def gguf_decoder(reference, path):
    """A copy of `reference` (LlamaForCausalLM) with the weights of an `mgm quantize` GGUF."""
    import copy
    import numpy as np
    from gguf import GGUFReader, GGMLQuantizationType as T
    from gguf.quants import dequantize
    reader = GGUFReader(path)
    assert reader.fields["general.architecture"].contents() == "llama", "only llama GGUFs"
    llm = copy.deepcopy(reference)
    config = llm.config
    names = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    parts = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
             "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
             "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
    state, kinds = {}, {}
    for tensor in reader.tensors:
        values = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        values = values.reshape([int(n) for n in reversed(tensor.shape.tolist())])
        name = names.get(tensor.name)
        if name is None:
            _, layer, part, suffix = tensor.name.split(".")
            name = f"model.layers.{layer}.{parts[part]}.{suffix}"
            heads = {"attn_q": config.num_attention_heads, "attn_k": config.num_key_value_heads}.get(part)
            if heads:  # undo the converter's per-head row permutation (GGUF h·D+2i+s = HF h·D+s·D/2+i)
                d = values.shape[0] // heads
                values = values.reshape(heads, d // 2, 2, -1).transpose(0, 2, 1, 3).reshape(values.shape)
        state[name] = torch.from_numpy(np.ascontiguousarray(values))
        kinds[name] = tensor.tensor_type
    if config.tie_word_embeddings:
        state.setdefault("lm_head.weight", state["model.embed_tokens.weight"])
    missing, unexpected = llm.load_state_dict(state, strict=False)
    assert not unexpected and all("rotary" in k for k in missing), (missing, unexpected)
    for name, module in llm.named_modules():
        kind = kinds.get(name + ".weight")
        if not isinstance(module, nn.Linear) or kind is None:
            continue
        block = 32 if kind in (T.Q8_0, T.Q4_0) else 256 if kind in (T.Q4_K, T.Q6_K) else None
        if block:
            module.register_forward_pre_hook(lambda _m, args, block=block: (_round_to_q8_blocks(args[0], block),))
    return llm.eval()


def evaluate(folder, scenes, first_seed, verbose=False, ggufs=()):
    model = ExportedMGM(folder)
    decoders = [("checkpoint", model.llm)] + [(path, gguf_decoder(model.llm, path)) for path in ggufs]
    tokenizer_config = json.load(open(os.path.join(folder, "tokenizer_config.json")))
    codec = M.PromptCodec(os.path.join(folder, "tokenizer.model"))
    assert tokenizer_config.get("legacy") is False
    results = []
    for _ in decoders:
        results.append({"correct": {t: 0 for t in S.QUESTION_TYPES}, "total": {t: 0 for t in S.QUESTION_TYPES},
                        "confusion": {}, "replies": []})
    start = time.time()
    with torch.no_grad():
        for seed in range(first_seed, first_seed + scenes):
            scene = S.scene(seed)
            hr, lr = M.preprocess(scene.pixels[None])
            features = model.encode_images(hr, lr)
            for kind, question, answer in scene.questions:
                ids = codec.image_token_ids(codec.conversation([(question, None)]))
                before, after = codec.split_image(ids)
                for (label, llm), result in zip(decoders, results):
                    embed = llm.get_input_embeddings()
                    embeds = torch.cat([embed(torch.tensor(before)), features[0], embed(torch.tensor(after))])[None]
                    out = llm.generate(inputs_embeds=embeds, attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long),
                                       max_new_tokens=8, do_sample=False, num_beams=1, eos_token_id=codec.eos,
                                       pad_token_id=0)
                    reply = codec.tok.decode(out[0].tolist(), skip_special_tokens=True).strip()
                    result["total"][kind] += 1
                    result["correct"][kind] += int(reply == answer)
                    result["replies"].append({"seed": seed, "question": question, "reply": reply, "answer": answer})
                    if kind == "digit":
                        result["confusion"].setdefault(answer, {}).setdefault(reply, 0)
                        result["confusion"][answer][reply] += 1
                    if verbose and reply != answer:
                        print(f"{label} seed {seed}: {question} → {reply!r} (expected {answer})")
    seconds = time.time() - start
    out = []
    for (label, _), result in zip(decoders, results):
        total, correct = result["total"], result["correct"]
        accuracy = {t: correct[t] / total[t] for t in S.QUESTION_TYPES if total[t]}
        out.append({"folder": folder, "decoder": label, "scenes": scenes, "first_seed": first_seed, "questions": total,
                    "correct": correct, "accuracy": accuracy, "digit_confusion": result["confusion"],
                    "seconds": round(seconds, 1), "replies": result["replies"]})
    return out if ggufs else out[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--scenes", type=int, default=400)
    parser.add_argument("--first-seed", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--verbose", action="store_true", help="print every wrong answer")
    parser.add_argument("--gguf", action="append", default=[],
                        help="also evaluate the decoder of this mgm-quantize GGUF (repeatable)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = evaluate(args.folder, args.scenes, args.first_seed, args.verbose, args.gguf)
    for one in result if args.gguf else [result]:
        print(f"{args.folder} ({one['decoder']}): {args.scenes} scenes (seeds {args.first_seed}…), {one['seconds']} s")
        for kind in S.QUESTION_TYPES:
            if one["questions"][kind]:
                print(f"  {kind:6s} {one['correct'][kind]:5d}/{one['questions'][kind]:<5d} "
                      f"{100 * one['accuracy'][kind]:6.2f} %", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=1)


if __name__ == "__main__":
    main()
