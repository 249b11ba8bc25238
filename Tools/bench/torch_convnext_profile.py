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
import torch.nn.functional as F  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=768)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    from timm.models.convnext import ConvNeXt
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    trunk = ConvNeXt(depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536), num_classes=0).eval().to(dtype)
    pixels = (torch.rand(1, 3, args.size, args.size) * 4 - 2).to(dtype)

    def run():
        x = trunk.stem(pixels)
        stages = []
        for stage in trunk.stages:
            x = stage(x)
            stages.append(x)
        target = stages[0].shape[-2:]
        resized = [F.interpolate(s, size=target, mode="bilinear", align_corners=False) for s in stages[1:]]
        return torch.cat([stages[0]] + resized, 1)

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
