#!/usr/bin/env python3
"""Writes the fuzz seed corpora (Fuzz/Corpus/<Harness>/) and the malformed-input corpus
(Tests/MGPipelineTests/Fixtures/MalformedInputs/), deterministically (except the legacy-format
seed, whose storage keys torch derives from object addresses).

Seeds are small valid inputs (plus a few near-misses) so that libFuzzer starts from files the
parsers accept; the malformed inputs are the hostile cases of issue #8, one file per case, each
asserted by Tests/MGPipelineTests/MalformedInputTests.swift.

Needs numpy, Pillow, torch, tokenizers (Tools/requirements.txt). Run from anywhere:
    HF_HUB_OFFLINE=1 python3 Fuzz/make_corpora.py
"""
import io
import json
import os
import shutil
import struct
import zipfile
import zlib

import numpy as np
import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "Fuzz", "Corpus")
MALFORMED = os.path.join(ROOT, "Tests", "MGPipelineTests", "Fixtures", "MalformedInputs")
FIXTURES = os.path.join(ROOT, "Tests")


def write(folder, name, data):
    path = os.path.join(folder, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def copy_fixture(folder, name, relative):
    with open(os.path.join(FIXTURES, relative), "rb") as f:
        write(folder, name, f.read())


# ---------------------------------------------------------------------------------------------
# safetensors

def safetensors(tensors, metadata=None, header_override=None):
    """tensors: list of (name, dtype, shape, raw bytes), laid out in order."""
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = header_override if header_override is not None else json.dumps(header, separators=(",", ":"))
    text = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(text)) + text + data


def f32(*values):
    return struct.pack(f"<{len(values)}f", *values)


def raw_header(header_json, data=b""):
    text = header_json.encode()
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds(out):
    write(out, "one_f32.safetensors", safetensors([("w", "F32", [2], f32(1, 2))]))
    write(out, "mixed.safetensors", safetensors(
        [("a.weight", "F16", [2, 2], np.arange(4, dtype=np.float16).tobytes()),
         ("b.bias", "BF16", [3], b"\x80\x3f" * 3),
         ("empty", "F32", [0, 4], b""),
         ("scalar", "F32", [], f32(7))],
        metadata={"format": "pt"}))
    write(out, "i64_u8.safetensors", safetensors(
        [("ids", "I64", [2], struct.pack("<2q", 1, -1)), ("mask", "U8", [3], b"\x00\x01\x02")]))


