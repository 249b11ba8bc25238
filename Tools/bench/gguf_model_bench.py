"""Whole-model decode and prefill speed on one GGUF file: this project's decoder
(`MGTensorBenchmarks --filter gguf`) against llama.cpp (llama-cpp-python, n_threads=2) on the
same random text-only Gemma-2B-shape or Llama-7B-shape file, plus a plain read of the file's
tensor bytes in the same run (the memory-bound limit of a decode step).

The GGUF files are random: random bytes for every quantized block with small f16 scales (as
ggml_quant_bench.py), F32 norms of 1, a placeholder vocabulary. Type mixes follow llama.cpp's
quantizer: q8_0 everywhere Q8_0; q4_0 with a Q6_K output; q4_k_m with Q4_K, and Q6_K for the
output and for attn_v/ffn_down in llama.cpp's `use_more_bits` layers (a tied Gemma embedding is
the output, so Q6_K); Tools/gguf/random_gguf.py writes them. Files go to --work (default /tmp) and
are deleted afterwards unless --keep.

Each engine runs in its own process, alternating (llama.cpp, ours, llama.cpp, ours, ...), so both
see the same machine state; a step is the median of --decode steps after a 512-position prefill.
Times are wall clock and process CPU time; the machine may be shared, so both are reported.
"decode / read" is the plain read's time over the step's, within the same run of our engine; the
last column adds to the read the keys and values a step also reads (F16 or F32 cache at the mean
length of the timed steps), i.e. the step's bytes over its time as a fraction of the read rate.

Both engines keep their default KV cache for GGUF, IEEE half; `--f32-cache-too` adds a third
engine, this project's decoder with an F32 cache (`--kv-cache f32`), run in the same rotation.

Usage: python3 Tools/bench/gguf_model_bench.py [--models gemma2b,llama7b] [--types q8_0,q4_0,q4_k_m]
           [--rounds 2] [--decode 16] [--positions 512] [--f32-cache-too] [--bench .build-release/release/MGTensorBenchmarks]
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

# The random GGUF writer shared with Tools/gguf/make_scale_model.py.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gguf"))
import random_gguf  # noqa: E402

SHAPES = {
    "gemma2b": dict(arch="gemma", hidden=2048, ffn=16384, layers=18, heads=8, kv=1, head_dim=256, vocab=256000, tied=True),
    "llama7b": dict(arch="llama", hidden=4096, ffn=11008, layers=32, heads=32, kv=32, head_dim=128, vocab=32000, tied=False),
    # A smoke test of the script itself.
    "tiny": dict(arch="llama", hidden=512, ffn=1024, layers=2, heads=4, kv=2, head_dim=128, vocab=1000, tied=False),
}


def write_model(directory, model, kind, seed=1):
    shape = SHAPES[model]
    arch, vocab = shape["arch"], shape["vocab"]
    path = os.path.join(directory, f"{model}-{kind}.gguf")

    def metadata(writer):
        random_gguf.add_decoder_metadata(
            writer, context=4096, hidden=shape["hidden"], layers=shape["layers"], ffn=shape["ffn"], heads=shape["heads"],
            kv_heads=shape["kv"], head_dim=shape["head_dim"], eps=1e-6, rope_theta=10000.0)
        writer.add_tokenizer_model("llama")
        writer.add_token_list(["<unk>", "<s>", "</s>"] + [f"t{i}" for i in range(3, vocab)])
        writer.add_token_scores([0.0] * vocab)
        writer.add_token_types([2, 3, 3] + [1] * (vocab - 3))
        writer.add_unk_token_id(0)
        writer.add_bos_token_id(1)
        writer.add_eos_token_id(2)

    rng = np.random.default_rng(seed)

    def tensor(fout, name, values_shape, qtype):
        if qtype == random_gguf.Q.F32:
            np.ones(values_shape, dtype=np.float32).tofile(fout)
        else:
            random_gguf.random_blocks(rng, values_shape, qtype, fixed_scale=0.002).tofile(fout)

    plan = random_gguf.decoder_tensors(
        kind, hidden=shape["hidden"], ffn=shape["ffn"], layers=shape["layers"], heads=shape["heads"], kv_heads=shape["kv"],
        head_dim=shape["head_dim"], vocab=vocab, tied=shape["tied"])
    random_gguf.write_gguf(path, arch, plan, metadata, tensor)
    config = {
        "model_type": arch, "hidden_size": shape["hidden"], "intermediate_size": shape["ffn"],
        "num_hidden_layers": shape["layers"], "num_attention_heads": shape["heads"],
        "num_key_value_heads": shape["kv"], "head_dim": shape["head_dim"], "vocab_size": vocab,
        "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 4096,
        "tie_word_embeddings": shape["tied"], "bos_token_id": 1, "eos_token_id": 2,
    }
    config["hidden_act" if arch == "llama" else "hidden_activation"] = "silu" if arch == "llama" else "gelu_pytorch_tanh"
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f)
    return path


def run_llama_cpp(path, positions, decode, vocab):
    """Child process: llama.cpp prefill of `positions` ids, then `decode` single-token steps."""
    from llama_cpp import Llama
    llm = Llama(model_path=path, n_threads=2, n_threads_batch=2, n_ctx=positions + decode + 16, n_batch=positions,
                n_ubatch=positions, verbose=False)
    rng = np.random.default_rng(7)
    ids = [int(i) for i in rng.integers(3, vocab, size=positions)]
    llm.reset()
    llm.eval(ids[:4])  # warm-up (thread pool, first touch)
    llm.reset()
    wall, cpu = time.perf_counter(), time.process_time()
    llm.eval(ids)
    prefill_wall, prefill_cpu = time.perf_counter() - wall, time.process_time() - cpu
    steps_wall, steps_cpu, reads = [], [], []
    for i in range(decode):
        wall, cpu = time.perf_counter(), time.process_time()
        llm.eval([ids[i]])
        steps_wall.append(time.perf_counter() - wall)
        steps_cpu.append(time.process_time() - cpu)
        reads.append(timed_read(path))
    import llama_cpp
    print(json.dumps({
        "version": llama_cpp.__version__, "prefill_wall_s": prefill_wall, "prefill_cpu_s": prefill_cpu,
        "step_wall_median_s": float(np.median(steps_wall)), "step_wall_min_s": min(steps_wall),
        "step_cpu_median_s": float(np.median(steps_cpu)), "file_bytes": os.path.getsize(path),
        "read_wall_median_s": float(np.median(reads))}))


KERNELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Benchmarks", "kernels")
READ_SOURCE = """#include "plain_read.h"
uint64_t read_words(const uint8_t *p, size_t n) { return plain_read(p, n); }
"""
_reader = None


def reader():
    """The plain read of our benchmark (Benchmarks/kernels/plain_read.h, as mg_qd_read_bytes) built
    as a small shared library and called through ctypes, which releases the GIL: numpy's fastest reductions
    run at ~58 GB/s per core in cache here, too close to the memory's per-core rate to measure it."""
    global _reader
    if _reader is None:
        import ctypes
        directory = tempfile.mkdtemp(prefix="mgm-read-")
        source, library = os.path.join(directory, "read.c"), os.path.join(directory, "read.so")
        with open(source, "w") as f:
            f.write(READ_SOURCE)
        subprocess.run(["cc", "-O3", "-march=native", "-shared", "-fPIC", "-I", KERNELS, source, "-o", library], check=True)
        _reader = ctypes.CDLL(library).read_words
        _reader.restype = ctypes.c_uint64
        _reader.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        shutil.rmtree(directory, ignore_errors=True)
    return _reader


