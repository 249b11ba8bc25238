#!/usr/bin/env python3
"""Train the tiny Mini-Gemini of the scenes demo (issue #6) on CPU.

    OMP_WAIT_POLICY=PASSIVE nice -n 10 python3 Tools/train_scenes.py --out /work/scratch/scenes/full
    OMP_WAIT_POLICY=PASSIVE nice -n 10 python3 Tools/train_scenes.py --out /work/scratch/scenes/lr \
        --lr-only --tokenizer /work/scratch/scenes/full/tokenizer.model

Everything trains from scratch, in phases (budgets in minutes of CPU time per thread, so a run
costs the same wherever it runs and pausing it or sharing the machine does not shorten it):
1. `--crop-minutes` (full model only): the ConvNeXt learns to read digits on 64×64 crops of
   training scenes (a sixteenth of the cost of a 256×256 scene) through a classifier on the
   fused-map cell under the digit's centre.
2. `--vision-minutes`: the CLIP tower and the patch info mining learn per-token targets
   (Tools/scenes/dense_targets.py: which shape is centred in each 32×32 block, which covers it,
   which digit is centred in it) plus scene-level ones (shape presence, count) through linear
   heads on the fused tokens; the ConvNeXt keeps training on digit crops meanwhile, and its
   full-scene map is computed without gradients.
3. `--language-minutes`: the towers and the mining are frozen; their tokens for `--cache-scenes`
   training scenes are computed once, and the `mlp2x_gelu` projector and the Llama decoder learn
   the vicuna_v1 conversations (every question of a scene, shuffled, as one multi-turn
   conversation; loss on the answers and their </s>, as MGM's preprocess_v1).
4. `--finetune-minutes` (optional): everything but the ConvNeXt end to end on fresh scenes, the
   language loss plus the token heads' loss.
All heads are discarded at export (Tools/export_scenes_model.py). Scenes come from
Tools/scenes/scenes.py's TRAINING ranges (wider sizes, backgrounds and digit heights than the
evaluation domain) with seeds ≥ 2⁴⁰, which the evaluation (seeds < 2³²) never draws. On a shared
machine use a passive OpenMP wait policy: spinning threads that are rarely scheduled together
waste most of their CPU time. The output folder gets `tokenizer.model`, `checkpoint.pt` (state
dict, heads, metadata) and `log.jsonl`.
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

import dense_targets as D  # noqa: E402
import model as M  # noqa: E402
import scenes as S  # noqa: E402

TRAIN_SEED_BASE = 1 << 40  # evaluation uses seeds below 2^32, so training never sees them
# Disjoint seed ranges per phase, so no phase repeats another's scenes.
CROP_SEEDS, VISION_SEEDS, CACHE_SEEDS, FINETUNE_SEEDS = (TRAIN_SEED_BASE + (k << 36) for k in range(1, 5))
POOLED_OUTPUTS = 3 + 4 + 3 * 5 + 5 * 3


class Clock:
    """CPU seconds per thread of this process: a budget that sharing the machine cannot shrink."""

    def __init__(self, threads):
        self.threads = threads
        self.start = time.process_time()

    def minutes(self):
        return (time.process_time() - self.start) / self.threads / 60


class Log:
    def __init__(self, path):
        self.file = open(path, "a")

    def write(self, record):
        line = json.dumps(record)
        print(line, flush=True)
        self.file.write(line + "\n")
        self.file.flush()


def cosine(base, step, warmup, progress, floor=0.1):
    return base * min(1.0, (step + 1) / warmup) * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


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


# ---------------------------------------------------------------- heads (training only)

class Heads(torch.nn.Module):
    """Linear read-outs of the fused tokens: per token (centre, cover, digit), the digit at its
    centre token, and scene-level answers from the mean token."""

    def __init__(self, dim):
        super().__init__()
        self.centre = torch.nn.Linear(dim, D.SHAPE_CLASSES)
        self.cover = torch.nn.Linear(dim, D.SHAPE_CLASSES)
        self.digit = torch.nn.Linear(dim, D.DIGIT_CLASSES)
        self.pooled = torch.nn.Linear(dim, POOLED_OUTPUTS)

    def loss(self, tokens, targets):
        """(loss, accuracies) for fused tokens [B, 64, C] and `vision_targets(scenes)`."""
        centre, cover, digit, scene_level = targets
        rows = torch.arange(len(tokens))
        centre_logits, cover_logits, digit_logits = self.centre(tokens), self.cover(tokens), self.digit(tokens)
        loss = F.cross_entropy(centre_logits.flatten(0, 1), centre.flatten())
        loss = loss + F.cross_entropy(cover_logits.flatten(0, 1), cover.flatten())
        loss = loss + F.cross_entropy(digit_logits.flatten(0, 1), digit.flatten())
        # The token that holds the digit is 1 of 64: a direct term on it keeps the value from
        # drowning in the "no digit" class.
        digit_token = (digit > 0).float().argmax(1)
        at_digit = digit_logits[rows, digit_token]
        loss = loss + F.cross_entropy(at_digit, digit[rows, digit_token])
        loss = loss + pooled_loss(self.pooled(tokens.mean(1)), scene_level)
        with torch.no_grad():
            shapes = centre > 0
            accuracies = {
                "centre": (centre_logits.argmax(-1) == centre).all(1).float().mean().item(),
                "centre_shapes": (centre_logits.argmax(-1)[shapes] == centre[shapes]).float().mean().item(),
                "cover": (cover_logits.argmax(-1) == cover).float().mean().item(),
                "digit": (at_digit.argmax(-1) == digit[rows, digit_token]).float().mean().item(),
                "digit_tokens": (digit_logits.argmax(-1) == digit).all(1).float().mean().item(),
            }
        return loss, accuracies


def scene_level_targets(scenes):
    """Shape presence [3], count [1], colour per shape kind [3] and shape per colour [5]
    (−100 where the question does not apply)."""
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


def vision_targets(scenes):
    return D.batch_token_targets(scenes) + (scene_level_targets(scenes),)


def fused_tokens(model, hr, lr):
    tokens = model.lr_features(lr)
    if model.use_hr:
        with torch.no_grad():  # the ConvNeXt learns from digit crops only (a third of the cost)
            aux = model.aux_map(hr)
        tokens = tokens + model.unified_resampler_fast(tokens, aux)
    return tokens


# ---------------------------------------------------------------- conversations

def conversation_batch(codec, question_lists, rng):
    """Shared prefix ids, padded suffix ids / labels / mask [B, L] and each answer's span and type."""
    examples, kinds = [], []
    for questions in question_lists:
        questions = list(questions)
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
    for row, (_, ids, labs) in enumerate(examples):
        suffix[row, :len(ids)] = torch.tensor(ids)
        labels[row, :len(ids)] = torch.tensor(labs)
        mask[row, :len(ids)] = 1
    return torch.tensor(prefix), suffix, labels, mask, kinds


