"""Random but valid quantized decoder GGUF files, shared by the scripts that need weights of a given
shape and no real checkpoint: Tools/gguf/make_scale_model.py (MGM-34B / 8x7B shapes for the scale
runs) and Tools/bench/gguf_model_bench.py (Gemma-2B / Llama-7B shapes against llama.cpp).

What is shared: the type mix (`mgm quantize` and llama.cpp's: q8_0 everywhere Q8_0; q4_0 with a
Q6_K output; q4_k_m with Q4_K, and Q6_K for the output and for attn_v/ffn_down in llama.cpp's
"more bits" layers; q2_k with a Q6_K output), the tensor list of a Llama-layout decoder (dense or
with experts), the hyperparameter keys, random blocks with valid f16 scales, and the writing of
header, tensor infos and data in file order. What the files hold beyond that (name, vocabulary,
file type, the values of F32 tensors) each script decides.
"""

import numpy as np

import gguf

Q = gguf.GGMLQuantizationType

# Standard deviation of one quantized value in units of the block's f16 scale `d`, and the ratio
# dmin/d that centres the values, from the block layouts of ggml-common.h with uniform random bits.
SPREAD = {Q.Q8_0: 73.9, Q.Q4_0: 4.6, Q.Q4_K: 258.0, Q.Q6_K: 1367.0, Q.Q2_K: 13.9}
DMIN_RATIO = {Q.Q4_K: 7.5, Q.Q2_K: 1.5}
# Byte offsets of the f16 `d` (and `dmin`) inside each block.
D_OFFSET = {Q.Q8_0: 0, Q.Q4_0: 0, Q.Q4_K: 0, Q.Q6_K: 208, Q.Q2_K: 80}
DMIN_OFFSET = {Q.Q4_K: 2, Q.Q2_K: 82}


def uses_more_bits(layer, layers):
    """llama.cpp's `use_more_bits`: the layers whose attn_v / ffn_down get Q6_K in Q4_K_M."""
    return layer < layers // 8 or layer >= 7 * layers // 8 or (layer - layers // 8) % 3 == 2


def matrix_type(kind, name, layer, layers):
    """The block type of a matrix, as `mgm quantize` (and llama.cpp's mixes) choose it."""
    if kind == "q8_0":
        return Q.Q8_0
    if name == "output.weight":
        return Q.Q6_K
    if kind == "q4_0":
        return Q.Q4_0
    if kind == "q2_k":
        return Q.Q2_K
    more = name.endswith((".attn_v.weight", ".ffn_down.weight", ".ffn_down_exps.weight"))
    return Q.Q6_K if more and layer is not None and uses_more_bits(layer, layers) else Q.Q4_K


def decoder_tensors(kind, hidden, ffn, layers, heads, kv_heads, head_dim, vocab, experts=0, tied=False):
    """(name, numpy shape of the values, type) of every tensor of a Llama-layout decoder, in file
    order. F32 norms (and router); a tied embedding is the output, so it takes the output's type."""
    embedding = matrix_type(kind, "output.weight" if tied else "token_embd.weight", None, layers)
    out = [("token_embd.weight", (vocab, hidden), embedding)]
    for i in range(layers):
        b = f"blk.{i}."

        def m(name, rows, cols, experts=0):
            shape = (experts, rows, cols) if experts else (rows, cols)
            out.append((b + name, shape, matrix_type(kind, b + name, i, layers)))

        out.append((b + "attn_norm.weight", (hidden,), Q.F32))
        m("attn_q.weight", heads * head_dim, hidden)
        m("attn_k.weight", kv_heads * head_dim, hidden)
        m("attn_v.weight", kv_heads * head_dim, hidden)
        m("attn_output.weight", hidden, heads * head_dim)
        out.append((b + "ffn_norm.weight", (hidden,), Q.F32))
        if experts:
            out.append((b + "ffn_gate_inp.weight", (experts, hidden), Q.F32))  # llama.cpp keeps the router F32
            m("ffn_gate_exps.weight", ffn, hidden, experts)
            m("ffn_down_exps.weight", hidden, ffn, experts)
            m("ffn_up_exps.weight", ffn, hidden, experts)
        else:
            m("ffn_gate.weight", ffn, hidden)
            m("ffn_up.weight", ffn, hidden)
            m("ffn_down.weight", hidden, ffn)
    out.append(("output_norm.weight", (hidden,), Q.F32))
    if not tied:
        out.append(("output.weight", (vocab, hidden), matrix_type(kind, "output.weight", None, layers)))
    return out


