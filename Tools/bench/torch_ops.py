#!/usr/bin/env python3
"""PyTorch side of the MGTensor benchmark: a line-oriented server driven by MGTensorBenchmarks.

Each request on stdin is one JSON object {"op": NAME, "args": {...}, "repeat": N}; the reply on stdout
is {"ms": median milliseconds} (or {"error": text}). Swift and PyTorch cases are interleaved so both
see the same machine state. Threads are fixed to 2 (the machine's cores), fp32 throughout.
"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(int(os.environ.get("MG_NUM_THREADS", "2")))
torch.set_grad_enabled(False)


def rand(*shape):
    return torch.rand(*shape, dtype=torch.float32) * 2 - 1


def rope(x, positions, theta):
    dim = x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    freqs = positions[:, None].float() * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    half = dim // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


def make_case(op, a):
    """Returns a zero-argument callable running the op on pre-built inputs."""
    if op == "sgemm":
        x, w = rand(a["M"], a["K"]), rand(a["N"], a["K"])
        return lambda: F.linear(x, w)
    if op == "linear_bf16":
        # PyTorch's BF16 inference: activations and weights in bf16 (oneDNN, AMX where present).
        x = rand(a["M"], a["K"]).to(torch.bfloat16)
        w = (rand(a["N"], a["K"]) * 0.05).to(torch.bfloat16)
        return lambda: F.linear(x, w)
    if op == "linears_bf16":
        # Several BF16 linears of the same rows (a layer's q, k and v projections), one call each.
        x = rand(a["M"], a["K"]).to(torch.bfloat16)
        ws = [(rand(n, a["K"]) * 0.05).to(torch.bfloat16) for n in a["N"]]
        return lambda: [F.linear(x, w) for w in ws]
    if op == "gated_mlp_bf16":
        # A Gemma MLP in BF16 (GeGLU, tanh GELU), as PyTorch runs a BF16 model.
        x = rand(a["M"], a["hidden"]).to(torch.bfloat16)
        gate = (rand(a["inner"], a["hidden"]) * 0.05).to(torch.bfloat16)
        up = (rand(a["inner"], a["hidden"]) * 0.05).to(torch.bfloat16)
        down = (rand(a["hidden"], a["inner"]) * 0.05).to(torch.bfloat16)
        return lambda: F.linear(F.gelu(F.linear(x, gate), approximate="tanh") * F.linear(x, up), down)
    if op == "softmax":
        x = rand(*a["shape"])
        return lambda: torch.softmax(x, dim=-1)
    if op == "layer_norm":
        x, w, b = rand(*a["shape"]), rand(a["shape"][-1]), rand(a["shape"][-1])
        return lambda: F.layer_norm(x, (a["shape"][-1],), w, b, 1e-5)
    if op == "layer_norm_2d":
        x = rand(*a["shape"])
        c = a["shape"][1]
        w, b = rand(c), rand(c)
        # timm's LayerNorm2d: permute to channels-last, layer_norm, permute back.
        return lambda: F.layer_norm(x.permute(0, 2, 3, 1), (c,), w, b, 1e-6).permute(0, 3, 1, 2).contiguous()
    if op == "rms_norm":
        x, w = rand(*a["shape"]), rand(a["shape"][-1])
        eps = 1e-6

        def run():
            variance = x.pow(2).mean(-1, keepdim=True)
            return x * torch.rsqrt(variance + eps) * (1.0 + w)
        return run
    if op == "gelu":
        x = rand(*a["shape"])
        return lambda: F.gelu(x, approximate=a.get("approximate", "none"))
    if op == "quick_gelu":
        x = rand(*a["shape"])
        return lambda: x * torch.sigmoid(1.702 * x)
    if op == "silu":
        x = rand(*a["shape"])
        return lambda: F.silu(x)
    if op == "silu_gated":
        g, u = rand(*a["shape"]), rand(*a["shape"])
        return lambda: F.silu(g) * u
    if op == "add_broadcast":
        x, y = rand(*a["shape"]), rand(a["shape"][-1])
        return lambda: x + y
    if op == "mul":
        x, y = rand(*a["shape"]), rand(*a["shape"])
        return lambda: x * y
    if op == "nan_to_num":
        x = rand(*a["shape"])
        return lambda: torch.nan_to_num(x)
    if op == "depthwise_conv":
        c, h, w = a["C"], a["H"], a["W"]
        x, k, b = rand(1, c, h, w), rand(c, 1, 7, 7), rand(c)
        return lambda: F.conv2d(x, k, b, stride=1, padding=3, groups=c)
    if op == "patch_conv":
        x = rand(1, a["Cin"], a["H"], a["W"])
        k = rand(a["Cout"], a["Cin"], a["k"], a["k"])
        b = rand(a["Cout"]) if a.get("bias", True) else None
        return lambda: F.conv2d(x, k, b, stride=a["k"])
    if op == "bilinear":
        x = rand(1, a["C"], a["H"], a["W"])
        return lambda: F.interpolate(x, size=(a["outH"], a["outW"]), mode="bilinear", align_corners=False)
    if op == "permute_nchw_nhwc":
        x = rand(*a["shape"])
        return lambda: x.permute(0, 2, 3, 1).contiguous()
    if op == "concat_channels":
        parts = [rand(*s) for s in a["shapes"]]
        return lambda: torch.cat(parts, dim=1)
    if op == "embedding":
        table = rand(a["vocab"], a["dim"]).to(torch.bfloat16)
        ids = torch.randint(0, a["vocab"], (a["count"],))
        return lambda: F.embedding(ids, table).float()
    if op == "rope":
        x = rand(1, a["heads"], a["T"], a["D"])
        positions = torch.arange(a["T"])
        return lambda: rope(x, positions, a["theta"])
    if op == "argmax":
        x = rand(a["count"])
        return lambda: torch.argmax(x)
    if op == "topk":
        x = rand(a["count"])
        return lambda: torch.topk(x, a["k"])
    if op == "sdpa":
        q = rand(1, a["Hq"], a["Tq"], a["D"])
        k = rand(1, a["Hkv"], a["Tk"], a["D"])
        v = rand(1, a["Hkv"], a["Tk"], a["D"])
        gqa = a["Hq"] != a["Hkv"]
        return lambda: F.scaled_dot_product_attention(q, k, v, is_causal=a["causal"], enable_gqa=gqa)
    raise ValueError(f"unknown op {op}")


def median_timing(fn, repeat):
    """Median wall ms and median process CPU ms per thread (robust to other processes on a shared
    machine), after one warm-up call."""
    fn()  # warm-up
    times, cpu_times = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
        cpu_times.append((time.process_time() - start_cpu) * 1000.0 / torch.get_num_threads())
    times.sort()
    cpu_times.sort()
    return {"ms": times[len(times) // 2], "cpu_ms": cpu_times[len(cpu_times) // 2]}


def serve(banner, answer, after_each=None):
    """The line protocol of both benchmark servers: prints `banner`, then for each JSON request on
    stdin prints `answer(request)` (or {"error": text}), calling `after_each` before the reply."""
    print(json.dumps(banner), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            reply = answer(json.loads(line))
        except Exception as error:  # report, keep serving
            reply = {"error": f"{type(error).__name__}: {error}"}
        if after_each is not None:
            after_each()
        print(json.dumps(reply), flush=True)


def main():
    banner = {"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}
    banner["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    banner["ONEDNN_MAX_CPU_ISA"] = os.environ.get("ONEDNN_MAX_CPU_ISA", "unset")
    serve(banner, lambda request: median_timing(
        make_case(request["op"], request.get("args", {})), int(request.get("repeat", 5))))


if __name__ == "__main__":
    main()