def language_loss(model, tokens, text):
    """Cross-entropy of the answers given fused tokens [B, 64, C], and the predictions."""
    prefix, suffix, labels, mask, _ = text
    features = model.mm_projector(tokens)
    embeds = model.splice(prefix, features, suffix)
    n_image = tokens.shape[1]
    full_mask = torch.cat([torch.ones(len(suffix), len(prefix) + n_image, dtype=torch.long), mask], dim=1)
    logits = model.llm(inputs_embeds=embeds, attention_mask=full_mask).logits
    offset = len(prefix) + n_image
    # Position t predicts token t+1: the logits before suffix token j sit at offset + j − 1.
    pred = logits[:, offset - 1:-1]
    loss = F.cross_entropy(pred.reshape(-1, pred.shape[-1]), labels.reshape(-1), ignore_index=M.IGNORE_INDEX)
    return loss, pred


class AnswerAccuracy:
    """Running teacher-forced exact-answer accuracy per question type (last 400 answers)."""

    def __init__(self):
        self.running = {t: [] for t in S.QUESTION_TYPES}

    def add(self, pred, text):
        labels, kinds = text[2], text[4]
        guess = pred.argmax(-1)
        for row, spans in enumerate(kinds):
            for begin, end, kind in spans:
                self.running[kind].append(int(bool((guess[row, begin:end] == labels[row, begin:end]).all())))

    def summary(self):
        return {k: round(sum(v[-400:]) / max(1, len(v[-400:])), 3) for k, v in self.running.items()}


