"""Tiny tokenizers for the Mini-Gemini checkpoint fixtures (helper of mgm_checkpoints.py).

One SentencePiece BPE model per family, trained deterministically on the corpus of tokenizers.py
(byte fallback, so any text round-trips), written with the side files a release ships:
- vicuna (MGM-7B, MGM-7B-HD): `tokenizer.model` only, loaded as the slow `LlamaTokenizer`
  (`use_fast=False`), `legacy: false`; reference = `SlowLlama` of tokenizers.py.
- gemma (MGM-2B): `tokenizer.model` + `tokenizer.json` (GemmaTokenizerFast as transformers 4.38
  wrote it: Replace(" "→"▁") normaliser, no pre-tokenizer, <bos> template) with <pad>0 <eos>1
  <bos>2 <unk>3 <start_of_turn>4 <end_of_turn>5; reference = the `tokenizers` library on the json.
- mixtral (MGM-8x7B): `tokenizer.model` + `tokenizer.json` (LlamaTokenizerFast in the legacy
  layout Mixtral-Instruct ships: Prepend("▁") + Replace normalisers, <s> template); reference =
  the `tokenizers` library on the json.
- llama3 (MGM-8B): `tokenizer.json` only, in Meta-Llama-3's layout (the Llama-3 split regex then
  ByteLevel, byte-level BPE with `ignore_merges`, `<|begin_of_text|>` template) with its first ten
  special tokens after the trained vocabulary (`<|start_header_id|>`, `<|end_header_id|>`,
  `<|eot_id|>`, …) and `tokenizer_class` PreTrainedTokenizerFast; reference = the `tokenizers`
  library on the json.
"""
import json
import os

import sentencepiece as spm
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, processors

from . import tokenizers as tokgold

SPIECE = "\u2581"

FAMILIES = {
    "vicuna": dict(vocab_size=768, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, add_dummy_prefix=True),
    "mixtral": dict(vocab_size=640, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, add_dummy_prefix=True),
    "gemma": dict(vocab_size=896, pad_id=0, eos_id=1, bos_id=2, unk_id=3, add_dummy_prefix=False,
                  pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>",
                  user_defined_symbols=["<start_of_turn>", "<end_of_turn>"]),
}


LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")
# Meta-Llama-3's ids 128000…128009, in order, here placed after the trained vocabulary.
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                   "<|reserved_special_token_1|>", "<|reserved_special_token_2|>", "<|reserved_special_token_3|>",
                   "<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_4|>", "<|eot_id|>"]


def _corpus():
    # A few template strings so the vocabularies have pieces for them (prompts stay short).
    extra = ["A chat between a curious user and an artificial intelligence assistant.",
             "USER: ASSISTANT: [INST] [/INST] user model Image 1: Image 2: describe the image"] * 40
    return tokgold.corpus() + extra


def train(family, folder):
    """Writes `tokenizer.model` into `folder` and returns its path."""
    os.makedirs(folder, exist_ok=True)
    prefix = os.path.join(folder, "tokenizer")
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus()), model_prefix=prefix, model_type="bpe",
        normalization_rule_name="identity", num_threads=1, shuffle_input_sentence=False, minloglevel=2,
        byte_fallback=True, remove_extra_whitespaces=False, split_digits=True, allow_whitespace_only_pieces=True,
        **FAMILIES[family])
    os.remove(prefix + ".vocab")
    return prefix + ".model"


def _bpe_from_sentencepiece(model_file, unk):
    sp = spm.SentencePieceProcessor(model_file=model_file)
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    from transformers.convert_slow_tokenizer import generate_merges
    merges = generate_merges(vocab)
    return Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=unk, fuse_unk=True, byte_fallback=True)), sp


def write_fast_json(family, model_file, folder):
    """tokenizer.json in the 4.x layout of the family's real file."""
    if family == "gemma":
        tok, sp = _bpe_from_sentencepiece(model_file, "<unk>")
        tok.normalizer = normalizers.Replace(" ", SPIECE)
        tok.decoder = decoders.Sequence([decoders.Replace(SPIECE, " "), decoders.ByteFallback(), decoders.Fuse()])
        bos = "<bos>"
        specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
    else:
        tok, sp = _bpe_from_sentencepiece(model_file, "<unk>")
        tok.normalizer = normalizers.Sequence([normalizers.Prepend(SPIECE), normalizers.Replace(" ", SPIECE)])
        tok.decoder = decoders.Sequence([decoders.Replace(SPIECE, " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(" ", 1, 0)])
        bos = "<s>"
        specials = ["<unk>", "<s>", "</s>"]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, sp.piece_to_id(bos))])
    for name in specials:
        assert tok.token_to_id(name) == sp.piece_to_id(name), name
    path = os.path.join(folder, "tokenizer.json")
    tok.save(path, pretty=False)
    return path


def write_llama3_json(folder):
    """A byte-level BPE trained on the corpus, in the layout of Meta-Llama-3's tokenizer.json."""
    from tokenizers import Regex, pre_tokenizers, trainers

    os.makedirs(folder, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, min_frequency=2, show_progress=False, special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_corpus(), trainer)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in LLAMA3_SPECIALS])
    bos = LLAMA3_SPECIALS[0]
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos}:1 $B:1",
                                      special_tokens=[(bos, tok.token_to_id(bos))])])
    data = json.loads(tok.to_str())
    data["model"]["ignore_merges"] = True
    path = os.path.join(folder, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, separators=(",", ":"))
    return path