_mappings = {}
_pool = concurrent.futures.ThreadPoolExecutor(2)  # its threads start at the first read, an untimed one


def timed_read(path):
    """Wall seconds of a plain two-thread read of the whole file, the llama.cpp process's counterpart of the
    read that alternates with our decode steps. The memory of this VM runs at one of two speeds from process
    to process, so each engine's step is judged against a read taken in its own process. The file is mapped
    once per process (the first read also maps its pages)."""
    import mmap
    read = reader()
    if path not in _mappings:
        with open(path, "rb") as f:
            _mappings[path] = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        timed_read(path)
    view = np.frombuffer(_mappings[path], dtype=np.uint8)
    base, size = view.ctypes.data, view.size
    half = size // 2 // 64 * 64
    start = time.perf_counter()
    parts = [_pool.submit(read, base, half), _pool.submit(read, base + half, size - half)]
    for part in parts:
        part.result()
    return time.perf_counter() - start


def cache_bytes_per_step(shape, positions, decode, element_bytes):
    """Bytes of keys and values a decode step reads besides the weights, at the mean cache length of the
    timed steps (positions + 1 … positions + decode)."""
    mean_length = positions + (decode + 1) / 2
    return shape["layers"] * shape["kv"] * shape["head_dim"] * 2 * element_bytes * mean_length


