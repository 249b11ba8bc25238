"""Tokenizer goldens: small trained vocabularies and the ids the reference libraries give.

Writes into Tests/MGLanguageTests/Fixtures/:
- tokenizer_sp_bpe.model        sentencepiece BPE, byte fallback, identity normaliser (Llama-like), vocab 1000
- tokenizer_sp_bpe_ws.model     sentencepiece BPE without byte fallback, remove_extra_whitespaces, vocab 500
- tokenizer_bytelevel.json      tokenizers byte-level BPE, Llama-3 split regex, ignore_merges (Llama-3-like)
- tokenizer_bytelevel_gpt2.json the same vocabulary behind ByteLevel(add_prefix_space, use_regex) (GPT-2-like)
- tokenizer_bytefallback.json   tokenizers BPE with byte fallback behind Metaspace (LlamaTokenizerFast-like)
- tokenizer_bytefallback_legacy.json  the same vocabulary behind Prepend+Replace normalisers (Llama-2 json)
- tokenizer_bytefallback_nfkc.json    the same with an NFKC normaliser in front
- tokenizer_goldens.json        test strings and expected ids/text for all of the above
- tokenizer_goldens_real.json   the same strings against ../shared/vocab (Llama-2 model+json, Llama-3 json),
                                only when ../shared is present (ids are our own generated data)

The slow `LlamaTokenizer` of transformers 4.36–4.40 (what MGM runs with use_fast=False) no longer
exists in transformers 5, so `SlowLlama` below reproduces it on top of the `sentencepiece`
library. Set MG_TRANSFORMERS4_PATH to a directory holding transformers 4.40 (e.g.
`pip install --target DIR transformers==4.40.0 tokenizers==0.19.1 huggingface_hub==0.23.4`) to
cross-check the reproduction against the real class; generation aborts on any difference.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

import sentencepiece as spm
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from . import common

SHARED = os.path.abspath(os.path.join(common.REPO, "..", "shared", "vocab"))
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPIECE = "\u2581"

WORDS = {
    "en": "the quick brown fox jumps over lazy dog hello world image model token what is this picture "
          "describe detail assistant user answer question vision language small large people city street "
          "don't it's we're they've I'm you'll he'd".split(),
    "fr": "le la les été café naïve où être élève français garçon déjà très où voilà qu'est-ce c'est".split(),
    "de": "der die das straße größe über schön mädchen fußball äpfel öffnen grüße".split(),
    "es": "el niño año señor corazón canción mañana pingüino también acción".split(),
    "ru": "привет мир как дела это изображение кошка собака город улица большой".split(),
    "el": "γειά σου κόσμε εικόνα γλώσσα μεγάλος μικρός".split(),
    "zh": list("这是一个测试图片中的人在做什么描述细节城市街道大小语言模型你好世界猫狗"),
    "ja": "これは テスト です カタカナ ひらがな 日本語 画像 説明".split(),
    "ko": "안녕하세요 세계 이미지 설명 고양이 강아지 도시".split(),
    "ar": "مرحبا بالعالم صورة قطة مدينة".split(),
    "hi": "नमस्ते दुनिया चित्र बिल्ली शहर".split(),
    "emoji": ["😀", "🙂", "🐱", "🐶", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "❤️", "✨", "🚀"],
    "num": ["0", "7", "42", "123", "2024", "3.14", "1,000", "99%", "$5", "12:30", "2024-05-01", "v1.2.3"],
    "code": ["def", "f(x):", "return", "x+1", "{", "}", "[0]", "==", "->", "//", "#", "\"str\"", "'c'", "a_b"],
}
PUNCT = [".", ",", "!", "?", ";", ":", "...", " -", "(", ")", "\"", "'"]
SPACES = [" ", " ", " ", " ", "  ", "\t", "\n", "\n\n", " \n", "   "]


def sentence(rng):
    langs = list(WORDS)
    words = []
    for _ in range(rng.randint(3, 14)):
        lang = rng.choice(langs if rng.random() < 0.3 else ["en", "en", "fr", "de", "zh", "ru", "num"])
        word = rng.choice(WORDS[lang])
        if rng.random() < 0.15:
            word = word.capitalize()
        if rng.random() < 0.05:
            word = word.upper()
        if rng.random() < 0.1:
            word += rng.choice(PUNCT)
        words.append(word)
    text = ""
    for index, word in enumerate(words):
        text += word if index == 0 else rng.choice(SPACES) + word
    return text


def corpus():
    rng = random.Random(1234)
    lines = [sentence(rng) for _ in range(6000)]
    lines += ["USER: " + sentence(rng) + " ASSISTANT: " + sentence(rng) for _ in range(500)]
    # Decomposed accents, so combining marks occur in training text.
    lines += ["cafe\u0301 e\u0301le\u0300ve nai\u0308ve" for _ in range(50)]
    return lines


HANDCRAFTED = [
    "", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "a", " a", "a ", "  a  ", "Hello world", "Hello  world",
    "Hello\tworld", "Hello\nworld", "Hello\n\n\nworld", "hello world\n", "\n hello", "1", "12", "123", "1234",
    "12345678901234567890", "3.14159", "1,000,000", "2024-05-01", "v1.2.3", "$100", "100%", "!!!", "...", "?!",
    "(a)", "[b]", "{c}", "<d>", "'s 't 're 've 'm 'll 'd", "I'M YOU'RE HE'S THEY'VE", "don't", "ſ's 'ſ 'K",
    "l'été", "naïve café", "cafe\u0301", "e\u0301\u0302x", "\u0301start", "Ω≈ç√∫", "日本語のテキスト", "中文测试，标点。",
    "한국어 텍스트", "Привет, мир!", "Γειά σου Κόσμε", "مرحبا بالعالم", "नमस्ते दुनिया", "ภาษาไทย", "😀", "😀😃😄",
    "👨\u200d👩\u200d👧\u200d👦", "👍🏽", "🇫🇷🇩🇪", "a😀b", " 😀 ", "\u200bzero width", "\u00a0nbsp\u00a0", "\u3000ideographic",
    "tab\tseparated\tvalues", "def f(x):\n    return x + 1\n", "    indented", "trailing   ", "mixed \t \n spaces",
    "</s>", "<s>", "<unk>", "Hello </s> world", "Hello</s>world", "Hello <s>.", "<s><s></s>", " </s> ", "</s> ",
    "USER: hi ASSISTANT: hello</s>USER: bye ASSISTANT:", "<|eot_id|>", "<|begin_of_text|>Hi",
    "<|start_header_id|>user<|end_header_id|>\n\nWhat?<|eot_id|>", "a<|eot_id|>b", "<|eot_id|> x", "<|end_of_text|>",
    "< s >", "<s", "s>", "<<s>>", "</s></s>", "<unk><unk>", SPIECE, SPIECE + SPIECE + "hello", "hello" + SPIECE + "world",
    " " + SPIECE + " ", "<0x0A>", "[USER] hi", "x [USER] y", "x[USER]y", "word<tool>word", "a <tool> b", "<tool>",
    "<image>\nWhat is this?", "\ufffd", "\x00", "\x7f", "\x1f", "\x85", "\u2028", "𝕳𝖊𝖑𝖑𝖔", "½ ² ³", "١٢٣٤",
    "Ⅻ ⅻ", "supercalifragilisticexpialidocious", "aaaaaaaaaaaaaaaaaaaa", "ababababababab", "    \n\n    \n",
    "\r\r\n\n", "   leading", "a  b   c    d", "x\n \ny", "a.\nb", "!\n\n", "Hi!\r\n", "'hello'", "\"quoted\"",
    "e-mail: test@example.com", "https://example.com/path?q=1&r=2", "C++ & C#", "#include <stdio.h>", "1+1=2",
    "x^2 + y^2 = z^2", "¿Qué?", "¡Hola!", "…", "—dash—", "“curly” ‘quotes’", "ﬁ ligature", "Ａ full width",
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the user's questions. USER: <image>\nDescribe the image. ASSISTANT:",
    "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful language and vision assistant.<|eot_id|>",
    "[INST] <image>\nWhat is it? [/INST]", "<start_of_turn>user\nHi<end_of_turn>\n", "<|im_start|>user\nhi<|im_end|>",
]


def test_strings():
    rng = random.Random(99)
    strings = list(HANDCRAFTED)
    for _ in range(130):
        text = sentence(rng)
        roll = rng.random()
        if roll < 0.15:
            text = rng.choice(SPACES) + text
        elif roll < 0.3:
            text = text + rng.choice(SPACES)
        elif roll < 0.4:
            text = text.replace(" ", rng.choice(["</s>", "<s>", "<|eot_id|>", " </s> ", "[USER]"]), 1)
        strings.append(text)
    strings = list(dict.fromkeys(strings))
    assert len(strings) >= 200
    return strings


# ---------------------------------------------------------------- sentencepiece and the slow LlamaTokenizer

def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def without_dummy_prefix(proto: bytes) -> bytes:
    """The model proto with normalizer_spec.add_dummy_prefix = false (what non-legacy HF loads)."""
    out, pos = bytearray(), 0
    while pos < len(proto):
        start = pos
        key, shift = 0, 0
        while True:
            byte = proto[pos]; pos += 1
            key |= (byte & 0x7F) << shift; shift += 7
            if not byte & 0x80:
                break
        wire = key & 7
        if wire == 0:
            while proto[pos] & 0x80:
                pos += 1
            pos += 1
        elif wire == 5:
            pos += 4
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, shift = 0, 0
            while True:
                byte = proto[pos]; pos += 1
                length |= (byte & 0x7F) << shift; shift += 7
                if not byte & 0x80:
                    break
            payload = proto[pos:pos + length]
            pos += length
            if key >> 3 == 3:  # normalizer_spec: a later scalar field wins in protobuf
                payload = payload + b"\x18\x00"
                out += _varint(key) + _varint(len(payload)) + payload
                continue
        out += proto[start:pos]
    return bytes(out)


class SlowLlama:
    """transformers 4.40 `LlamaTokenizer` (legacy flag, add_prefix_space=True, specials <unk> <s> </s>)."""

    def __init__(self, model_file, legacy=True):
        self.legacy = legacy
        proto = open(model_file, "rb").read()
        self.sp = spm.SentencePieceProcessor(model_proto=proto if legacy else without_dummy_prefix(proto))
        base = spm.SentencePieceProcessor(model_file=model_file)
        self.special = {tok: base.piece_to_id(tok) for tok in ("<unk>", "<s>", "</s>")}
        self.special_ids = set(self.special.values())
        self.unk_len = len(self.sp.encode("<unk>", out_type=str))

    def _split(self, text):
        chunks, cursor, i = [], 0, 0
        while i < len(text):
            match = max((tok for tok in self.special if text.startswith(tok, i)), key=len, default=None)
            if match:
                if cursor < i:
                    chunks.append(text[cursor:i])
                chunks.append(match)
                i = cursor = i + len(match)
            else:
                i += 1
        if cursor < len(text):
            chunks.append(text[cursor:])
        tokens = []
        for chunk in chunks:
            tokens.extend([chunk] if chunk in self.special else self._tokenize(chunk))
        return tokens

    def _tokenize(self, text):
        if self.legacy or not text.startswith((SPIECE, " ")):
            return self.sp.encode(text, out_type=str)
        tokens = self.sp.encode("<unk>" + text, out_type=str)
        return tokens[self.unk_len:] if len(tokens) >= self.unk_len else tokens

    def encode(self, text, add_special_tokens=True):
        if self.legacy or not text:
            tokens = self._split(text)
        else:
            tokens = self._split(SPIECE + text.replace(SPIECE, " "))
            if len(tokens) > 1 and tokens[0] == SPIECE and tokens[1] in self.special:
                tokens = tokens[1:]
        ids = [self.special[t] if t in self.special else self.sp.piece_to_id(t) for t in tokens]
        return ([self.special["<s>"]] if add_special_tokens else []) + ids

    def decode(self, ids, skip_special_tokens=False):
        tokens = [self.sp.id_to_piece(i) for i in ids if not (skip_special_tokens and i in self.special_ids)]
        if not tokens:
            return ""
        if tokens[0].startswith(SPIECE):
            tokens[0] = tokens[0][1:]
        out, pending, prev_special = "", [], False
        for i, token in enumerate(tokens):
            if token in self.special:
                if not prev_special and i != 0 and self.legacy:
                    out += " "
                out += self.sp.decode(pending) + token
                pending, prev_special = [], True
            else:
                if prev_special and i == 1 and not token.startswith(SPIECE):
                    out += " "
                pending.append(token)
                prev_special = False
        return out + self.sp.decode(pending)


CROSSCHECK = r"""
import json, sys
from transformers import LlamaTokenizer
model_file, legacy, strings_file, ids_file = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
tok = LlamaTokenizer(vocab_file=model_file, legacy=legacy)
strings = json.load(open(strings_file)); id_lists = json.load(open(ids_file))
print(json.dumps({
    "ids": [tok.encode(s) for s in strings],
    "plain": [tok.encode(s, add_special_tokens=False) for s in strings],
    "dec": [tok.decode(i) for i in id_lists],
    "dec_skip": [tok.decode(i, skip_special_tokens=True) for i in id_lists],
}))
"""


def crosscheck_slow(model_file, legacy, strings, id_lists, ours):
    path = os.environ.get("MG_TRANSFORMERS4_PATH")
    if not path:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for name, value in (("s.json", strings), ("i.json", id_lists), ("c.py", None)):
            files.append(os.path.join(tmp, name))
            with open(files[-1], "w") as handle:
                handle.write(CROSSCHECK if value is None else json.dumps(value))
        env = dict(os.environ, PYTHONPATH=path, TRANSFORMERS_VERBOSITY="error")
        result = subprocess.run([sys.executable, files[2], model_file, "1" if legacy else "0", files[0], files[1]],
                                env=env, capture_output=True, text=True, check=True)
    reference = json.loads(result.stdout.strip().splitlines()[-1])
    for key in reference:
        for index, (a, b) in enumerate(zip(reference[key], ours[key])):
            if a != b:
                raise SystemExit(f"slow LlamaTokenizer mismatch ({key}, legacy={legacy}) on {index}: {a!r} != {b!r}")
    return True


# ---------------------------------------------------------------- tokenizers-library vocabularies

def train_bytelevel(lines):
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
    trainer = trainers.BpeTrainer(vocab_size=1000, show_progress=False, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    tok.add_tokens([AddedToken("[USER]", lstrip=True, rstrip=True, special=False, normalized=False),
                    AddedToken("<tool>", single_word=True, special=False, normalized=False)])
    return json.loads(tok.to_str())


def gpt2_variant(spec):
    spec = json.loads(json.dumps(spec))
    spec["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    spec["post_processor"] = None
    spec["model"]["ignore_merges"] = False
    return spec


def train_bytefallback(lines):
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPIECE, prepend_scheme="first", split=True)
    trainer = trainers.BpeTrainer(vocab_size=800, show_progress=False, special_tokens=["<unk>", "<s>", "</s>"],
                                  limit_alphabet=120)
    tok.train_from_iterator(lines, trainer)
    spec = json.loads(tok.to_str())
    # Byte pieces right after the specials (ids 3…258), as in Llama-2's vocabulary.
    old = sorted(spec["model"]["vocab"].items(), key=lambda item: item[1])
    names = [name for name, _ in old[:3]] + [f"<0x{b:02X}>" for b in range(256)] + [name for name, _ in old[3:]]
    spec["model"]["vocab"] = {name: index for index, name in enumerate(names)}
    spec["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": SPIECE}, "content": " "}, {"type": "ByteFallback"},
        {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    spec["post_processor"] = {"type": "TemplateProcessing",
                              "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                              "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                       {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                              "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
    size = len(names)
    spec["added_tokens"] += [
        {"id": size, "content": "[USER]", "single_word": False, "lstrip": True, "rstrip": True, "normalized": False, "special": False},
        {"id": size + 1, "content": "<tool>", "single_word": True, "lstrip": False, "rstrip": False, "normalized": False, "special": False}]
    return spec


def nfkc_variant(spec):
    spec = legacy_variant(spec)
    spec["normalizer"]["normalizers"].insert(0, {"type": "NFKC"})
    return spec


def legacy_variant(spec):
    spec = json.loads(json.dumps(spec))
    spec["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": SPIECE}, {"type": "Replace", "pattern": {"String": " "}, "content": SPIECE}]}
    spec["pre_tokenizer"] = None
    return spec


# ---------------------------------------------------------------- golden records

def decode_id_lists(size, special_ids, byte_ids, seed):
    rng = random.Random(seed)
    lists = [[], list(special_ids)[:1]]
    for _ in range(40):
        ids = [rng.randrange(size) for _ in range(rng.randint(1, 10))]
        if rng.random() < 0.4:
            ids.insert(rng.randrange(len(ids) + 1), rng.choice(sorted(special_ids)))
        if byte_ids and rng.random() < 0.5:
            ids[rng.randrange(len(ids)):0] = [rng.choice(byte_ids) for _ in range(rng.randint(1, 3))]
        lists.append(ids)
    if byte_ids:
        lists += [[byte_ids[0xE4]], [byte_ids[0xE4], byte_ids[0xB8]], [byte_ids[0xE4], byte_ids[0xB8], byte_ids[0xAD]],
                  [byte_ids[0xB8], byte_ids[0x41]], [byte_ids[0xC3], byte_ids[0x28]], [byte_ids[0xF0], byte_ids[0x9F], byte_ids[0x98]]]
    return lists


def record(encode, decode, strings, id_lists):
    ids = [encode(s, True) for s in strings]
    plain = [encode(s, False) for s in strings]
    decoded = [decode(i, False) for i in ids]
    skipped = [decode(i, True) for i in ids]
    return {
        "ids": ids, "plain": plain,
        # Decoded text is stored only where it differs from the input, to keep the fixture small.
        "decoded": [None if d == s else d for d, s in zip(decoded, strings)],
        "decoded_skip": [None if d == s else d for d, s in zip(skipped, strings)],
        "decode_ids": id_lists,
        "decode_text": [decode(i, False) for i in id_lists],
        "decode_text_skip": [decode(i, True) for i in id_lists],
    }


def sp_record(model_file, legacy, strings, seed):
    slow = SlowLlama(model_file, legacy)
    base = spm.SentencePieceProcessor(model_file=model_file)
    byte_ids = [base.piece_to_id(f"<0x{b:02X}>") for b in range(256)] if base.piece_to_id("<0x41>") != base.unk_id() else []
    id_lists = decode_id_lists(base.get_piece_size(), slow.special_ids, byte_ids, seed)
    rec = record(slow.encode, slow.decode, strings, id_lists)
    ours = {"ids": rec["ids"], "plain": rec["plain"], "dec": rec["decode_text"], "dec_skip": rec["decode_text_skip"]}
    checked = crosscheck_slow(model_file, legacy, strings, id_lists, ours)
    print(f"[goldens] {os.path.basename(model_file)} legacy={legacy}: slow LlamaTokenizer reproduction "
          + ("matches transformers 4.x" if checked else "not cross-checked (MG_TRANSFORMERS4_PATH unset)"))
    return rec


def raw_sp_record(model_file, strings, seed):
    sp = spm.SentencePieceProcessor(model_file=model_file)
    id_lists = decode_id_lists(sp.get_piece_size(), {sp.unk_id(), sp.bos_id(), sp.eos_id()}, [], seed)
    return {"ids": [sp.encode(s) for s in strings], "decoded": [sp.decode(sp.encode(s)) for s in strings],
            "decode_ids": id_lists, "decode_text": [sp.decode(i) for i in id_lists]}


def json_record(path, strings, seed):
    tok = Tokenizer.from_file(path)
    specials = {t.content for t in tok.get_added_tokens_decoder().values() if t.special}
    special_ids = {tok.token_to_id(t) for t in specials}
    byte_ids = [tok.token_to_id(f"<0x{b:02X}>") for b in range(256)] if tok.token_to_id("<0x41>") is not None else []
    id_lists = decode_id_lists(tok.get_vocab_size(with_added_tokens=True), special_ids, byte_ids, seed)
    return record(lambda s, a: tok.encode(s, add_special_tokens=a).ids,
                  lambda i, k: tok.decode(i, skip_special_tokens=k), strings, id_lists)


def generate():
    out = common.fixture_dir("MGLanguage")
    lines = corpus()
    strings = test_strings()

    def train_sp(name, **options):
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_prefix=os.path.join(out, name), model_type="bpe",
            normalization_rule_name="identity", num_threads=1, shuffle_input_sentence=False,
            minloglevel=2, **options)
        os.remove(os.path.join(out, name + ".vocab"))
        return os.path.join(out, name + ".model")

    sp_main = train_sp("tokenizer_sp_bpe", vocab_size=1000, byte_fallback=True, remove_extra_whitespaces=False,
                       split_digits=True, allow_whitespace_only_pieces=True, user_defined_symbols=["<sep>", "::"])
    sp_ws = train_sp("tokenizer_sp_bpe_ws", vocab_size=500, character_coverage=0.98, remove_extra_whitespaces=True)

    json_files = {}
    bytelevel = train_bytelevel(lines)
    bytefallback = train_bytefallback(lines)
    for name, spec in (("tokenizer_bytelevel", bytelevel), ("tokenizer_bytelevel_gpt2", gpt2_variant(bytelevel)),
                       ("tokenizer_bytefallback", bytefallback),
                       ("tokenizer_bytefallback_legacy", legacy_variant(bytefallback)),
                       ("tokenizer_bytefallback_nfkc", nfkc_variant(bytefallback))):
        json_files[name] = os.path.join(out, name + ".json")
        with open(json_files[name], "w", encoding="utf-8") as handle:
            json.dump(spec, handle, ensure_ascii=False, separators=(",", ":"))

    goldens = {"strings": strings, "tokenizers": {
        "sp_bpe_legacy": sp_record(sp_main, True, strings, 1),
        "sp_bpe_nonlegacy": sp_record(sp_main, False, strings, 2),
        "sp_bpe_raw": raw_sp_record(sp_main, strings, 3),
        "sp_bpe_ws_raw": raw_sp_record(sp_ws, strings, 4),
    }}
    for seed, (name, path) in enumerate(json_files.items(), start=10):
        goldens["tokenizers"][name.removeprefix("tokenizer_")] = json_record(path, strings, seed)
    with open(os.path.join(out, "tokenizer_goldens.json"), "w", encoding="utf-8") as handle:
        json.dump(goldens, handle, ensure_ascii=False, separators=(",", ":"))

    if not os.path.isdir(SHARED):
        print(f"[goldens] {SHARED} is absent: tokenizer_goldens_real.json kept as it is")
        return
    real = {"strings": strings, "tokenizers": {
        "llama2_model_legacy": sp_record(os.path.join(SHARED, "llama2", "tokenizer.model"), True, strings, 20),
        "llama2_model_nonlegacy": sp_record(os.path.join(SHARED, "llama2", "tokenizer.model"), False, strings, 21),
        "llama2_json": json_record(os.path.join(SHARED, "llama2", "tokenizer.json"), strings, 22),
        "llama3_json": json_record(os.path.join(SHARED, "llama3", "tokenizer.json"), strings, 23),
    }}
    with open(os.path.join(out, "tokenizer_goldens_real.json"), "w", encoding="utf-8") as handle:
        json.dump(real, handle, ensure_ascii=False, separators=(",", ":"))
