#!/usr/bin/env bash
# Kernel tiers one by one (issue #16): for every MG_MAX_ISA the CPU supports, the tier benchmark of
# MGTensorBenchmarks (peaks, Gemma-2B prefill products at 600 and 3,000 positions, decode GEMV vs a
# plain read), each next to PyTorch capped the same way (ONEDNN_MAX_CPU_ISA). Markdown on stdout.
# Usage: Scripts/bench-tiers.sh [--repeat N] [--no-torch]   (TIERS="avx2 baseline" to pick tiers)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product MGTensorBenchmarks >&2
bin="$(swift build -c release --show-bin-path)/MGTensorBenchmarks"
flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
supported="baseline"
[[ $flags == *" avx2 "* && $flags == *" fma "* ]] && supported="avx2 $supported"
[[ $flags == *" avx512f "* && $flags == *" avx512bw "* && $flags == *" avx512vl "* ]] && supported="avx512 $supported"
[[ $flags == *" avx512_bf16 "* ]] && supported="avx512bf16 $supported"
[[ $flags == *" amx_bf16 "* ]] && supported="amx $supported"
for isa in ${TIERS:-$supported}; do
  MG_MAX_ISA=$isa "$bin" --filter tiers "$@"
done
