#!/usr/bin/env bash
# Kernel tiers one by one (issue #16): for every MG_MAX_ISA the CPU supports, the tier benchmark of
# MGTensorBenchmarks (peaks, Gemma-2B prefill products at 600 and 3,000 positions, decode GEMV vs a
# plain read), each next to PyTorch capped the same way (ONEDNN_MAX_CPU_ISA). Markdown on stdout.
# Usage: Scripts/bench-tiers.sh [--repeat N] [--no-torch]   (TIERS="avx2 baseline" to pick tiers)
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/bench-common.sh
swift build -c release --product MGTensorBenchmarks >&2
bin="$(swift build -c release --show-bin-path)/MGTensorBenchmarks"
for isa in ${TIERS:-$(supported_tiers)}; do
  MG_MAX_ISA=$isa "$bin" --filter tiers "$@"
done
