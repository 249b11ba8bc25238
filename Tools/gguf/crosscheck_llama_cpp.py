"""Same GGUF, two runtimes: greedy text-only tokens and logits of `mgm run` and of llama.cpp.

For each tiny random checkpoint of the test fixtures (MGM-7B-tiny: Llama/Vicuna decoder,
MGM-2B-tiny: Gemma decoder) and each type, `mgm quantize` writes a folder; `mgm run --json --dump`
answers a text-only prompt greedily (its input ids, generated ids and prefill logits are written),
and llama.cpp (llama-cpp-python) loads the folder's GGUF, evaluates the same input ids and decodes
greedily, keeping every step's logits. Printed per model and type:

- the prefill logits of both runtimes: max |Δ|, and the logits' spread (std) for scale;
- how many of the generated tokens agree, and at the first divergence llama.cpp's margin between
  its own choice and mgm's (a near-tie when it is of the order of the prefill |Δ|).

Both runtimes keep their default KV cache for a GGUF decoder, IEEE half (every key and value
rounded once when written, read back widened); `--f32-cache` makes both F32 (`mgm run --kv-cache
f32`, llama.cpp's `type_k`/`type_v` = GGML_TYPE_F32). Flash attention is off, so the remaining
differences are the ones of llama.cpp's compute graph: activations rounded to F16 before F16 matrix products (mgm keeps F32), to Q8_0/Q8_K
blocks before products with any quantized matrix (mgm only where its integer kernels run: Q8_0,
Q4_0, Q4_K, Q6_K; Q5_0 and the other fallbacks multiply F32 activations), and GELU read from a
table indexed by the F16-rounded input (`GGML_GELU_FP16`, always on in ggml-cpu; mgm evaluates the
tanh formula in F32). `--explain` runs
`ggml_forward.py`'s NumPy decoder on the same GGUF with either arithmetic and prints its distance
to both runtimes, which attributes the difference.

With `--llama-quantize` the F16 export is also requantized to Q4_K_M by llama.cpp's own quantizer
and loaded by mgm. Nothing of llama.cpp is committed; `pip install llama-cpp-python` builds it.

    swift build --product mgm
    [MGM=path/to/mgm] python3 Tools/gguf/crosscheck_llama_cpp.py [--tokens 32] [--explain] [--llama-quantize]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKPOINTS = os.path.join(ROOT, "Tests", "MGPipelineTests", "Fixtures", "Checkpoints")
MGM = os.environ.get("MGM", os.path.join(ROOT, ".build", "debug", "mgm"))
PROMPT = "Describe a red square next to a blue circle."
GGML_TYPE_F32 = 0


def towers(name):
    config = json.load(open(os.path.join(CHECKPOINTS, name, "config.json")))
    args = []
    for key, flag in (("mm_vision_tower", "--vision-tower"), ("mm_vision_tower_aux", "--vision-tower-aux")):
        if config.get(key):
            args += [flag, os.path.join(CHECKPOINTS, config[key])]
    return args


def mgm_run(folder, name, tokens, dump, cache=None):
    cache_args = ["--kv-cache", cache] if cache else []
    out = subprocess.run(
        [MGM, "run", "--model", folder, "--json", "--temperature", "0", "--max-tokens", str(tokens),
         "--dump", dump, *cache_args, *towers(name), PROMPT],
        check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    from safetensors.numpy import load_file
    logits = load_file(os.path.join(dump, "logits_prefill.safetensors"))["logits_prefill"]
    return result["input_ids"], result["generated_ids"], logits.astype(np.float64)


def llama_cpp_run(gguf_path, input_ids, count, f16_cache):
    """Greedy decoding in llama.cpp, keeping each step's logits (step 0 = the prefill's last row)."""
    from llama_cpp import Llama
    cache = {} if f16_cache else {"type_k": GGML_TYPE_F32, "type_v": GGML_TYPE_F32}
    llm = Llama(model_path=gguf_path, n_ctx=256, n_threads=1, verbose=False, logits_all=True,
                flash_attn=False, **cache)
    llm.reset()
    llm.eval(input_ids)
    generated, steps = [], []
    while len(generated) < count:
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        steps.append(logits)
        token = int(np.argmax(logits))
        generated.append(token)
        if len(generated) < count:
            llm.eval([token])
    return generated, steps


def llama_quantize(source, target, ftype=15):
    import llama_cpp
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype  # LLAMA_FTYPE_MOSTLY_Q4_K_M
    status = llama_cpp.llama_model_quantize(source.encode(), target.encode(), params)
    if status != 0:
        raise RuntimeError(f"llama_model_quantize failed with {status}")


def agreement(a, b):
    n = min(len(a), len(b))
    same = next((i for i in range(n) if a[i] != b[i]), n)
    return same, n


def compare(label, folder, gguf, name, args, work, reference=None):
    dump = os.path.join(work, "dump-" + os.path.basename(folder))
    input_ids, ours, our_logits = mgm_run(folder, name, args.tokens, dump, "f32" if args.f32_cache else None)
    theirs, steps = llama_cpp_run(gguf, input_ids, len(ours), not args.f32_cache)
    same, n = agreement(ours, theirs)
    delta = np.abs(our_logits - steps[0]).max()
    line = (f"{label}: prefill max|Δlogit| {delta:.2e} (logit std {steps[0].std():.3f}); "
            f"mgm vs llama.cpp agree on the first {same}/{n} tokens")
    if same < n:
        at = steps[same]
        order = np.argsort(-at)
        top2 = at[order[0]] - at[order[1]]
        line += (f"; at token {same}: llama.cpp prefers {theirs[same]} over mgm's {ours[same]} by "
                 f"{at[theirs[same]] - at[ours[same]]:.2e} (its top-2 margin {top2:.2e}, "
                 f"mgm's choice is its #{int(np.where(order == ours[same])[0][0]) + 1})")
    if reference is not None:
        ref_same, ref_n = agreement(reference, ours)
        line += f"; mgm quantized vs unquantized {ref_same}/{ref_n}"
    print(line, flush=True)
    if args.explain:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from ggml_forward import Model
        model = Model(gguf)
        variants = [(False, False, ""), (True, False, " with ggml roundings")]
        if "output.weight" not in model.tensors:
            variants.append((False, True, ", tied output in F32"))
        for ggml, float_output, what in variants:
            emulated = model.prefill_logits(input_ids, ggml, float_output, f16_cache=not args.f32_cache)
            print(f"    NumPy forward{what}: max|Δ| to mgm "
                  f"{np.abs(emulated - our_logits).max():.2e}, to llama.cpp {np.abs(emulated - steps[0]).max():.2e}", flush=True)
    return same, n, ours


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--types", default="f16,q8_0,q4_0,q4_k_m")
    parser.add_argument("--models", default="MGM-7B-tiny,MGM-2B-tiny")
    parser.add_argument("--f32-cache", action="store_true",
                        help="F32 KV caches in both runtimes (by default both keep F16, their GGUF default)")
    parser.add_argument("--llama-quantize", action="store_true")
    parser.add_argument("--explain", action="store_true",
                        help="also compare with ggml_forward.py's NumPy decoder, without and with ggml's roundings")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="mgm-crosscheck-")
    rows = []
    try:
        for name in args.models.split(","):
            source = os.path.join(CHECKPOINTS, name)
            _, reference, _ = mgm_run(source, name, args.tokens, os.path.join(work, "dump-" + name))
            for qtype in args.types.split(","):
                folder = os.path.join(work, f"{name}-{qtype}")
                subprocess.run([MGM, "quantize", "--model", source, "--type", qtype, "--output", folder], check=True, capture_output=True)
                gguf = os.path.join(folder, f"language_model.{qtype}.gguf")
                same, n, _ = compare(f"{name} {qtype}", folder, gguf, name, args, work, reference)
                rows.append((name, qtype, same, n))
                if qtype == "f16" and args.llama_quantize:
                    folder_k = os.path.join(work, f"{name}-llama-q4_k_m")
                    shutil.copytree(folder, folder_k)
                    os.remove(os.path.join(folder_k, f"language_model.{qtype}.gguf"))
                    gguf_k = os.path.join(folder_k, "language_model.llama-q4_k_m.gguf")
                    llama_quantize(gguf, gguf_k)
                    compare(f"{name} llama.cpp-quantized Q4_K_M", folder_k, gguf_k, name, args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failures = [r for r in rows if r[1] in ("f16", "q8_0") and r[2] != r[3]]
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
