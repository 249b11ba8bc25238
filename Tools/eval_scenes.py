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


def evaluate(folder, scenes, first_seed, verbose=False):
    model = ExportedMGM(folder)
    tokenizer_config = json.load(open(os.path.join(folder, "tokenizer_config.json")))
    codec = M.PromptCodec(os.path.join(folder, "tokenizer.model"))
    assert tokenizer_config.get("legacy") is False
    embed = model.llm.get_input_embeddings()
    correct = {t: 0 for t in S.QUESTION_TYPES}
    total = {t: 0 for t in S.QUESTION_TYPES}
    confusion = {}
    replies = []
    start = time.time()
    with torch.no_grad():
        for seed in range(first_seed, first_seed + scenes):
            scene = S.scene(seed)
            hr, lr = M.preprocess(scene.pixels[None])
            features = model.encode_images(hr, lr)
            for kind, question, answer in scene.questions:
                ids = codec.image_token_ids(codec.conversation([(question, None)]))
                before, after = codec.split_image(ids)
                embeds = torch.cat([embed(torch.tensor(before)), features[0], embed(torch.tensor(after))])[None]
                out = model.llm.generate(inputs_embeds=embeds, attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long),
                                         max_new_tokens=8, do_sample=False, num_beams=1, eos_token_id=codec.eos,
                                         pad_token_id=0)
                reply = codec.tok.decode(out[0].tolist(), skip_special_tokens=True).strip()
                total[kind] += 1
                correct[kind] += int(reply == answer)
                replies.append({"seed": seed, "question": question, "reply": reply, "answer": answer})
                if kind == "digit":
                    confusion.setdefault(answer, {}).setdefault(reply, 0)
                    confusion[answer][reply] += 1
                if verbose and reply != answer:
                    print(f"seed {seed}: {question} → {reply!r} (expected {answer})")
    seconds = time.time() - start
    accuracy = {t: correct[t] / total[t] for t in S.QUESTION_TYPES if total[t]}
    return {"folder": folder, "scenes": scenes, "first_seed": first_seed, "questions": total, "correct": correct,
            "accuracy": accuracy, "digit_confusion": confusion, "seconds": round(seconds, 1), "replies": replies}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--scenes", type=int, default=400)
    parser.add_argument("--first-seed", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--verbose", action="store_true", help="print every wrong answer")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = evaluate(args.folder, args.scenes, args.first_seed, args.verbose)
    print(f"{args.folder}: {args.scenes} scenes (seeds {args.first_seed}…), {result['seconds']} s")
    for kind in S.QUESTION_TYPES:
        if result["questions"][kind]:
            print(f"  {kind:6s} {result['correct'][kind]:5d}/{result['questions'][kind]:<5d} "
                  f"{100 * result['accuracy'][kind]:6.2f} %")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=1)


if __name__ == "__main__":
    main()