def safetensors_malformed(out):
    good = safetensors([("w", "F32", [2, 2], f32(1, 2, 3, 4))])
    write(out, "st_truncated_prefix.safetensors", good[:5])
    write(out, "st_truncated_header.safetensors", good[:30])
    write(out, "st_truncated_data.safetensors", good[:-4])
    write(out, "st_absurd_header_length.safetensors", struct.pack("<Q", 1 << 62) + good[8:])
    write(out, "st_negative_shape.safetensors",
          raw_header('{"w":{"dtype":"F32","shape":[-2,-2],"data_offsets":[0,16]}}', f32(1, 2, 3, 4)))
    write(out, "st_zero_shape_with_data.safetensors",
          raw_header('{"w":{"dtype":"F32","shape":[0,4],"data_offsets":[0,16]}}', f32(1, 2, 3, 4)))
    # 2^32 · 2^32 elements: the product overflows Int.
    write(out, "st_overflowing_shape.safetensors",
          raw_header('{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}', f32(1, 2, 3, 4)))
    # 2^61 elements fit Int, their 2^63 bytes do not.
    write(out, "st_overflowing_bytes.safetensors",
          raw_header('{"w":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,16]}}', f32(1, 2, 3, 4)))
    write(out, "st_offsets_outside_file.safetensors",
          raw_header('{"w":{"dtype":"F32","shape":[4],"data_offsets":[1048576,1048592]}}', f32(1, 2, 3, 4)))
    write(out, "st_reversed_offsets.safetensors",
          raw_header('{"w":{"dtype":"F32","shape":[0],"data_offsets":[16,0]}}', f32(1, 2, 3, 4)))
    write(out, "st_overlapping_tensors.safetensors",
          raw_header('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},'
                     '"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', f32(1, 2, 3, 4)))
    write(out, "st_unknown_dtype.safetensors",
          raw_header('{"w":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}', f32(1, 2, 3, 4)))
    write(out, "st_duplicate_name.safetensors",
          raw_header('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                     '"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', f32(1, 2, 3, 4)))
    write(out, "st_header_not_utf8.safetensors", struct.pack("<Q", 4) + b'{"\xff"')
    write(out, "st_header_not_json.safetensors", raw_header('{"w": [1, 2,', f32(1)))

    # Shard indexes: a folder each, with one valid shard beside the index.
    shard = safetensors([("a.weight", "F32", [2], f32(1, 2))])
    for case, weight_map in {
        "st_index_path_escapes": {"a.weight": "../model-00001-of-00001.safetensors"},
        "st_index_missing_shard": {"a.weight": "model-00001-of-00001.safetensors", "b.weight": "model-00002-of-00002.safetensors"},
        "st_index_tensor_not_in_shard": {"a.weight": "model-00001-of-00001.safetensors", "c.weight": "model-00001-of-00001.safetensors"},
    }.items():
        write(out, f"{case}/model-00001-of-00001.safetensors", shard)
        write(out, f"{case}/model.safetensors.index.json", json.dumps({"metadata": {}, "weight_map": weight_map}, indent=1))


# ---------------------------------------------------------------------------------------------
# PyTorch .bin

def torch_bytes(obj, zip_format=True):
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=zip_format)
    return buffer.getvalue()


def rezip(original, replace):
    """Rewrites a torch zip with some entries' contents replaced (stored, uncompressed)."""
    source = zipfile.ZipFile(io.BytesIO(original))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            data = replace.get(info.filename.split("/", 1)[1], source.read(info.filename))
            target.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def hostile_pickle(module, name):
    """A protocol-2 pickle calling module.name('id') — never unpickled here, only written."""
    return (b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n"
            b"X\x02\x00\x00\x00id\x85R}q\x00b.")


def torch_seeds(out):
    generator = torch.Generator().manual_seed(0)
    small = {"w": torch.rand(2, 3, generator=generator), "b": torch.arange(3, dtype=torch.float16)}
    write(out, "zip_f32_f16.bin", torch_bytes(small))
    write(out, "zip_bf16_view.bin", torch_bytes({"t": torch.arange(6.0).to(torch.bfloat16).reshape(2, 3).t()}))
    write(out, "legacy.bin", torch_bytes({"w": torch.arange(4.0)}, zip_format=False))
    write(out, "nested.bin", torch_bytes({"state_dict": {"visual": {"proj": torch.ones(2)}}, "epoch": 3}))


def torch_malformed(out):
    valid = torch_bytes({"w": torch.arange(8.0)[3:5]})
    write(out, "pt_os_system.bin", rezip(valid, {"data.pkl": hostile_pickle("os", "system")}))
    write(out, "pt_builtins_eval.bin", rezip(valid, {"data.pkl": hostile_pickle("builtins", "eval")}))
    write(out, "pt_subprocess_popen.bin", rezip(valid, {"data.pkl": hostile_pickle("subprocess", "Popen")}))
    write(out, "pt_truncated.bin", valid[: len(valid) // 2])
    write(out, "pt_storage_size_mismatch.bin", rezip(valid, {"data/0": f32(1, 2, 3)}))

    # The local header of data.pkl declares 1 byte less than the central directory.
    stored = rezip(valid, {})
    at = stored.index(b"PK\x03\x04")
    compressed, uncompressed = struct.unpack_from("<II", stored, at + 18)
    patched = bytearray(stored)
    struct.pack_into("<II", patched, at + 18, compressed - 1, uncompressed - 1)
    write(out, "pt_zip_local_size_differs.bin", bytes(patched))

    # The view starts at element 3 of an 8-element storage; moving it to element 7 runs past the end.
    pickle = zipfile.ZipFile(io.BytesIO(valid)).read("archive/data.pkl")
    assert pickle.count(b"K\x03K\x02\x85") == 1, "storage offset pattern not found"
    write(out, "pt_tensor_outside_storage.bin", rezip(valid, {"data.pkl": pickle.replace(b"K\x03K\x02\x85", b"K\x07K\x02\x85")}))


# ---------------------------------------------------------------------------------------------
# Images

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(image, **options):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def jpeg_bytes(image, **options):
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def noise(width, height, mode="RGB", seed=0):
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1, "CMYK": 4}[mode]
    array = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    return Image.fromarray(array[:, :, 0] if channels == 1 else array, mode)


def png_seeds(out):
    write(out, "rgb_8x6.png", png_bytes(noise(8, 6)))
    write(out, "rgba_5x5.png", png_bytes(noise(5, 5, "RGBA")))
    write(out, "gray_7x3.png", png_bytes(noise(7, 3, "L")))
    write(out, "palette_6x6.png", png_bytes(noise(6, 6).quantize(7)))
    write(out, "interlaced_9x9.png", png_bytes(noise(9, 9), optimize=False))
    write(out, "gray16_4x4.png", png_bytes(Image.fromarray(np.arange(16, dtype=np.uint16).reshape(4, 4) * 4000)))
    write(out, "wide_40x1.png", png_bytes(noise(40, 1)))
    write(out, "tall_1x40.png", png_bytes(noise(1, 40)))
    write(out, "bilevel_10x3.png", png_bytes(noise(10, 3, "L").convert("1")))


def jpeg_seeds(out):
    write(out, "baseline_16x8.jpg", jpeg_bytes(noise(16, 8), quality=80))
    write(out, "progressive_9x7.jpg", jpeg_bytes(noise(9, 7), quality=70, progressive=True))
    write(out, "gray_8x8.jpg", jpeg_bytes(noise(8, 8, "L")))
    write(out, "cmyk_8x4.jpg", jpeg_bytes(noise(8, 4, "CMYK")))
    write(out, "subsampled_17x13.jpg", jpeg_bytes(noise(17, 13), subsampling=2))
    write(out, "wide_48x1.jpg", jpeg_bytes(noise(48, 1)))


def image_malformed(out):
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
    idat = png_chunk(b"IDAT", zlib.compress(b"\x00" * 301))
    write(out, "png_100000x100000.png", b"\x89PNG\r\n\x1a\n" + ihdr + idat + png_chunk(b"IEND", b""))
    valid = png_bytes(noise(8, 8))
    bad_crc = bytearray(valid)
    bad_crc[8 + 8 + 13] ^= 0xFF  # first byte of the IHDR CRC
    write(out, "png_bad_crc.png", bytes(bad_crc))
    write(out, "png_truncated.png", valid[: len(valid) // 2])
    jpeg = jpeg_bytes(noise(64, 64), quality=90)
    scan = jpeg.index(b"\xff\xda")
    write(out, "jpeg_cut_mid_scan.jpg", jpeg[: scan + (len(jpeg) - scan) // 2])
    # A baseline header announcing 65500×65500 (the format's 16-bit sides cannot reach 100000).
    sof = jpeg.index(b"\xff\xc0")
    huge = bytearray(jpeg)
    struct.pack_into(">HH", huge, sof + 5, 65500, 65500)
    write(out, "jpeg_65500x65500.jpg", bytes(huge))
    # 60000 pixels in about 300 bytes: within every pixel limit, but its padded square has 3.6e9.
    write(out, "png_1x60000_pads_too_large.png", png_bytes(Image.new("RGB", (1, 60000), (200, 10, 10))))
    write(out, "gif_not_supported.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")
    write(out, "empty_image.png", b"")


# ---------------------------------------------------------------------------------------------
# Tokenizers and configurations

def tiny_tokenizer_json(kind):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    vocabulary = {"<unk>": 0, "<s>": 1, "</s>": 2}
    if kind == "bytelevel":
        for character in pre_tokenizers.ByteLevel.alphabet():
            vocabulary.setdefault(character, len(vocabulary))
        merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he")]
        for left, right in merges:
            vocabulary.setdefault(left + right, len(vocabulary))
        tokenizer = Tokenizer(models.BPE(vocabulary, merges))
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
    else:
        for index in range(256):
            vocabulary[f"<0x{index:02X}>"] = len(vocabulary)
        for piece in ["▁", "a", "b", "▁a", "ab"]:
            vocabulary.setdefault(piece, len(vocabulary))
        tokenizer = Tokenizer(models.BPE(vocabulary, [("▁", "a"), ("a", "b")], unk_token="<unk>", byte_fallback=True, fuse_unk=True))
        tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tokenizer.add_special_tokens(["<s>", "</s>"])
    return tokenizer.to_str()


def tokenizer_seeds(out):
    write(out, "bytelevel.json", tiny_tokenizer_json("bytelevel"))
    write(out, "bytefallback.json", tiny_tokenizer_json("bytefallback"))


def tokenizer_malformed(out):
    base = json.loads(tiny_tokenizer_json("bytefallback"))
    unknown_model = json.loads(json.dumps(base))
    unknown_model["model"] = {"type": "WordPiece", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}
    write(out, "tokenizer_unknown_model.json", json.dumps(unknown_model))
    missing_model = {key: value for key, value in base.items() if key != "model"}
    write(out, "tokenizer_missing_model.json", json.dumps(missing_model))
    unknown_normalizer = json.loads(json.dumps(base))
    unknown_normalizer["normalizer"] = {"type": "Precompiled", "precompiled_charsmap": "AAAA"}
    write(out, "tokenizer_unknown_normalizer.json", json.dumps(unknown_normalizer))
    missing_vocab = json.loads(json.dumps(base))
    del missing_vocab["model"]["vocab"]
    write(out, "tokenizer_missing_vocab.json", json.dumps(missing_vocab))
    write(out, "tokenizer_truncated.json", tiny_tokenizer_json("bytelevel")[:200])
    # Ids index dense arrays: a 2e9 id or an Int.max added-token id in a small file must be refused.
    huge_id = json.loads(json.dumps(base))
    huge_id["model"]["vocab"]["ab"] = 2_000_000_000
    write(out, "tokenizer_huge_vocab_id.json", json.dumps(huge_id))
    huge_added = json.loads(json.dumps(base))
    huge_added["added_tokens"][0]["id"] = 2**63 - 1
    write(out, "tokenizer_added_token_id_int_max.json", json.dumps(huge_added))
    with open(os.path.join(FIXTURES, "MGLanguageTests/Fixtures/tokenizer_sp_bpe_ws.model"), "rb") as f:
        model = f.read()
    # Cut inside a piece message (the half-way point of this file is a field boundary).
    write(out, "sentencepiece_truncated.model", model[: len(model) // 2 + 3])


def config_seeds(out):
    checkpoints = "MGPipelineTests/Fixtures/Checkpoints"
    copy_fixture(out, "mgm_7b.json", f"{checkpoints}/MGM-7B-tiny/config.json")
    copy_fixture(out, "mgm_2b.json", f"{checkpoints}/MGM-2B-tiny/config.json")
    copy_fixture(out, "mgm_8x7b.json", f"{checkpoints}/MGM-8x7B-tiny/config.json")
    zoo = f"{checkpoints}/model_zoo/OpenAI"
    copy_fixture(out, "clip.json", f"{zoo}/clip-vit-large-patch14-336/config.json")
    copy_fixture(out, "clip_preprocessor.json", f"{zoo}/clip-vit-large-patch14-336/preprocessor_config.json")
    copy_fixture(out, "open_clip.json", f"{zoo}/openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup/open_clip_config.json")
    copy_fixture(out, "decoder_gemma.json", "MGLanguageTests/Fixtures/dec_gemma/config.json")


def config_malformed(out):
    with open(os.path.join(FIXTURES, "MGPipelineTests/Fixtures/Checkpoints/MGM-7B-tiny/config.json")) as f:
        config = json.load(f)
    unknown = dict(config, model_type="mgm_mamba")
    write(out, "config_unknown_model_type.json", json.dumps(unknown, indent=1))
    contradicting = dict(config, hidden_size=96)  # the weights are 64 wide
    write(out, "config_sizes_contradict_weights.json", json.dumps(contradicting, indent=1))
    negative = dict(config, num_attention_heads=-4)
    write(out, "config_negative_heads.json", json.dumps(negative, indent=1))
    write(out, "config_truncated.json", json.dumps(config)[:300])


# ---------------------------------------------------------------------------------------------
# Text harnesses

def text_seeds(conversation, image_prompt):
    for index, (template, images, rows, text) in enumerate([
        (0, 1, 1, "What is unusual about this image?"),
        (3, 2, 2, "Hi\x01Hello! How can I help?\x01Compare the <image> pictures."),
        (7, 0, 0, "naïve 日本語 🙂 </s><s> <|im_end|>"),
        (11, 3, 3, "<image><image>\x01\x01"),
        (17, 1, 0, "[INST] <<SYS>> x <</SYS>> [/INST]"),
    ]):
        write(conversation, f"seed{index}", bytes([template, images, rows]) + text.encode())
    for index, (chunk, text) in enumerate([
        (3, "Sure! <h>a red bicycle leaning on a wall</h> Here it is."),
        (0, "<h>first</h> and <h>second</h>"),
        (5, "no tags at all"),
        (1, "  <h>unclosed prompt"),
        (9, "</h> before <h>"),
        (2, "<h></h>"),
        (7, "日本 <h>🙂 é</h>\n"),
    ]):
        write(image_prompt, f"seed{index}", bytes([chunk]) + text.encode())


# ---------------------------------------------------------------------------------------------
# GGUF

def gguf_bytes(tensors, entries=(("general.architecture", 8, b"llama"),), alignment=32, tensor_count=None, version=3):
    """A GGUF file: `tensors` are (name, dims, ggml type, offset, payload bytes or None)."""
    def string(text):
        data = text.encode() if isinstance(text, str) else text
        return struct.pack("<Q", len(data)) + data
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors) if tensor_count is None else tensor_count, len(entries))
    for key, kind, value in entries:
        out += string(key) + struct.pack("<I", kind) + (string(value) if kind == 8 else value)
    for name, dims, kind, offset, _ in tensors:
        out += string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", kind, offset)
    out += b"\0" * (-len(out) % alignment)
    data = b""
    for _, _, _, offset, payload in tensors:
        if payload is not None:
            data = data.ljust(offset, b"\0") + payload
    return out + data


def gguf_seeds(out):
    copy_fixture(out, "gguf_py_sample.gguf", "MGTensorTests/Fixtures/gguf_py_sample.gguf")
    q8_rows = (struct.pack("<e", 0.5) + bytes(range(32))) * 2
    write(out, "tiny_decoder.gguf", gguf_bytes([
        ("token_embd.weight", [32, 2], 0, 0, struct.pack("<64f", *range(64))),
        ("blk.0.attn_q.weight", [32, 2], 8, 256, q8_rows),
        ("blk.0.attn_norm.weight", [32], 0, 352, struct.pack("<32f", *([1.0] * 32))),
    ], entries=(("general.architecture", 8, b"llama"), ("llama.attention.head_count", 4, struct.pack("<I", 1)))))


def gguf_malformed(out):
    good = [("w", [4, 2], 0, 0, struct.pack("<8f", *range(8)))]
    write(out, "gguf_truncated_data.gguf", gguf_bytes(good)[:-4])
    write(out, "gguf_absurd_tensor_count.gguf", gguf_bytes([], tensor_count=1 << 60))
    write(out, "gguf_unknown_type.gguf", gguf_bytes([("w", [4, 2], 99, 0, bytes(32))]))
    write(out, "gguf_misaligned_tensor.gguf", gguf_bytes([("w", [4, 2], 0, 16, bytes(32))]))
    write(out, "gguf_overlapping_tensors.gguf", gguf_bytes([("a", [16], 0, 0, bytes(64)), ("b", [4], 0, 32, None)]))
    write(out, "gguf_offset_past_end.gguf", gguf_bytes([("w", [4, 2], 0, 1 << 40, None)]))
    write(out, "gguf_partial_block.gguf", gguf_bytes([("w", [33, 1], 8, 0, bytes(64))]))


def main():
    shutil.rmtree(MALFORMED, ignore_errors=True)
    # Inputs that once crashed a harness (regression-*) are kept; everything else is rewritten.
    for folder, _, files in os.walk(CORPUS):
        for name in files:
            if not name.startswith("regression-"):
                os.remove(os.path.join(folder, name))
    corpus = lambda name: os.path.join(CORPUS, name)
    safetensors_seeds(corpus("Safetensors"))
    write(corpus("ShardIndex"), "index.json", json.dumps({"metadata": {"total_size": 16}, "weight_map": {
        "a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors"}}))
    write(corpus("ShardIndex"), "partial.json", json.dumps({"weight_map": {"a.weight": "model-00001-of-00002.safetensors"}}))
    torch_seeds(corpus("TorchCheckpoint"))
    config_seeds(corpus("Configs"))
    tokenizer_seeds(corpus("TokenizerJSON"))
    copy_fixture(corpus("SentencePiece"), "sp_bpe_ws.model", "MGLanguageTests/Fixtures/tokenizer_sp_bpe_ws.model")
    png_seeds(corpus("PNG"))
    jpeg_seeds(corpus("JPEG"))
    text_seeds(corpus("Conversation"), corpus("ImagePrompt"))
    gguf_seeds(corpus("GGUF"))

    safetensors_malformed(MALFORMED)
    torch_malformed(MALFORMED)
    image_malformed(MALFORMED)
    tokenizer_malformed(MALFORMED)
    config_malformed(MALFORMED)
    gguf_malformed(MALFORMED)


if __name__ == "__main__":
    main()