def print_rounds(model, kind, results):
    """One line per round: each engine's decode tok/s, the read rate in its own process, and its step ÷ read;
    the ratio of the two engines means most where both processes met the same memory speed."""
    for index, (theirs, ours) in enumerate(zip(results["llama.cpp"], results["mgm"])):
        def engine(run):
            read_s = run.get("read_wall_median_s")
            if read_s is None:
                return f"{1 / run['step_wall_median_s']:.2f} tok/s"
            return (f"{1 / run['step_wall_median_s']:.2f} tok/s, read {run['file_bytes'] / read_s / 1e9:.1f} GB/s, "
                    f"step/read {100 * read_s / run['step_wall_median_s']:.0f}%")
        print(f"  {model} {kind} round {index + 1}: llama.cpp {engine(theirs)} | mgm {engine(ours)} | "
              f"ours/llama.cpp {theirs['step_wall_median_s'] / ours['step_wall_median_s']:.2f}", flush=True)


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON result in output:\n" + text[-2000:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="gemma2b,llama7b")
    parser.add_argument("--types", default="q8_0,q4_0,q4_k_m")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--decode", type=int, default=16)
    parser.add_argument("--positions", type=int, default=512)
    parser.add_argument("--work", default="/tmp")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--f32-cache-too", action="store_true", help="also run this project's decoder with an F32 KV cache")
    parser.add_argument("--bench", default=os.path.join(os.path.dirname(__file__), "../../.build-release/release/MGTensorBenchmarks"))
    parser.add_argument("--llama-child", nargs=2, metavar=("GGUF", "VOCAB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.llama_child:
        run_llama_cpp(args.llama_child[0], args.positions, args.decode, int(args.llama_child[1]))
        return
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        print("llama-cpp-python not installed: pip install llama-cpp-python")
        return
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}", flush=True)
    print("| model | type | GiB | engine | prefill 512 tok/s wall (CPU s) | decode tok/s wall median (CPU ms/token) | read GB/s | "
          "decode / read of the file | decode / read of file + KV cache |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    for model in args.models.split(","):
        for kind in args.types.split(","):
            directory = tempfile.mkdtemp(prefix=f"mgm-{model}-{kind}-", dir=args.work)
            try:
                path = write_model(directory, model, kind)
                size = os.path.getsize(path)
                results = {"llama.cpp": [], "mgm": []}
                if args.f32_cache_too:
                    results["mgm f32 cache"] = []
                for _ in range(args.rounds):
                    out = subprocess.run([sys.executable, __file__, "--llama-child", path, str(SHAPES[model]["vocab"]),
                                          "--positions", str(args.positions), "--decode", str(args.decode)],
                                         capture_output=True, text=True, check=True).stdout
                    results["llama.cpp"].append(last_json(out))
                    env = dict(os.environ, MG_NUM_THREADS="2")
                    out = subprocess.run([args.bench, "--filter", "gguf", "--model", directory, "--positions",
                                          str(args.positions), "--decode", str(args.decode)],
                                         capture_output=True, text=True, check=True, env=env).stdout
                    results["mgm"].append(last_json(out))
                    if args.f32_cache_too:
                        out = subprocess.run([args.bench, "--filter", "gguf", "--model", directory, "--positions",
                                              str(args.positions), "--decode", str(args.decode), "--kv-cache", "f32"],
                                             capture_output=True, text=True, check=True, env=env).stdout
                        results["mgm f32 cache"].append(last_json(out))
                for engine, runs in results.items():
                    best = min(runs, key=lambda r: r["step_wall_median_s"])
                    prefill = min(runs, key=lambda r: r["prefill_wall_s"])
                    read = fraction = fraction_kv = ""
                    if "read_wall_median_s" in best:
                        # The step and the read of the same run saw the same machine state (memory bandwidth here
                        # changes from run to run), so the fraction is taken within the best run.
                        read_s = best["read_wall_median_s"]
                        read = f"{best['file_bytes'] / read_s / 1e9:.1f}"
                        fraction = f"{100 * read_s / best['step_wall_median_s']:.0f}%"
                        kv = cache_bytes_per_step(SHAPES[model], args.positions, args.decode, 4 if best.get("kv_cache") == "f32" else 2)
                        fraction_kv = f"{100 * read_s * (1 + kv / best['file_bytes']) / best['step_wall_median_s']:.0f}%"
                    print(f"| {model} | {kind} | {size / 2**30:.2f} | {engine} | "
                          f"{args.positions / prefill['prefill_wall_s']:.1f} ({prefill['prefill_cpu_s']:.1f}) | "
                          f"{1 / best['step_wall_median_s']:.2f} ({1000 * best['step_cpu_median_s']:.0f}) | {read} | {fraction} | "
                          f"{fraction_kv} |",
                          flush=True)
                print_rounds(model, kind, results)
                print(f"<!-- {model} {kind}: {json.dumps(results)} -->", flush=True)
            finally:
                if not args.keep:
                    shutil.rmtree(directory, ignore_errors=True)
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
