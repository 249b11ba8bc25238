#!/usr/bin/env python3
"""Train the tiny Mini-Gemini of the scenes demo (issue #6) on CPU.

    OMP_WAIT_POLICY=PASSIVE nice -n 10 python3 Tools/train_scenes.py --out /work/scratch/scenes/full \
        --minutes 35 --threads 1
    OMP_WAIT_POLICY=PASSIVE nice -n 10 python3 Tools/train_scenes.py --out /work/scratch/scenes/lr \
        --minutes 35 --threads 1 --lr-only --tokenizer /work/scratch/scenes/full/tokenizer.model

Everything trains from scratch; nothing is frozen. Two phases within the wall-time budget:
1. (full model only, `--pretrain-minutes`) the ConvNeXt learns to read digits on 64×64 crops of
   training scenes that contain the digit — a sixteenth of the cost of a 256×256 scene — through a
   classifier on the fused-map cell under the digit's centre (discarded afterwards).
2. end to end: every step draws fresh training scenes (Tools/scenes/scenes.py, TRAINING ranges:
   wider sizes, backgrounds and digit heights than the evaluation domain) and asks all of each
   scene's questions, shuffled, as one multi-turn vicuna_v1 conversation; the loss covers answer
   tokens (and their </s>) only. An auxiliary linear digit classifier on the fused LR token that
   holds the digit's centre adds a direct signal for the towers and the mining (discarded at
   export; the LR-only ablation gets the same head on its CLIP token).
The learning-rate schedule runs on wall time (warm-up, then cosine to 10 %), so a run fits its
budget on a shared machine. On an oversubscribed machine use one thread and a passive OpenMP wait
policy: two spinning threads that are rarely scheduled together waste most of their CPU time.
The output folder gets `tokenizer.model`, `checkpoint.pt` (state dict + metadata) and `log.jsonl`;
Tools/export_scenes_model.py turns it into the released layout.
"""
import argparse
import json
import math
import os
import random
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenes"))

import numpy as np  # noqa: E402
import sentencepiece as spm  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import model as M  # noqa: E402
import scenes as S  # noqa: E402

TRAIN_SEED_BASE = 1 << 40  # evaluation uses seeds below 2^32, so training never sees them


def train_tokenizer(out_dir):
    """SentencePiece BPE with byte fallback (Llama-style) on the template and every Q/A string."""
    rng = random.Random(0)
    # The system prompt opens every sequence: repeating it makes its words single pieces.
    lines = [M.SYSTEM] * 300 + ["USER:", "ASSISTANT:", "</s>"] + S.vocabulary_lines()
    for seed in range(600):
        scene = S.scene(TRAIN_SEED_BASE - 1 - seed, S.TRAINING)
        turns = [(q, a) for _, q, a in scene.questions]
        rng.shuffle(turns)
        lines.append(M.PromptCodec.conversation(turns).replace("<image>\n", ""))
    prefix = os.path.join(out_dir, "tokenizer")
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=prefix, model_type="bpe", vocab_size=512,
        byte_fallback=True, normalization_rule_name="identity", remove_extra_whitespaces=False,
        split_digits=True, num_threads=1, shuffle_input_sentence=False, hard_vocab_limit=False,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2)
    os.remove(prefix + ".vocab")
    return prefix + ".model"