def special_ids(folder):
    """Added-token content → id of the folder's tokenizer.json ({} without one)."""
    path = os.path.join(folder, "tokenizer.json")
    if not os.path.exists(path):
        return {}
    return {t["content"]: t["id"] for t in json.load(open(path, encoding="utf-8"))["added_tokens"]}


def _added(content, special=True):
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
            "special": special}


def write_configs(family, folder, max_length):
    if family == "gemma":
        names = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
        config = {"add_bos_token": True, "add_eos_token": False,
                  "added_tokens_decoder": {str(i): _added(n) for i, n in enumerate(names)},
                  "additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"],
                  "bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>", "pad_token": "<pad>",
                  "clean_up_tokenization_spaces": False, "legacy": None, "model_max_length": max_length,
                  "padding_side": "right", "sp_model_kwargs": {}, "spaces_between_special_tokens": False,
                  "tokenizer_class": "GemmaTokenizer", "use_default_system_prompt": False}
        special_map = {"additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"],
                       "bos_token": _added("<bos>"), "eos_token": _added("<eos>"), "pad_token": _added("<pad>"),
                       "unk_token": _added("<unk>")}
    elif family == "llama3":
        ids = special_ids(folder)
        reserved = "<|reserved_special_token_0|>"
        # MGM sets unk = pad = <|reserved_special_token_0|> for Llama-3 (reference §10.1).
        config = {"added_tokens_decoder": {str(ids[n]): _added(n) for n in LLAMA3_SPECIALS},
                  "bos_token": LLAMA3_SPECIALS[0], "clean_up_tokenization_spaces": False, "eos_token": "<|eot_id|>",
                  "model_input_names": ["input_ids", "attention_mask"], "model_max_length": max_length,
                  "pad_token": reserved, "padding_side": "right", "tokenizer_class": "PreTrainedTokenizerFast",
                  "unk_token": reserved}
        special_map = {"bos_token": _added(LLAMA3_SPECIALS[0]), "eos_token": _added("<|eot_id|>"),
                       "pad_token": reserved, "unk_token": reserved}
    else:
        names = ["<unk>", "<s>", "</s>"]
        config = {"add_bos_token": True, "add_eos_token": False,
                  "added_tokens_decoder": {str(i): _added(n) for i, n in enumerate(names)},
                  "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<unk>",
                  "clean_up_tokenization_spaces": False, "legacy": family == "mixtral",
                  "model_max_length": max_length, "padding_side": "right", "sp_model_kwargs": {},
                  "spaces_between_special_tokens": False, "tokenizer_class": "LlamaTokenizer",
                  "use_default_system_prompt": False}
        special_map = {"bos_token": _added("<s>"), "eos_token": _added("</s>"), "pad_token": "<unk>",
                       "unk_token": _added("<unk>")}
    for name, value in (("tokenizer_config.json", config), ("special_tokens_map.json", special_map)):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
            json.dump(value, handle, indent=2, ensure_ascii=False)
            handle.write("\n")


class ReferenceTokenizer:
    """What MGM's `AutoTokenizer` call gives for a checkpoint folder: `encode` = `tokenizer(text).input_ids`,
    `decode` = `batch_decode(..., skip_special_tokens=True)` (no clean-up: Llama/Gemma classes)."""

    def __init__(self, folder, use_fast):
        config = json.load(open(os.path.join(folder, "tokenizer_config.json"), encoding="utf-8"))
        model_file = os.path.join(folder, "tokenizer.model")
        json_file = os.path.join(folder, "tokenizer.json")
        self.fast = use_fast and os.path.exists(json_file)
        if self.fast:
            self.tok = Tokenizer.from_file(json_file)
            self.bos_token_id = self.tok.token_to_id(config["bos_token"])
            self.eos_token_id = self.tok.token_to_id(config["eos_token"])
            self.vocab_size = self.tok.get_vocab_size(with_added_tokens=True)
        else:
            self.slow = tokgold.SlowLlama(model_file, legacy=bool(config.get("legacy", True)))
            self.bos_token_id = self.slow.special["<s>"]
            self.eos_token_id = self.slow.special["</s>"]
            self.vocab_size = self.slow.sp.get_piece_size()

    def encode(self, text):
        if self.fast:
            return self.tok.encode(text, add_special_tokens=True).ids
        return self.slow.encode(text, add_special_tokens=True)

    def decode(self, ids):
        if self.fast:
            return self.tok.decode(ids, skip_special_tokens=True)
        return self.slow.decode(ids, skip_special_tokens=True)


def build(family, folder, max_length):
    """Trains and writes every tokenizer file of `family` into `folder`."""
    if family == "llama3":
        path = write_llama3_json(folder)
        write_configs(family, folder, max_length)
        return path
    model_file = train(family, folder)
    if family != "vicuna":
        write_fast_json(family, model_file, folder)
    write_configs(family, folder, max_length)
    return model_file


def sentencepiece_agrees(folder, family, texts):
    """Sanity check: the fast json and the plain SentencePiece model give the same pieces."""
    if family in ("vicuna", "llama3"):
        return True
    sp = spm.SentencePieceProcessor(model_file=os.path.join(folder, "tokenizer.model"))
    tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    for text in texts:
        fast = tok.encode(text, add_special_tokens=False).ids
        if fast != sp.encode(text):
            print(f"    note: {family} json vs sentencepiece differ on {text[:40]!r}")
            return False
    return True
