"""Same GGUF, two runtimes: greedy text-only tokens of `mgm run` and of llama.cpp (llama-cpp-python).

For each tiny random checkpoint of the test fixtures (MGM-7B-tiny: Llama/Vicuna decoder,
MGM-2B-tiny: Gemma decoder) and each type, `mgm quantize` writes a folder; `mgm run --json`
answers a text-only prompt greedily (its input ids and generated ids are printed), and llama.cpp
loads the folder's GGUF, evaluates the same input ids and decodes greedily. With `--llama-quantize`
the F16 export is also requantized to Q4_K_M by llama.cpp's own quantizer and loaded by mgm.
Nothing of llama.cpp is committed; install it with `pip install llama-cpp-python` (builds from source).

    swift build --product mgm
    python3 Tools/gguf/crosscheck_llama_cpp.py [--tokens 32] [--llama-quantize]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKPOINTS = os.path.join(ROOT, "Tests", "MGPipelineTests", "Fixtures", "Checkpoints")
MGM = os.path.join(ROOT, ".build", "debug", "mgm")
PROMPT = "Describe a red square next to a blue circle."


def towers(name):
    config = json.load(open(os.path.join(CHECKPOINTS, name, "config.json")))
    args = []
    for key, flag in (("mm_vision_tower", "--vision-tower"), ("mm_vision_tower_aux", "--vision-tower-aux")):
        if config.get(key):
            args += [flag, os.path.join(CHECKPOINTS, config[key])]
    return args


def mgm_tokens(folder, name, tokens):
    out = subprocess.run(
        [MGM, "run", "--model", folder, "--json", "--temperature", "0", "--max-tokens", str(tokens), *towers(name), PROMPT],
        check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["input_ids"], result["generated_ids"]


def llama_cpp_tokens(gguf_path, input_ids, count):
    from llama_cpp import Llama
    llm = Llama(model_path=gguf_path, n_ctx=256, n_threads=1, verbose=False, logits_all=False)
    generated = []
    for token in llm.generate(input_ids, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0, reset=True):
        generated.append(int(token))
        if len(generated) >= count:
            break
    return generated


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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--types", default="f16,q8_0,q4_0,q4_k_m")
    parser.add_argument("--llama-quantize", action="store_true")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="mgm-crosscheck-")
    rows = []
    try:
        for name in ("MGM-7B-tiny", "MGM-2B-tiny"):
            source = os.path.join(CHECKPOINTS, name)
            _, reference = mgm_tokens(source, name, args.tokens)
            for qtype in args.types.split(","):
                folder = os.path.join(work, f"{name}-{qtype}")
                subprocess.run([MGM, "quantize", "--model", source, "--type", qtype, "--output", folder], check=True, capture_output=True)
                gguf = os.path.join(folder, f"language_model.{qtype}.gguf")
                input_ids, ours = mgm_tokens(folder, name, args.tokens)
                theirs = llama_cpp_tokens(gguf, input_ids, len(ours))
                same, n = agreement(ours, theirs)
                ref_same, ref_n = agreement(reference, ours)
                rows.append((name, qtype, same, n, ref_same, ref_n))
                print(f"{name} {qtype}: mgm vs llama.cpp agree on the first {same}/{n} tokens; "
                      f"mgm quantized vs unquantized {ref_same}/{ref_n}", flush=True)
                if qtype == "f16" and args.llama_quantize:
                    folder_k = os.path.join(work, f"{name}-llama-q4_k_m")
                    shutil.copytree(folder, folder_k)
                    os.remove(os.path.join(folder_k, f"language_model.{qtype}.gguf"))
                    gguf_k = os.path.join(folder_k, "language_model.llama-q4_k_m.gguf")
                    llama_quantize(gguf, gguf_k)
                    input_ids, ours = mgm_tokens(folder_k, name, args.tokens)
                    theirs = llama_cpp_tokens(gguf_k, input_ids, len(ours))
                    same, n = agreement(ours, theirs)
                    print(f"{name} llama.cpp-quantized Q4_K_M: mgm vs llama.cpp agree on the first {same}/{n} tokens", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failures = [r for r in rows if r[1] in ("f16", "q8_0") and r[2] != r[3]]
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