def byte_count(values_shape, qtype):
    """Bytes of a tensor of `values_shape` values stored as `qtype`."""
    if qtype == Q.F32:
        return int(np.prod(values_shape, dtype=np.int64)) * 4
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    *outer, cols = values_shape
    assert cols % block == 0, (values_shape, qtype)
    return int(np.prod(outer, dtype=np.int64)) * (cols // block) * size


def random_blocks(rng, values_shape, qtype, sigma=0.02, fixed_scale=None):
    """Random valid blocks (uint8, byte shape): random bytes whose f16 scales `d` (and `dmin`) are
    `fixed_scale` when given, else drawn so that the values spread by about `sigma`. F32 tensors:
    norms around 1 (one dimension), else values of spread `sigma` (a router, like any matrix)."""
    if qtype == Q.F32:
        centre, spread = (1.0, 0.1) if len(values_shape) == 1 else (0.0, sigma)
        return (centre + spread * rng.standard_normal(values_shape)).astype(np.float32)
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    *outer, cols = values_shape
    count = int(np.prod(outer, dtype=np.int64)) * (cols // block)
    data = np.frombuffer(bytearray(rng.bytes(count * size)), dtype=np.uint8).reshape(count, size)
    if fixed_scale is not None:
        d = dmin = np.full(count, fixed_scale, dtype=np.float16)
    else:
        d = (sigma / SPREAD[qtype] * rng.uniform(0.5, 1.5, count)).astype(np.float16)
        dmin = (d.astype(np.float32) * DMIN_RATIO[qtype]).astype(np.float16) if qtype in DMIN_OFFSET else None
    data[:, D_OFFSET[qtype]:D_OFFSET[qtype] + 2] = d.view(np.uint8).reshape(count, 2)
    if qtype in DMIN_OFFSET:
        data[:, DMIN_OFFSET[qtype]:DMIN_OFFSET[qtype] + 2] = dmin.view(np.uint8).reshape(count, 2)
    return data.reshape(*outer, cols // block * size)


def add_decoder_metadata(writer, context, hidden, layers, ffn, heads, kv_heads, head_dim, eps, rope_theta):
    """The hyperparameter keys llama.cpp and this project's GGUF reader need for a decoder."""
    writer.add_context_length(context)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(eps)
    writer.add_rope_freq_base(rope_theta)


def write_gguf(path, arch, plan, add_metadata, write_tensor):
    """Writes a GGUF of the tensors of `plan` ([(name, values shape, type)], file order):
    `add_metadata(writer)` adds the key-value pairs, then `write_tensor(file, name, values_shape,
    qtype)` writes each tensor's bytes (exactly `byte_count` of them) at its aligned offset, so a
    tensor may be streamed in pieces of any size. Returns the tensor bytes written."""
    writer = gguf.GGUFWriter(str(path), arch)
    add_metadata(writer)
    for name, values_shape, qtype in plan:
        nbytes = byte_count(values_shape, qtype)
        if qtype == Q.F32:
            writer.add_tensor_info(name, values_shape, np.dtype(np.float32), nbytes)
        else:
            block, size = gguf.GGML_QUANT_SIZES[qtype]
            byte_shape = (*values_shape[:-1], values_shape[-1] // block * size)
            writer.add_tensor_info(name, byte_shape, np.dtype(np.uint8), nbytes, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    fout = writer.fout[0]
    written = 0
    for name, values_shape, qtype in plan:
        nbytes = byte_count(values_shape, qtype)
        writer.write_padding(fout, fout.tell())
        start = fout.tell()
        write_tensor(fout, name, values_shape, qtype)
        assert fout.tell() - start == nbytes, (name, fout.tell() - start, nbytes)
        writer.write_padding(fout, nbytes)
        written += nbytes
    writer.close()
    return written