# ---------------------------------------------------------------- phase 1: digit crops

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


class CropTrainer:
    """The ConvNeXt reads the digit under a fused-map cell of a 64×64 crop (head discarded)."""

    def __init__(self, model, lr, batch, seed):
        self.model, self.batch, self.step = model, batch, 0
        self.head = torch.nn.Sequential(torch.nn.LayerNorm(model.aux_channels), torch.nn.Linear(model.aux_channels, 10))
        params = list(model.vision_stem.parameters()) + list(model.vision_stages.parameters()) + list(self.head.parameters())
        self.opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
        self.base_lr = lr
        self.rng = random.Random(seed)

    def train_step(self, progress):
        for group in self.opt.param_groups:
            group["lr"] = cosine(self.base_lr, self.step, 50, progress, floor=0.2)
        seeds = [CROP_SEEDS + self.step * self.batch + i for i in range(self.batch)]
        self.step += 1
        crops, values, cells = crop_batch(seeds, self.rng)
        fused = self.model.aux_map(crops).flatten(2)
        logits = self.head(fused[torch.arange(len(cells)), :, cells])
        loss = F.cross_entropy(logits, values)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.item(), (logits.argmax(-1) == values).float().mean().item()


def train_crops(crops, minutes, log):
    clock, losses, accs = Clock(torch.get_num_threads()), [], []
    while clock.minutes() < minutes:
        loss, acc = crops.train_step(clock.minutes() / minutes)
        losses.append(loss)
        accs.append(acc)
        if crops.step % 20 == 0:
            log.write({"phase": "crops", "step": crops.step, "minutes": round(clock.minutes(), 2),
                       "loss": round(sum(losses) / len(losses), 4), "digit_acc": round(sum(accs) / len(accs), 3)})
            losses, accs = [], []


# ---------------------------------------------------------------- phases 2–4

def run_phase(name, modules, base_lr, minutes, args, log, step, weight_decay=0.05):
    """AdamW on `modules` (no decay on biases, norms and embeddings), warm-up then cosine on the
    CPU clock; `step(index, progress)` returns the loss tensor and a dict of numbers to log
    (averaged over 20 steps, or taken as is when `step` marks them with a leading "~"). The
    checkpoint is saved every `--save-minutes`, so a run stopped early still leaves its weights."""
    named = [(n, p) for m in modules for n, p in m.named_parameters()]
    decay = [p for n, p in named if p.ndim >= 2 and "embed" not in n]
    other = [p for n, p in named if not (p.ndim >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0.0}],
                            lr=base_lr, betas=(0.9, 0.98))
    params = decay + other
    clock, index, totals, saved = Clock(args.threads), 0, {}, 0.0
    while clock.minutes() < minutes:
        if clock.minutes() - saved >= args.save_minutes:
            args.save()
            saved = clock.minutes()
        progress = clock.minutes() / minutes
        for group in opt.param_groups:
            group["lr"] = cosine(base_lr, index, args.warmup, progress)
        loss, numbers = step(index, progress)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        index += 1
        numbers["loss"] = loss.item()
        for key, value in numbers.items():
            totals.setdefault(key, []).append(value)
        if index % 20 == 0:
            record = {"phase": name, "step": index, "minutes": round(clock.minutes(), 2)}
            for key, values in totals.items():
                record[key.lstrip("~")] = values[-1] if key.startswith("~") else round(sum(values) / len(values), 4)
            log.write(record)
            totals = {}
    return index


def scene_batch(seed_base, index, args):
    scenes = [S.scene(seed_base + index * args.batch + i, S.TRAINING) for i in range(args.batch)]
    return scenes, M.preprocess(np.stack([s.pixels for s in scenes]))


