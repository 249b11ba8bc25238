#!/usr/bin/env bash
# Real-size timing of the whole pipeline: an MGM-2B-shaped checkpoint with random BF16 weights
# (CLIP-L/336 + ConvNeXt-L/768 + Gemma-2B), one photo, greedy decoding. Prints mgm's JSON timings
# (load, vision, prefill, decode tokens/s) and the peak resident memory.
# Usage: Scripts/bench-e2e.sh [CHECKPOINT_ROOT] [IMAGE]   (needs `make python-deps` the first time)
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/bench-common.sh
root="${1:-/tmp/mgm-bench}"
image="${2:-../shared/images/extreme_ironing.jpg}"
ensure_mgm2b_checkpoint "$root"
swift build -c release --product mgm >&2
mgm="$(swift build -c release --show-bin-path)/mgm"
image_args=()
[ -f "$image" ] && image_args=(--image "$image")
/usr/bin/time -f "peak_rss_kib %M" "$mgm" run --model "$root/MGM-2B" "${image_args[@]}" \
  --temperature 0 --max-tokens 32 --json "Describe the image in detail."
