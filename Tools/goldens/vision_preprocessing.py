"""MGVision goldens: image decoding (Pillow `convert("RGB")`) and MGM preprocessing.

Writes to Tests/MGVisionTests/Fixtures/:
- images/*.png|jpg: small synthetic files covering PNG colour types, bit depths, palettes, tRNS,
  interlacing, and JPEG baseline/progressive/gray/CMYK, plus damaged files. PNGs are encoded here
  by hand (Pillow cannot write 16-bit RGB, low bit depths or Adam7); JPEGs by Pillow.
- vision_decoding.safetensors: the full decoded pixels of each synthetic file (U8 [H, W, 3]).
- vision_resize.safetensors: Pillow BICUBIC resizes, expand2square, CLIP processor tensors and a
  tiny MGM pipeline (HR + LR views), all stored in full.
- vision_photos.safetensors: for the photos in ../shared/images, a checksum of every uint8 stage
  (decoded, resized to 336/768/1536) plus sampled values, and sampled HR/LR tensors.

Reference semantics: transformers 4.36 CLIPImageProcessor (Pillow bicubic on uint8, rescale in
float64 → float32, normalise in float32). transformers 5 keeps exactly that as
`CLIPImageProcessorPil`; its default `CLIPImageProcessor` is torchvision-based (a different
resize), so the Pil class is used, and cross-checked against Pillow + NumPy directly.
"""
import hashlib
import io
import json
import os
import struct
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import common

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
PHOTOS = ["extreme_ironing.jpg", "monday.jpg", "waterview.jpg", "woolen.png"]
SAMPLES = 2048
SHARED_IMAGES = os.path.join(common.REPO, "..", "shared", "images")