def mining_modules(model):
    if not model.use_hr:
        return []
    return [model.vlm_uni_query_projector, model.vlm_uni_aux_projector, model.vlm_uni_val_projector]


def train_vision(model, heads, crops, args, log):
    """Phase 2: CLIP and mining learn the token heads; the ConvNeXt keeps learning digit crops."""
    def step(index, progress):
        scenes, (hr, lr) = scene_batch(VISION_SEEDS, index, args)
        loss, numbers = heads.loss(fused_tokens(model, hr, lr), vision_targets(scenes))
        if crops is not None and index % args.crop_every == 0:
            _, numbers["crop_digit"] = crops.train_step(progress)
        return loss, numbers

    return run_phase("vision", [model.clip, heads] + mining_modules(model), args.lr, args.vision_minutes, args, log, step)


@torch.no_grad()
def cache_tokens(model, count, log, chunk=64):
    """Fused tokens [count, 64, C] and the questions of `count` fresh training scenes."""
    model.eval()
    tokens, questions = [], []
    for start in range(0, count, chunk):
        scenes = [S.scene(CACHE_SEEDS + start + i, S.TRAINING) for i in range(min(chunk, count - start))]
        hr, lr = M.preprocess(np.stack([s.pixels for s in scenes]))
        tokens.append(fused_tokens(model, hr, lr))
        questions.extend(s.questions for s in scenes)
    log.write({"phase": "cache", "scenes": count})
    model.train()
    return torch.cat(tokens), questions


def train_language(model, codec, cache, args, log):
    """Phase 3: projector and decoder on the frozen towers' cached tokens."""
    tokens, questions = cache
    rng, accuracy = random.Random(args.seed + 2), AnswerAccuracy()

    def step(index, progress):
        rows = [rng.randrange(len(questions)) for _ in range(args.language_batch)]
        text = conversation_batch(codec, [questions[r] for r in rows], rng)
        loss, pred = language_loss(model, tokens[rows], text)
        with torch.no_grad():
            accuracy.add(pred, text)
        return loss, {"~answer_acc": accuracy.summary()}

    return run_phase("language", [model.mm_projector, model.llm], args.language_lr, args.language_minutes, args, log, step)


def train_end_to_end(model, heads, codec, args, log):
    """Phase 4: everything but the ConvNeXt on fresh scenes, answers plus token heads."""
    rng, accuracy = random.Random(args.seed + 3), AnswerAccuracy()

    def step(index, progress):
        scenes, (hr, lr) = scene_batch(FINETUNE_SEEDS, index, args)
        tokens = fused_tokens(model, hr, lr)
        text = conversation_batch(codec, [s.questions for s in scenes], rng)
        loss, pred = language_loss(model, tokens, text)
        head_loss, _ = heads.loss(tokens, vision_targets(scenes))
        with torch.no_grad():
            accuracy.add(pred, text)
        return loss + args.aux_weight * head_loss, {"~answer_acc": accuracy.summary()}

    modules = [model.clip, model.mm_projector, model.llm, heads] + mining_modules(model)
    return run_phase("finetune", modules, args.finetune_lr, args.finetune_minutes, args, log, step, weight_decay=0.0)


# ---------------------------------------------------------------- driver

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


def check_fast_mining(model):
    with torch.no_grad():  # the reassociated mining equals the official one
        hr, lr = M.preprocess(S.scene(1).pixels[None])
        tokens, aux = model.lr_features(lr), model.aux_map(hr)
        a, b = model.unified_resampler(tokens, aux), model.unified_resampler_fast(tokens, aux)
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4), (a - b).abs().max()