def make_batch(codec, seeds, ranges, rng):
    scenes = [S.scene(seed, ranges) for seed in seeds]
    examples, kinds = [], []
    for scene in scenes:
        questions = list(scene.questions)
        rng.shuffle(questions)
        ids, labels = codec.training_example([(q, a) for _, q, a in questions])
        prefix, suffix = codec.split_image(ids)
        suffix_labels = labels[len(prefix) + 1:]
        examples.append((prefix, suffix, suffix_labels))
        # Each answer's target span (without its </s>) and type, for the running accuracies.
        starts = [i for i in range(len(suffix_labels)) if suffix_labels[i] != M.IGNORE_INDEX
                  and (i == 0 or suffix_labels[i - 1] == M.IGNORE_INDEX)]
        ends = [i for i in range(len(suffix_labels)) if suffix_labels[i] == codec.eos]
        kinds.append(list(zip(starts, ends, [t for t, _, _ in questions])))
    prefix = examples[0][0]
    assert all(e[0] == prefix for e in examples)
    length = max(len(e[1]) for e in examples)
    suffix = torch.zeros(len(examples), length, dtype=torch.long)
    labels = torch.full((len(examples), length), M.IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros(len(examples), length, dtype=torch.long)
    for row, (_, ids, labs, ) in enumerate(examples):
        suffix[row, :len(ids)] = torch.tensor(ids)
        labels[row, :len(ids)] = torch.tensor(labs)
        mask[row, :len(ids)] = 1
    hr, lr = M.preprocess(np.stack([s.pixels for s in scenes]))
    # The LR token whose 32×32 pixel block holds the digit's centre, and the digit (auxiliary loss).
    block = S.SIDE // (M.IMAGE_SIZE // M.CLIP_CONFIG["patch_size"])
    digit_token = torch.tensor([(s.digit.y + s.digit.height // 2) // block * (S.SIDE // block)
                                + (s.digit.x + s.digit.width // 2) // block for s in scenes])
    digit_value = torch.tensor([s.digit.value for s in scenes])
    return hr, lr, torch.tensor(prefix), suffix, labels, mask, kinds, digit_token, digit_value, scene_targets(scenes)


def scene_targets(scenes):
    """Targets of the pooled auxiliary head: shape presence [3], count [1], colour per shape kind
    [3] and shape per colour [5] (−100 where the question does not apply)."""
    presence, count, colour_of, kind_of = [], [], [], []
    for scene in scenes:
        kinds = [s.kind for s in scene.shapes]
        colours = [s.color for s in scene.shapes]
        presence.append([float(k in kinds) for k in range(3)])
        count.append(len(scene.shapes) - 1)
        colour_of.append([colours[kinds.index(k)] if kinds.count(k) == 1 else M.IGNORE_INDEX for k in range(3)])
        kind_of.append([kinds[colours.index(c)] if colours.count(c) == 1 else M.IGNORE_INDEX for c in range(5)])
    return torch.tensor(presence), torch.tensor(count), torch.tensor(colour_of), torch.tensor(kind_of)


def pooled_loss(logits, targets):
    presence, count, colour_of, kind_of = targets
    loss = F.binary_cross_entropy_with_logits(logits[:, :3], presence)
    loss = loss + F.cross_entropy(logits[:, 3:7], count)
    loss = loss + F.cross_entropy(logits[:, 7:22].reshape(-1, 5), colour_of.reshape(-1), ignore_index=M.IGNORE_INDEX)
    return loss + F.cross_entropy(logits[:, 22:37].reshape(-1, 3), kind_of.reshape(-1), ignore_index=M.IGNORE_INDEX)


def forward(model, head, pooled_head, batch, n_image, freeze_hr):
    hr, lr, prefix, suffix, labels, mask, _, digit_token, digit_value, targets = batch
    tokens = model.lr_features(lr)
    if model.use_hr:
        with torch.set_grad_enabled(not freeze_hr):
            aux = model.aux_map(hr)
        tokens = tokens + model.unified_resampler_fast(tokens, aux)
    # Auxiliary digit classifier on the fused token that holds the digit (discarded at export): a
    # direct training signal for the towers and the mining, the same for the LR-only ablation.
    aux_logits = head(tokens[torch.arange(len(tokens)), digit_token])
    aux_loss = F.cross_entropy(aux_logits.float(), digit_value)
    aux_acc = (aux_logits.argmax(-1) == digit_value).float().mean().item()
    # Pooled auxiliary head on the mean token: the scene-level answers, so the towers learn features
    # the language model can read even before its attention singles out image tokens.
    aux_loss = aux_loss + pooled_loss(pooled_head(tokens.mean(1)).float(), targets)
    features = model.mm_projector(tokens)
    embeds = model.splice(prefix, features, suffix)
    full_mask = torch.cat([torch.ones(len(suffix), len(prefix) + n_image, dtype=torch.long), mask], dim=1)
    logits = model.llm(inputs_embeds=embeds, attention_mask=full_mask).logits
    offset = len(prefix) + n_image
    # Position t predicts token t+1: the logits before suffix token j sit at offset + j − 1.
    pred = logits[:, offset - 1:-1]
    loss = F.cross_entropy(pred.float().reshape(-1, pred.shape[-1]), labels.reshape(-1), ignore_index=M.IGNORE_INDEX)
    return loss, aux_loss, aux_acc, pred


def crop_batch(seeds, rng, side=64):
    """HR crops (normalised like the HR input) that contain the whole digit, and the digits."""
    crops, values, cells = [], [], []
    for seed in seeds:
        scene = S.scene(seed, S.TRAINING)
        d = scene.digit
        x = rng.randint(max(0, d.x + d.width - side), min(d.x, S.SIDE - side))
        y = rng.randint(max(0, d.y + d.height - side), min(d.y, S.SIDE - side))
        crops.append(scene.pixels[y:y + side, x:x + side])
        values.append(d.value)
        # The stride-4 cell of the fused map under the digit's centre.
        cells.append((d.y + d.height // 2 - y) // 4 * (side // 4) + (d.x + d.width // 2 - x) // 4)
    x = torch.from_numpy((np.stack(crops).astype(np.float64) * (1 / 255)).astype(np.float32)).permute(0, 3, 1, 2)
    mean = torch.tensor(M.MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(M.STD, dtype=torch.float32).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(), torch.tensor(values), torch.tensor(cells)


def pretrain_hr_tower(model, args, log):
    """Phase 1 (full model only): the ConvNeXt learns to read digits on 64×64 crops (1/16 of the
    cost of a 256×256 scene). A classifier on the fused-map cell under the digit's centre is the
    training head; it is discarded afterwards."""
    head = torch.nn.Sequential(torch.nn.LayerNorm(model.aux_channels), torch.nn.Linear(model.aux_channels, 10))
    params = list(model.vision_stem.parameters()) + list(model.vision_stages.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.05)
    rng = random.Random(args.seed + 1)
    start, step, accs, losses = time.time(), 0, [], []
    budget = args.pretrain_minutes * 60
    while time.time() - start < budget:
        progress = (time.time() - start) / budget
        for group in opt.param_groups:
            group["lr"] = args.lr * min(1.0, (step + 1) / 50) * (0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * progress)))
        seeds = [TRAIN_SEED_BASE - (1 << 36) - step * args.pretrain_batch - i for i in range(args.pretrain_batch)]
        crops, values, cells = crop_batch(seeds, rng)
        fused = model.aux_map(crops).flatten(2)
        logits = head(fused[torch.arange(len(cells)), :, cells])
        loss = F.cross_entropy(logits, values)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        losses.append(loss.item())
        accs.append((logits.argmax(-1) == values).float().mean().item())
        if step % 20 == 0:
            record = {"pretrain_step": step, "seconds": round(time.time() - start, 1),
                      "loss": round(sum(losses) / len(losses), 4), "digit_acc": round(sum(accs) / len(accs), 3)}
            losses, accs = [], []
            print(json.dumps(record), flush=True)
            log.write(json.dumps(record) + "\n")
            log.flush()
    return step


def check_codec(codec):
    texts = []
    for seed in range(100):
        turns = [(q, a) for _, q, a in S.scene(seed, S.TRAINING).questions]
        random.Random(seed).shuffle(turns)
        for index in range(len(turns)):
            texts.append(codec.conversation(turns[:index + 1]))
            texts.append(codec.conversation(turns[:index] + [(turns[index][0], None)]))
    codec.check_encoder([c for t in texts for c in t.split("<image>")])
    scene = S.scene(5, S.TRAINING)
    turns = [(q, a) for _, q, a in scene.questions]
    ids, labels = codec.training_example(turns)
    for index in range(len(turns)):
        partial = codec.image_token_ids(codec.conversation(turns[:index] + [(turns[index][0], None)]))
        assert ids[:len(partial)] == partial, "prompt prefix tokenises differently inside the conversation"
    targets = [codec.tok.decode([i for i in labels if i != M.IGNORE_INDEX])]
    print("targets:", targets, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=35.0)
    parser.add_argument("--lr-only", action="store_true", help="ablation: no HR tower, no mining")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bf16", type=int, default=0, help="bfloat16 autocast (CPU AMX/AVX512-BF16)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pretrain-minutes", type=float, default=14.0, help="phase 1 (HR tower on digit crops)")
    parser.add_argument("--pretrain-batch", type=int, default=64)
    parser.add_argument("--freeze-hr-after-pretrain", type=int, default=1,
                        help="phase 2 runs the ConvNeXt without gradients (a third of its cost)")
    parser.add_argument("--resume", help="checkpoint.pt of an earlier run to continue from")
    parser.add_argument("--aux-weight", type=float, default=1.0, help="weight of the auxiliary digit loss")
    parser.add_argument("--tokenizer", help="reuse this tokenizer.model (the ablation shares the full model's)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    if args.tokenizer:
        tokenizer = os.path.join(args.out, "tokenizer.model")
        if os.path.abspath(args.tokenizer) != os.path.abspath(tokenizer):
            with open(args.tokenizer, "rb") as src, open(tokenizer, "wb") as dst:
                dst.write(src.read())
    else:
        tokenizer = train_tokenizer(args.out)
    codec = M.PromptCodec(tokenizer)
    check_codec(codec)

    model = M.TinyMGM(codec.vocab_size, use_hr=not args.lr_only)
    print(f"parameters: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M, vocab {codec.vocab_size}", flush=True)
    resumed = None
    if args.resume:  # continue a finished run for more minutes (fresh optimiser state and schedule)
        resumed = torch.load(args.resume, map_location="cpu", weights_only=False)
        model.load_state_dict(resumed["state_dict"])
        args.pretrain_minutes = 0
    if model.use_hr:
        with torch.no_grad():  # the reassociated mining equals the official one
            hr, lr = M.preprocess(S.scene(1).pixels[None])
            tokens, aux = model.lr_features(lr), model.aux_map(hr)
            a, b = model.unified_resampler(tokens, aux), model.unified_resampler_fast(tokens, aux)
            assert torch.allclose(a, b, atol=1e-4, rtol=1e-4), (a - b).abs().max()
    head = torch.nn.Linear(M.CLIP_CONFIG["hidden_size"], 10)
    pooled_head = torch.nn.Linear(M.CLIP_CONFIG["hidden_size"], 37)
    params = list(model.named_parameters()) + [("aux_head." + n, p) for n, p in head.named_parameters()] \
        + [("aux_pooled." + n, p) for n, p in pooled_head.named_parameters()]
    decay = [p for n, p in params if p.ndim >= 2 and "embed" not in n]
    other = [p for n, p in params if not (p.ndim >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98))
    n_image = (M.IMAGE_SIZE // M.CLIP_CONFIG["patch_size"]) ** 2
    rng = random.Random(args.seed)
    log = open(os.path.join(args.out, "log.jsonl"), "a")
    start = time.time()
    pretrain_steps = pretrain_hr_tower(model, args, log) if model.use_hr and args.pretrain_minutes > 0 else 0
    budget = args.minutes * 60 - (time.time() - start)
    start = time.time()
    step, seen, last_save = 0, 0, start
    history = resumed.get("history", []) + [{k: resumed[k] for k in ("steps", "scenes", "pretrain_steps", "seconds")
                                             if k in resumed}] if resumed else []
    offset = sum(h.get("scenes", 0) for h in history)  # a resumed run draws scenes it has not seen
    running = {t: [] for t in S.QUESTION_TYPES}
    losses, aux_accs = [], []

    def save(final=False):
        torch.save({"state_dict": model.state_dict(), "use_hr": model.use_hr, "vocab_size": codec.vocab_size,
                    "steps": step, "scenes": seen, "pretrain_steps": pretrain_steps, "seconds": time.time() - start, "args": vars(args), "history": history},
                   os.path.join(args.out, "checkpoint.pt.tmp"))
        os.replace(os.path.join(args.out, "checkpoint.pt.tmp"), os.path.join(args.out, "checkpoint.pt"))

    model.train()
    while True:
        elapsed = time.time() - start
        progress = elapsed / budget
        if progress >= 1:
            break
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        for group in opt.param_groups:
            group["lr"] = lr
        seeds = [TRAIN_SEED_BASE + args.seed * (1 << 32) + offset + seen + i for i in range(args.batch)]
        batch = make_batch(codec, seeds, S.TRAINING, rng)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(args.bf16)):
            loss, aux_loss, aux_acc, pred = forward(model, head, pooled_head, batch, n_image,
                                                    model.use_hr and args.freeze_hr_after_pretrain)
        opt.zero_grad(set_to_none=True)
        (loss + args.aux_weight * aux_loss).backward()
        aux_accs.append(aux_acc)
        torch.nn.utils.clip_grad_norm_([p for _, p in params], 1.0)
        opt.step()
        step += 1
        seen += args.batch
        losses.append(loss.item())
        labels, kinds = batch[4], batch[6]
        with torch.no_grad():
            guess = pred.argmax(-1)
            for row, spans in enumerate(kinds):
                for begin, end, kind in spans:
                    running[kind].append(int(bool((guess[row, begin:end] == labels[row, begin:end]).all())))
        if step % 20 == 0:
            record = {"step": step, "scenes": seen, "seconds": round(time.time() - start, 1), "lr": lr,
                      "loss": round(sum(losses) / len(losses), 4), "aux_digit_acc": round(sum(aux_accs) / len(aux_accs), 3),
                      "answer_acc": {k: round(sum(v[-400:]) / max(1, len(v[-400:])), 3) for k, v in running.items()}}
            losses, aux_accs = [], []
            print(json.dumps(record), flush=True)
            log.write(json.dumps(record) + "\n")
            log.flush()
        if time.time() - last_save > 300:
            save()
            last_save = time.time()
    save(final=True)
    print(f"done: {step} steps, {seen} scenes, {time.time() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
