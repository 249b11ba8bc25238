"""Times ggml's own quantized matrix products (the llama.cpp CPU backend bundled with
llama-cpp-python) on the shapes of `MGTensorBenchmarks --filter quant`, through ctypes:
ggml_mul_mat of a quantized [rows, cols] weight with F32 activations, computed by
ggml_graph_compute_with_ctx (activation quantization included, as in our products).

Weights are random bytes with small f16 scales and rotate through copies totalling >= 160 MiB
for the single-token products, as in the Swift benchmark. Plain ggml contexts do not use the
weight repacking llama.cpp applies to model buffers (CPU_REPACK), so prefill numbers are those of
ggml's generic path. Usage: python3 Tools/bench/ggml_quant_bench.py [--threads 2] [--repeat 9]
"""
import argparse
import ctypes
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

try:
    import llama_cpp
except ImportError:
    print("llama-cpp-python not installed: pip install llama-cpp-python")
    sys.exit(0)
import numpy as np

LIB = os.path.join(os.path.dirname(llama_cpp.__file__), "lib")
base = ctypes.CDLL(os.path.join(LIB, "libggml-base.so"), mode=ctypes.RTLD_GLOBAL)
cpu = ctypes.CDLL(os.path.join(LIB, "libggml-cpu.so"), mode=ctypes.RTLD_GLOBAL)


class InitParams(ctypes.Structure):
    _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p), ("no_alloc", ctypes.c_bool)]


base.ggml_init.restype = ctypes.c_void_p
base.ggml_init.argtypes = [InitParams]
base.ggml_free.argtypes = [ctypes.c_void_p]
base.ggml_new_tensor_2d.restype = ctypes.c_void_p
base.ggml_new_tensor_2d.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
base.ggml_mul_mat.restype = ctypes.c_void_p
base.ggml_mul_mat.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
base.ggml_new_graph.restype = ctypes.c_void_p
base.ggml_new_graph.argtypes = [ctypes.c_void_p]
base.ggml_build_forward_expand.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
base.ggml_get_data.restype = ctypes.c_void_p
base.ggml_get_data.argtypes = [ctypes.c_void_p]
base.ggml_nbytes.restype = ctypes.c_size_t
base.ggml_nbytes.argtypes = [ctypes.c_void_p]
cpu.ggml_graph_compute_with_ctx.restype = ctypes.c_int
cpu.ggml_graph_compute_with_ctx.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
cpu.ggml_cpu_init.restype = None
cpu.ggml_cpu_init()

FORMATS = {"Q8_0": (8, 34, 32, [0]), "Q4_0": (2, 18, 32, [0]), "Q4_K": (12, 144, 256, [0, 2]), "Q6_K": (14, 210, 256, [208])}


def fill_weight(tensor, name, rng):
    _, block_bytes, _, scale_offsets = FORMATS[name]
    size = base.ggml_nbytes(tensor)
    data = rng.integers(0, 256, size=size, dtype=np.uint8)
    blocks = data.reshape(-1, block_bytes)
    half = np.frombuffer(np.float16(0.002).tobytes(), dtype=np.uint8)
    for offset in scale_offsets:
        blocks[:, offset:offset + 2] = half
    ctypes.memmove(base.ggml_get_data(tensor), data.ctypes.data, size)


def product_seconds(name, rows, cols, tokens, copies, repeat, threads, rng):
    type_id, block_bytes, block, _ = FORMATS[name]
    weight_bytes = rows * cols // block * block_bytes
    mem = copies * (weight_bytes + (1 << 20)) + 2 * tokens * (cols + rows) * 4 + tokens * cols * 2 + (256 << 20)
    ctx = base.ggml_init(InitParams(mem, None, False))
    x = base.ggml_new_tensor_2d(ctx, 0, cols, tokens)
    values = rng.uniform(-1, 1, size=cols * tokens).astype(np.float32)
    ctypes.memmove(base.ggml_get_data(x), values.ctypes.data, values.nbytes)
    graphs = []
    for _ in range(copies):
        w = base.ggml_new_tensor_2d(ctx, type_id, cols, rows)
        fill_weight(w, name, rng)
        y = base.ggml_mul_mat(ctx, w, x)
        graph = base.ggml_new_graph(ctx)
        base.ggml_build_forward_expand(graph, y)
        graphs.append(graph)
    cpu.ggml_graph_compute_with_ctx(ctx, graphs[0], threads)
    # One thread computes on the calling thread: its CPU time, which a loaded machine cannot
    # stretch (as the Swift benchmark with MG_NUM_THREADS=1); wall time otherwise.
    clock = time.thread_time if threads == 1 else time.perf_counter
    times = []
    for i in range(repeat):
        start = clock()
        cpu.ggml_graph_compute_with_ctx(ctx, graphs[(i + 1) % copies], threads)
        times.append(clock() - start)
    base.ggml_free(ctx)
    return statistics.median(times), min(times), weight_bytes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--no-prefill", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(9)
    clock = "thread CPU time" if args.threads == 1 else "wall time"
    print(f"ggml (llama-cpp-python {llama_cpp.__version__}), {args.threads} threads ({clock})")
    print("\n| GEMV rows×cols | format | ggml GB/s median (best) |")
    print("|---|---|---|")
    models = [("Gemma-2B", [(2048, 2048, 2), (256, 2048, 2), (16384, 2048, 2), (2048, 16384, 1)]),
              ("Llama-7B", [(4096, 4096, 4), (11008, 4096, 2), (4096, 11008, 1)])]
    layer = {}
    for model, shapes in models:
        for name in FORMATS:
            total = 0.0
            for rows, cols, count in shapes:
                block_bytes, block = FORMATS[name][1], FORMATS[name][2]
                weight_bytes = rows * cols // block * block_bytes
                copies = max(1, min(64, (160 << 20) // weight_bytes))
                median, best, nbytes = product_seconds(name, rows, cols, 1, copies, max(args.repeat, 3 * copies), args.threads, rng)
                total += median * count
                print(f"| {rows}×{cols} ({model}) | {name} | {nbytes / median / 1e9:.1f} ({nbytes / best / 1e9:.1f}) |")
            layer[(model, name)] = total
    print("\n| decoder layer, decode (matrix products only) | format | ggml ms / layer | tokens/s (18 / 32 layers) |")
    print("|---|---|---|---|")
    for model, _ in models:
        for name in FORMATS:
            seconds = layer[(model, name)]
            layers = 18 if model.startswith("Gemma") else 32
            print(f"| {model} | {name} | {1000 * seconds:.2f} | {1 / (seconds * layers):.1f} |")
    if args.no_prefill:
        return
    print("\n| prefill GEMM tokens×cols→rows | format | ggml GFLOP/s median (best) |")
    print("|---|---|---|")
    for rows, cols in [(2048, 2048), (4096, 4096), (11008, 4096)]:
        for name in FORMATS:
            median, best, _ = product_seconds(name, rows, cols, 512, 1, max(3, args.repeat // 2), args.threads, rng)
            flops = 2.0 * 512 * rows * cols
            print(f"| 512×{cols}→{rows} | {name} | {flops / median / 1e9:.1f} ({flops / best / 1e9:.1f}) |")


if __name__ == "__main__":
    main()
