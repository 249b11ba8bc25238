"""Goldens for GGUF block (de)quantization and the GGUF reader, made with the `gguf` package.

Writes Tests/MGTensorTests/Fixtures/quant_blocks.safetensors:
  <type>.blocks  U8 [n, bytes_per_block]  random blocks (scales set to finite f16 values)
  <type>.values  F32 [n, block_size]      gguf.quants.dequantize of those blocks
  <type>.input / <type>.quantized         (Q8_0, Q4_0, Q5_0) random floats and gguf.quants.quantize of them
and Tests/MGTensorTests/Fixtures/gguf_py_sample.gguf, a small file written by gguf.GGUFWriter with
every metadata value type and F32/F16/Q8_0/Q4_K/Q6_K tensors.

    python3 Tools/gguf/make_quant_goldens.py
"""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import quants
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "Tests", "MGTensorTests", "Fixtures")

# Byte offsets of the f16 scale fields per block, so random blocks decode to finite numbers.
HALF_FIELDS = {
    T.Q8_0: [0], T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}


def random_blocks(rng, qtype, n):
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n, type_size), dtype=np.uint8)
    for offset in HALF_FIELDS[qtype]:
        scales = (rng.standard_normal(n) * 0.05).astype(np.float16)
        if offset == 0 and qtype in (T.Q8_0, T.Q4_0, T.Q5_0):
            scales[0] = np.float16(0)          # an all-zero scale
        if n > 1:
            scales[-1] = np.float16(6.0e-8)    # a subnormal half scale
        blocks[:, offset:offset + 2] = scales.view(np.uint8).reshape(n, 2)
    return blocks


def main():
    rng = np.random.default_rng(17)
    tensors = {}
    for qtype, n in [(T.Q8_0, 8), (T.Q4_0, 8), (T.Q4_1, 4), (T.Q5_0, 4), (T.Q5_1, 4), (T.Q2_K, 3), (T.Q3_K, 3), (T.Q4_K, 3), (T.Q5_K, 3), (T.Q6_K, 3)]:
        name = qtype.name.lower()
        blocks = random_blocks(rng, qtype, n)
        values = quants.dequantize(blocks, qtype).reshape(n, -1).astype(np.float32)
        tensors[f"{name}.blocks"] = blocks
        tensors[f"{name}.values"] = values
    for qtype in (T.Q8_0, T.Q4_0, T.Q5_0):
        name = qtype.name.lower()
        x = (rng.standard_normal((8, 32)) * rng.uniform(0.01, 3.0, size=(8, 1))).astype(np.float32)
        x[0] = 0                                # all-zero block
        x[1, 5] = -x[1].__abs__().max() * 1.5   # extreme negative value
        x[2, :] = np.round(x[2] * 4) / 4        # ties for rounding
        tensors[f"{name}.input"] = x
        tensors[f"{name}.quantized"] = quants.quantize(x, qtype).reshape(8, -1)
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, os.path.join(FIXTURES, "quant_blocks.safetensors"))

    writer = gguf.GGUFWriter(os.path.join(FIXTURES, "gguf_py_sample.gguf"), "llama")
    writer.add_uint8("test.u8", 200)
    writer.add_int8("test.i8", -100)
    writer.add_uint16("test.u16", 60000)
    writer.add_int16("test.i16", -30000)
    writer.add_uint32("test.u32", 4000000000)
    writer.add_int32("test.i32", -2000000000)
    writer.add_uint64("test.u64", 2**63 + 5)
    writer.add_int64("test.i64", -(2**62))
    writer.add_float32("test.f32", 1.5)
    writer.add_float64("test.f64", -2.25)
    writer.add_bool("test.bool", True)
    writer.add_string("test.string", "héllo")
    writer.add_array("test.array_i32", [1, -2, 3])
    writer.add_array("test.array_str", ["a", "bc", ""])
    f32 = rng.standard_normal((3, 5)).astype(np.float32)
    f16 = rng.standard_normal((2, 4)).astype(np.float16)
    writer.add_tensor("plain.f32", f32)
    writer.add_tensor("plain.f16", f16)
    q8 = rng.standard_normal((2, 64)).astype(np.float32)
    writer.add_tensor("quant.q8_0", quants.quantize(q8, T.Q8_0), raw_dtype=T.Q8_0)
    writer.add_tensor("quant.q4_k", tensors["q4_k.blocks"][:2].reshape(2, -1), raw_dtype=T.Q4_K)
    writer.add_tensor("quant.q6_k", tensors["q6_k.blocks"][:1].reshape(1, -1), raw_dtype=T.Q6_K)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    save_file(
        {"plain.f32": f32, "quant.q8_0.values": quants.dequantize(quants.quantize(q8, T.Q8_0), T.Q8_0).astype(np.float32)},
        os.path.join(FIXTURES, "gguf_py_sample_values.safetensors"))


if __name__ == "__main__":
    main()