def prepare_tokenizer(args):
    if not args.tokenizer:
        return train_tokenizer(args.out)
    tokenizer = os.path.join(args.out, "tokenizer.model")
    if os.path.abspath(args.tokenizer) != os.path.abspath(tokenizer):
        with open(args.tokenizer, "rb") as src, open(tokenizer, "wb") as dst:
            dst.write(src.read())
    return tokenizer


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--lr-only", action="store_true", help="ablation: no HR tower, no mining")
    parser.add_argument("--tokenizer", help="reuse this tokenizer.model (the ablation shares the full model's)")
    parser.add_argument("--resume", help="checkpoint.pt of an earlier run: start from its weights and heads")
    parser.add_argument("--phases", default="crops,vision,language,finetune",
                        help="comma-separated subset of crops,vision,language,finetune to run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crop-minutes", type=float, default=10.0)
    parser.add_argument("--crop-batch", type=int, default=64)
    parser.add_argument("--crop-every", type=int, default=2, help="a crop step every N vision steps")
    parser.add_argument("--vision-minutes", type=float, default=15.0)
    parser.add_argument("--batch", type=int, default=32, help="scenes per vision / fine-tuning step")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--cache-scenes", type=int, default=8192)
    parser.add_argument("--language-minutes", type=float, default=20.0)
    parser.add_argument("--language-batch", type=int, default=32)
    parser.add_argument("--language-lr", type=float, default=2e-3)
    parser.add_argument("--finetune-minutes", type=float, default=0.0)
    parser.add_argument("--finetune-lr", type=float, default=2e-4)
    parser.add_argument("--aux-weight", type=float, default=0.5, help="weight of the token heads when fine-tuning")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--save-minutes", type=float, default=3.0, help="checkpoint interval within a phase")
    return parser.parse_args()


def main():
    args = parse_arguments()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    codec = M.PromptCodec(prepare_tokenizer(args))
    check_codec(codec)
    model = M.TinyMGM(codec.vocab_size, use_hr=not args.lr_only)
    heads = Heads(M.CLIP_CONFIG["hidden_size"])
    history = []
    if args.resume:
        resumed = torch.load(args.resume, map_location="cpu", weights_only=False)
        model.load_state_dict(resumed["state_dict"])
        if "heads" in resumed:
            heads.load_state_dict(resumed["heads"])
        history = resumed.get("history", [])
    print(f"parameters: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M, vocab {codec.vocab_size}", flush=True)
    if model.use_hr:
        check_fast_mining(model)
    log = Log(os.path.join(args.out, "log.jsonl"))
    phases = args.phases.split(",")
    crops = CropTrainer(model, args.lr, args.crop_batch, args.seed + 1) if model.use_hr else None
    # A resumed run keeps the crop classifier too: a fresh one's gradients would first push noise
    # into the trained ConvNeXt (older checkpoints have none and start it fresh).
    if args.resume and crops is not None and "crop_head" in resumed:
        crops.head.load_state_dict(resumed["crop_head"])
    clock = Clock(args.threads)
    record = {"phases": phases, "args": dict(vars(args))}

    def save():
        record["minutes"] = round(clock.minutes(), 2)
        torch.save({"state_dict": model.state_dict(), "heads": heads.state_dict(), "use_hr": model.use_hr,
                    "vocab_size": codec.vocab_size, "history": history + [record],
                    **({"crop_head": crops.head.state_dict()} if crops is not None else {})},
                   os.path.join(args.out, "checkpoint.pt.tmp"))
        os.replace(os.path.join(args.out, "checkpoint.pt.tmp"), os.path.join(args.out, "checkpoint.pt"))

    args.save = save
    model.train()
    if "crops" in phases and crops is not None:
        train_crops(crops, args.crop_minutes, log)
        save()
    if "vision" in phases:
        record["vision_steps"] = train_vision(model, heads, crops, args, log)
        save()
    if "language" in phases:
        cache = cache_tokens(model, args.cache_scenes, log)
        record["language_steps"] = train_language(model, codec, cache, args, log)
        save()
    if "finetune" in phases and args.finetune_minutes > 0:
        record["finetune_steps"] = train_end_to_end(model, heads, codec, args, log)
        save()
    print(f"done: {clock.minutes():.1f} CPU-minutes per thread", flush=True)


if __name__ == "__main__":
    main()