# ---------------------------------------------------------------------------------------------
# Hand-made PNG encoder (filter type 0, optional Adam7)

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _pack_row(row: np.ndarray, bit_depth: int) -> bytes:
    flat = row.reshape(-1)
    if bit_depth == 16:
        return flat.astype(">u2").tobytes()
    if bit_depth == 8:
        return flat.astype(np.uint8).tobytes()
    per_byte = 8 // bit_depth
    out = bytearray((len(flat) + per_byte - 1) // per_byte)
    for i, value in enumerate(flat):
        out[i // per_byte] |= int(value) << (8 - bit_depth * (i % per_byte + 1))
    return bytes(out)


def encode_png(samples, color_type, bit_depth, palette=None, trns=None, interlace=False) -> bytes:
    """samples: [H, W, C] integer array of raw sample values."""
    height, width = samples.shape[:2]
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        for row in sub:
            raw += b"\x00" + _pack_row(row, bit_depth)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
    if palette is not None:
        data += _chunk(b"PLTE", bytes(np.asarray(palette, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        data += _chunk(b"tRNS", trns)
    return data + _chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + _chunk(b"IEND", b"")


def _rng(seed):
    return np.random.default_rng(seed)


def _smooth_rgb(width, height, seed):
    """Gradients plus noise: exercises IDCT, chroma upsampling and every filter tap."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack([x / max(width - 1, 1), y / max(height - 1, 1), (x + y) / (width + height)], axis=-1) * 200
    noise = _rng(seed).normal(0, 25, (height, width, 3))
    return np.clip(base + noise + 20, 0, 255).astype(np.uint8)


def synthetic_files():
    """(file name, bytes) of every synthetic decoding case."""
    files = {}
    r = _rng
    files["rgb8_17x9.png"] = encode_png(r(1).integers(0, 256, (9, 17, 3)), 2, 8)
    files["rgb8_9x17.png"] = encode_png(r(2).integers(0, 256, (17, 9, 3)), 2, 8)
    files["gray8_13x7.png"] = encode_png(r(3).integers(0, 256, (7, 13, 1)), 0, 8)
    files["gray1_11x5.png"] = encode_png(r(4).integers(0, 2, (5, 11, 1)), 0, 1)
    files["gray2_10x3.png"] = encode_png(r(5).integers(0, 4, (3, 10, 1)), 0, 2)
    files["gray4_9x4.png"] = encode_png(r(6).integers(0, 16, (4, 9, 1)), 0, 4)
    files["gray8_trns_8x5.png"] = encode_png(r(7).integers(0, 4, (5, 8, 1)) * 60, 0, 8, trns=struct.pack(">H", 60))
    files["gray_alpha8_11x6.png"] = encode_png(r(8).integers(0, 256, (6, 11, 2)), 4, 8)
    files["gray_alpha16_7x5.png"] = encode_png(r(9).integers(0, 65536, (5, 7, 2)), 4, 16)
    files["palette8_10x7.png"] = encode_png(r(10).integers(0, 16, (7, 10, 1)), 3, 8, palette=r(11).integers(0, 256, (16, 3)))
    files["palette4_trns_10x7.png"] = encode_png(
        r(12).integers(0, 16, (7, 10, 1)), 3, 4, palette=r(13).integers(0, 256, (16, 3)),
        trns=bytes(r(14).integers(0, 256, 10).astype(np.uint8)))
    files["palette1_13x3.png"] = encode_png(r(15).integers(0, 2, (3, 13, 1)), 3, 1, palette=[[200, 10, 30], [5, 250, 99]])
    files["rgba8_12x5.png"] = encode_png(r(16).integers(0, 256, (5, 12, 4)), 6, 8)
    files["rgba16_6x4.png"] = encode_png(r(17).integers(0, 65536, (4, 6, 4)), 6, 16)
    files["rgb16_9x6.png"] = encode_png(r(18).integers(0, 65536, (6, 9, 3)), 2, 16)
    files["rgb8_trns_6x3.png"] = encode_png(r(19).integers(0, 2, (3, 6, 3)) * 255, 2, 8, trns=struct.pack(">HHH", 255, 0, 255))
    # 16-bit gray mixes values below and above 255: Pillow ("I;16") clamps instead of taking the high byte.
    gray16 = r(20).integers(0, 65536, (5, 9, 1))
    gray16[0, :, 0] = [0, 1, 100, 254, 255, 256, 1000, 40000, 65535]
    files["gray16_9x5.png"] = encode_png(gray16, 0, 16)
    files["rgb8_interlaced_19x13.png"] = encode_png(r(21).integers(0, 256, (13, 19, 3)), 2, 8, interlace=True)
    files["gray_alpha16_interlaced_11x10.png"] = encode_png(r(22).integers(0, 65536, (10, 11, 2)), 4, 16, interlace=True)
    files["palette2_interlaced_9x9.png"] = encode_png(
        r(23).integers(0, 4, (9, 9, 1)), 3, 2, palette=r(24).integers(0, 256, (4, 3)), interlace=True)

    def jpeg(array, mode=None, **options):
        buffer = io.BytesIO()
        Image.fromarray(array, mode).save(buffer, "JPEG", **options)
        return buffer.getvalue()

    files["baseline420_33x17.jpg"] = jpeg(_smooth_rgb(33, 17, 30), quality=90)
    files["baseline444_21x11.jpg"] = jpeg(_smooth_rgb(21, 11, 31), quality=85, subsampling=0)
    files["baseline422_30x20.jpg"] = jpeg(_smooth_rgb(30, 20, 32), quality=75, subsampling=1)
    files["progressive_37x23.jpg"] = jpeg(_smooth_rgb(37, 23, 33), quality=88, progressive=True)
    files["gray_21x13.jpg"] = jpeg(_smooth_rgb(21, 13, 34)[..., 0], quality=90)
    files["cmyk_16x8.jpg"] = jpeg(r(35).integers(0, 256, (8, 16, 4)).astype(np.uint8), "CMYK", quality=95)
    files["restart_40x24.jpg"] = jpeg(_smooth_rgb(40, 24, 36), quality=80, restart_marker_blocks=1)
    return files


def damaged_files(good):
    """(file name, bytes, expected Swift error, what Pillow does)."""
    jpeg = good["baseline420_33x17.jpg"]
    png = good["rgb8_17x9.png"]
    ihdr_bad = bytearray(png)
    ihdr_bad[8 + 8 + 13] ^= 0xFF                       # IHDR CRC
    idat = png.index(b"IDAT") - 4
    idat_length = struct.unpack(">I", png[idat:idat + 4])[0]
    idat_bad = bytearray(png)
    idat_bad[idat + 8 + idat_length] ^= 0xFF            # IDAT CRC
    cases = [
        ("truncated_mid_scan.jpg", jpeg[: len(jpeg) * 2 // 3], "truncated"),
        ("truncated_no_eoi.jpg", jpeg[:-2], "truncated"),
        ("truncated_header.jpg", jpeg[:120], "truncated"),
        ("bad_crc_ihdr.png", bytes(ihdr_bad), "corrupt"),
        ("bad_crc_idat.png", bytes(idat_bad), "corrupt"),
        ("truncated_mid_idat.png", png[: idat + 8 + idat_length // 2], "truncated"),
    ]
    out = []
    for name, data, expected in cases:
        try:
            Image.open(io.BytesIO(data)).convert("RGB")
            pillow = "decodes"
        except Exception as error:  # noqa: BLE001 - any failure is what we record
            pillow = f"{type(error).__name__}: {error}".split(" <")[0]
        out.append((name, data, expected, pillow))
    return out


# ---------------------------------------------------------------------------------------------
# Reference preprocessing

def expand2square(image: Image.Image, background) -> Image.Image:
    """MGM repo: mgm/mm_utils.py."""
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    result = Image.new(image.mode, (side, side), background)
    result.paste(image, (0, (width - height) // 2) if width > height else ((height - width) // 2, 0))
    return result


def clip_processor(size, crop=None):
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    crop = crop or size
    return CLIPImageProcessorPil(
        size={"shortest_edge": size}, crop_size={"height": crop, "width": crop}, resample=3,
        do_center_crop=True, image_mean=list(MEAN), image_std=list(STD))


def clip_reference(image: Image.Image, size, crop=None):
    """uint8 resized HWC image and the float32 [1, 3, crop, crop] tensor, checked two ways."""
    crop = crop or size
    short, long = min(image.size), max(image.size)
    new_long = int(size * long / short)
    target = (size, new_long) if image.width <= image.height else (new_long, size)
    resized = np.asarray(image.resize(target, Image.BICUBIC))
    top, left = (resized.shape[0] - crop) // 2, (resized.shape[1] - crop) // 2
    cropped = resized[top:top + crop, left:left + crop]
    manual = ((cropped.astype(np.float64) * (1 / 255)).astype(np.float32) - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    manual = manual.transpose(2, 0, 1)[None]
    hf = clip_processor(size, crop)(image, return_tensors="pt")["pixel_values"].numpy()
    assert hf.shape == manual.shape and np.array_equal(hf, manual), "CLIPImageProcessorPil differs from Pillow + NumPy"
    return resized, torch.from_numpy(hf.copy())


def mgm_low_resolution(high: torch.Tensor, side: int, grid: int, use_global: bool) -> torch.Tensor:
    """MGM repo: mgm/serve/cli.py (LR image, grid crops, global view)."""
    image = F.interpolate(high, size=[side * grid, side * grid], mode="bilinear", align_corners=False)
    if grid < 2:
        return image
    crops = image.reshape(3, grid, side, grid, side).permute(1, 3, 0, 2, 4).reshape(-1, 3, side, side)
    if use_global:
        whole = F.interpolate(image, size=[side, side], mode="bilinear", align_corners=False)
        crops = torch.cat([crops, whole], dim=0)
    return crops.contiguous()


def checksum(array: np.ndarray) -> int:
    """Σ word[i]·(2i+1) mod 2^64 over the bytes read as little-endian 64-bit words (zero-padded).

    Cheap in a Swift debug build, and any single changed byte changes it: the word changes by
    d·2^(8j) with 0 < |d| < 256, j < 8, and an odd weight keeps that nonzero mod 2^64.
    """
    flat = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    padded = np.zeros((flat.size + 7) // 8 * 8, dtype=np.uint8)
    padded[: flat.size] = flat
    words = padded.view("<u8")
    with np.errstate(over="ignore"):
        weights = np.arange(words.size, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        return int((words * weights).sum(dtype=np.uint64))


def sample_positions(count: int):
    """Flat positions both sides derive: (k · 2654435761) mod count."""
    return np.array([(k * 2654435761) % count for k in range(min(SAMPLES, count))], dtype=np.int64)


# ---------------------------------------------------------------------------------------------

def generate():
    torch.set_num_threads(1)
    fixtures = common.fixture_dir("MGVision")
    image_dir = os.path.join(fixtures, "images")
    os.makedirs(image_dir, exist_ok=True)

    # Decoding
    good = synthetic_files()
    tensors, cases = {}, []
    for name, data in sorted(good.items()):
        with open(os.path.join(image_dir, name), "wb") as handle:
            handle.write(data)
        image = Image.open(io.BytesIO(data))
        mode = image.mode
        pixels = np.asarray(image.convert("RGB"))
        tensors[name] = torch.from_numpy(pixels.copy())
        cases.append({"file": f"images/{name}", "pillow_mode": mode, "width": image.width, "height": image.height})
    errors = []
    for name, data, expected, pillow in damaged_files(good):
        with open(os.path.join(image_dir, name), "wb") as handle:
            handle.write(data)
        errors.append({"file": f"images/{name}", "error": expected, "pillow": pillow})
    common.save_fixture("MGVision", "vision_decoding", tensors, cases=cases, errors=errors)

    # Resizing, padding, CLIP processor and a small MGM pipeline on decoded synthetic files
    source = Image.open(io.BytesIO(good["rgb8_17x9.png"])).convert("RGB")
    photo_like = Image.open(io.BytesIO(good["progressive_37x23.jpg"])).convert("RGB")
    wide = Image.fromarray(_smooth_rgb(200, 3, 40))
    resize_cases = [
        ("rgb8_17x9.png", source, (40, 21)),     # upscale both axes
        ("rgb8_17x9.png", source, (6, 4)),       # downscale both (anti-aliased)
        ("rgb8_17x9.png", source, (17, 20)),     # vertical pass only
        ("rgb8_17x9.png", source, (30, 9)),      # horizontal pass only
        ("rgb8_17x9.png", source, (5, 23)),      # down horizontally, up vertically
        ("progressive_37x23.jpg", photo_like, (13, 8)),
        ("progressive_37x23.jpg", photo_like, (71, 50)),
    ]
    tensors, resizes = {}, []
    for index, (name, image, size) in enumerate(resize_cases):
        key = f"resize{index}"
        tensors[key] = torch.from_numpy(np.asarray(image.resize(size, Image.BICUBIC)).copy())
        resizes.append({"key": key, "file": f"images/{name}", "width": size[0], "height": size[1]})
    tensors["wide_source"] = torch.from_numpy(np.asarray(wide).copy())
    tensors["wide_to_7x3"] = torch.from_numpy(np.asarray(wide.resize((7, 3), Image.BICUBIC)).copy())
    tensors["wide_to_7x2"] = torch.from_numpy(np.asarray(wide.resize((7, 2), Image.BICUBIC)).copy())

    background = tuple(int(x * 255) for x in MEAN)
    tensors["pad_wide"] = torch.from_numpy(np.asarray(expand2square(source, background)).copy())
    tall = Image.open(io.BytesIO(good["rgb8_9x17.png"])).convert("RGB")
    tensors["pad_tall"] = torch.from_numpy(np.asarray(expand2square(tall, background)).copy())

    clips = []
    for size, crop in [(5, 5), (16, 16), (40, 40), (20, 12)]:
        resized, tensor = clip_reference(photo_like, size, crop)
        tensors[f"clip{size}_{crop}.resized"] = torch.from_numpy(resized.copy())
        tensors[f"clip{size}_{crop}.tensor"] = tensor
        clips.append({"size": size, "crop": crop, "file": "images/progressive_37x23.jpg"})

    for label, (aux, side, grid, use_global) in {"tiny_normal": (40, 12, 1, False), "tiny_hd": (48, 12, 2, True)}.items():
        _, high = clip_reference(expand2square(source, background), aux)
        tensors[f"{label}.high"] = high
        tensors[f"{label}.low"] = mgm_low_resolution(high, side, grid, use_global)
    common.save_fixture(
        "MGVision", "vision_resize", tensors, resizes=resizes, clips=clips, background=list(background),
        tiny={"file": "images/rgb8_17x9.png", "tiny_normal": [40, 12, 1, False], "tiny_hd": [48, 12, 2, True]})

    # Real photos: checksums and samples (full arrays would be megabytes)
    tensors, photos = {}, {}
    for name in PHOTOS:
        path = os.path.join(SHARED_IMAGES, name)
        decoded = Image.open(path).convert("RGB")
        padded = expand2square(decoded, background)
        entry = {"width": decoded.width, "height": decoded.height, "checksums": {}, "sha256": {}}
        stages = {"decoded": np.asarray(decoded)}
        for size in (336, 768, 1536):
            resized, high = clip_reference(padded, size)
            stages[f"resized{size}"] = resized
            if size in (768, 1536):
                tensors[f"{name}.high{size}"] = high.reshape(-1)[torch.from_numpy(sample_positions(high.numel()))]
        for stage, array in stages.items():
            entry["checksums"][stage] = str(checksum(array))
            entry["sha256"][stage] = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
            tensors[f"{name}.{stage}"] = torch.from_numpy(array.reshape(-1)[sample_positions(array.size)].copy())
        _, high768 = clip_reference(padded, 768)
        _, high1536 = clip_reference(padded, 1536)
        for label, low in {"low_normal": mgm_low_resolution(high768, 336, 1, False),
                           "low_hd": mgm_low_resolution(high1536, 336, 2, True)}.items():
            tensors[f"{name}.{label}"] = low.reshape(-1)[torch.from_numpy(sample_positions(low.numel()))]
        photos[name] = entry
    # For the record: transformers 5's default (torchvision) CLIPImageProcessor is not Pillow-exact.
    from transformers import CLIPImageProcessor

    fast = CLIPImageProcessor(size={"shortest_edge": 768}, crop_size={"height": 768, "width": 768}, resample=3,
                              image_mean=list(MEAN), image_std=list(STD))
    padded = expand2square(Image.open(os.path.join(SHARED_IMAGES, PHOTOS[0])).convert("RGB"), background)
    difference = (fast(padded, return_tensors="pt")["pixel_values"] - clip_reference(padded, 768)[1]).abs().max().item()
    print(f"  torchvision CLIPImageProcessor vs Pillow path, max |Δ| = {difference:.4g} (not used)")
    common.save_fixture("MGVision", "vision_photos", tensors, photos=photos, samples=SAMPLES,
                        torchvision_processor_max_difference=difference)
