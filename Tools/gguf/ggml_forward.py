"""A NumPy forward pass of a small `llama`/`gemma` GGUF, with or without llama.cpp's roundings.

Used by `crosscheck_llama_cpp.py --explain` to tell which part of llama.cpp's arithmetic makes
its logits differ from mgm's. `prefill_logits(path, ids, ggml)` evaluates the decoder on `ids`
in float64 from the dequantized tensors (gguf-py), then:

- `ggml=False`: mgm's arithmetic: F32 activations, rounded to Q8_0 blocks (Q8_0, Q4_0 matrices)
  or Q8_K blocks (Q4_K, Q6_K) where mgm's integer kernels run; other formats (Q5_0, the fallback
  of Q4_K on rows that are not whole 256-blocks, …) are dequantized and multiplied in F32;
- `ggml=True`: ggml-cpu's: every quantized format rounds its activations to its `vec_dot_type`
  (Q8_0 or Q8_K), F16 matrices round them to F16, and GELU is read from the F16 table
  (`GGML_GELU_FP16`: input rounded to F16, tanh-GELU rounded to F16).

Activations are rounded to Q8_0 as ggml's x86 `quantize_row_q8_0` does (127/max, half to even).

`float_tied_output=True` multiplies a tied output projection (Gemma) with F32 activations, as
mgm did before the quantized embedding table (the dequantized table was a dense matrix).

Only what the tiny test decoders need: dense FFN, no biases, no sliding window, one sequence.
"""
import numpy as np
from gguf import GGUFReader, GGMLQuantizationType as T
from gguf.quants import dequantize

SQRT_2_OVER_PI = np.float32(0.79788456080286535587989211986876)
GELU_COEF_A = np.float32(0.044715)


def _field(reader, key):
    return reader.fields[key].contents()


def _gelu_tanh32(x):
    x = x.astype(np.float32)
    return np.float32(0.5) * x * (np.float32(1) + np.tanh(SQRT_2_OVER_PI * x * (np.float32(1) + GELU_COEF_A * x * x)))


def _gelu_ggml(x):
    """ggml-cpu's GELU: table lookup by the F16-rounded input, F16 result; ±10 clamps."""
    h = x.astype(np.float16).astype(np.float32)
    y = _gelu_tanh32(h).astype(np.float16).astype(np.float64)
    return np.where(x <= -10, 0.0, np.where(x >= 10, x, y))


def _half(x):
    return x.astype(np.float16).astype(np.float64)


