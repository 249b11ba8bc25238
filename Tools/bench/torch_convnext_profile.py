"""Where PyTorch's ConvNeXt-L @768 (timm trunk + Mini-Gemini's fusion, as torch_models.convnext_l)
spends its time: torch.profiler's self CPU time per operator, for comparison with
`MGTensorBenchmarks --filter vision-tiers`' per-part table of our tower.

    python3 Tools/bench/torch_convnext_profile.py [--size 768] [--threads 2] [--dtype f32|bf16]
"""
import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from torch_models import convnext_l_forward  # noqa: E402  (this folder, on sys.path when run as a script)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=768)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    run = convnext_l_forward(args.size, torch.bfloat16 if args.dtype == "bf16" else torch.float32)

    run()  # warm-up
    start, start_cpu = time.perf_counter(), time.process_time()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    wall, cpu = (time.perf_counter() - start) * 1e3, (time.process_time() - start_cpu) * 1e3
    print(f"torch {torch.__version__}, {args.threads} threads, {args.dtype}, {args.size}²: "
          f"wall {wall:.0f} ms, process CPU {cpu:.0f} ms ({cpu / args.threads:.0f} ms per thread), profiled run")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