def _quantize_q8_blocks(x, block):
    """Activations as ggml's x86 `quantize_row_q8_0` (block 32) or `quantize_row_q8_K` (256) leave them."""
    rows, n = x.shape
    xb = x.astype(np.float32).reshape(rows, n // block, block)
    if block == 32:
        amax = np.abs(xb).max(axis=2, keepdims=True)
        d = (amax / np.float32(127)).astype(np.float32)
        with np.errstate(divide="ignore"):
            inv = np.where(amax != 0, np.float32(127) / amax, 0).astype(np.float32)
        q = np.rint(xb * inv)  # _MM_ROUND_NEAREST: half to even
        return (q * d.astype(np.float16).astype(np.float64)).reshape(rows, n)
    index = np.abs(xb).argmax(axis=2)[..., None]
    maxv = np.take_along_axis(xb, index, axis=2)
    with np.errstate(divide="ignore"):
        iscale = np.where(maxv != 0, np.float32(-127) / maxv, 0).astype(np.float32)
    q = np.minimum(np.rint(iscale * xb), 127)
    with np.errstate(divide="ignore"):
        d = np.where(iscale != 0, np.float32(1) / iscale, 0).astype(np.float32)
    return (q * d.astype(np.float64)).reshape(rows, n)


class Model:
    def __init__(self, path):
        reader = GGUFReader(path)
        self.arch = _field(reader, "general.architecture")
        a = self.arch
        self.layers = int(_field(reader, f"{a}.block_count"))
        self.heads = int(_field(reader, f"{a}.attention.head_count"))
        self.kv_heads = int(_field(reader, f"{a}.attention.head_count_kv"))
        self.eps = float(_field(reader, f"{a}.attention.layer_norm_rms_epsilon"))
        self.theta = float(_field(reader, f"{a}.rope.freq_base"))
        self.hidden = int(_field(reader, f"{a}.embedding_length"))
        self.tensors = {}
        for t in reader.tensors:
            values = dequantize(t.data, t.tensor_type).astype(np.float64)
            shape = [int(s) for s in reversed(t.shape.tolist())]
            self.tensors[t.name] = (values.reshape(shape), t.tensor_type)
        self.head_dim = self.tensors["blk.0.attn_q.weight"][0].shape[0] // self.heads

    def _linear(self, x, name, ggml, plain=False):
        w, kind = self.tensors[name]
        if plain:
            pass
        elif kind in (T.Q8_0, T.Q4_0) or (ggml and kind in (T.Q4_1, T.Q5_0, T.Q5_1)):
            x = _quantize_q8_blocks(x, 32)
        elif kind in (T.Q4_K, T.Q6_K) or (ggml and kind in (T.Q2_K, T.Q3_K, T.Q5_K)):
            x = _quantize_q8_blocks(x, 256)
        elif kind == T.F16 and ggml:
            x = x.astype(np.float16).astype(np.float64)
        return x @ w.T

    def _norm(self, x, name):
        w = self.tensors[name][0]
        scale = 1.0 / np.sqrt((x * x).mean(axis=1, keepdims=True) + self.eps)
        return x * scale * w

    def _rope(self, x, positions):
        d = self.head_dim
        inv = self.theta ** (-np.arange(0, d, 2) / d)
        angle = positions[:, None] * inv[None, :]
        cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
        x = x.reshape(x.shape[0], -1, d)
        if self.arch == "gemma":  # NeoX: halves
            a, b = x[..., : d // 2], x[..., d // 2:]
            return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)
        a, b = x[..., 0::2], x[..., 1::2]  # normal: adjacent pairs (Q/K rows permuted by the converter)
        out = np.empty_like(x)
        out[..., 0::2], out[..., 1::2] = a * cos - b * sin, a * sin + b * cos
        return out

    def prefill_logits(self, ids, ggml, float_tied_output=False, f16_cache=False):
        """`f16_cache`: keys and values rounded to IEEE half as they enter the cache; with `ggml`,
        also what ggml-cpu's attention over an F16 cache (flash attention off) does: its K·Q and
        P·V products convert their F32 operand (the queries, the softmax probabilities) to F16."""
        n, d = len(ids), self.head_dim
        x = self.tensors["token_embd.weight"][0][ids]
        if self.arch == "gemma":
            x = x * np.float32(np.sqrt(np.float32(self.hidden)))
        positions = np.arange(n, dtype=np.float64)
        mask = np.triu(np.full((n, n), -np.inf), 1)
        group = self.heads // self.kv_heads
        for i in range(self.layers):
            b = f"blk.{i}."
            h = self._norm(x, b + "attn_norm.weight")
            q = self._rope(self._linear(h, b + "attn_q.weight", ggml), positions)
            k = self._rope(self._linear(h, b + "attn_k.weight", ggml), positions)
            v = self._linear(h, b + "attn_v.weight", ggml).reshape(n, self.kv_heads, d)
            if f16_cache:
                k, v = _half(k), _half(v)
                if ggml:
                    q = _half(q)
            heads = []
            for head in range(self.heads):
                kv = head // group
                s = q[:, head] @ k[:, kv].T / np.sqrt(d) + mask
                p = np.exp(s - s.max(axis=1, keepdims=True))
                p = p / p.sum(axis=1, keepdims=True)
                heads.append((_half(p) if f16_cache and ggml else p) @ v[:, kv])
            x = x + self._linear(np.concatenate(heads, axis=1), b + "attn_output.weight", ggml)
            h = self._norm(x, b + "ffn_norm.weight")
            gate = self._linear(h, b + "ffn_gate.weight", ggml)
            up = self._linear(h, b + "ffn_up.weight", ggml)
            if self.arch == "gemma":
                act = _gelu_ggml(gate) if ggml else _gelu_tanh32(gate).astype(np.float64)
            else:
                act = gate / (1 + np.exp(-gate))
            x = x + self._linear(act * up, b + "ffn_down.weight", ggml)
        h = self._norm(x[-1:], "output_norm.weight")
        output = "output.weight" if "output.weight" in self.tensors else "token_embd.weight"
        plain = float_tied_output and output == "token_embd.weight"
        return self._linear(h, output, ggml, plain)[0]
