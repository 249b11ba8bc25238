#!/usr/bin/env bash
# End-to-end time to first token per kernel tier (issue #16): `mgm run --json` on the MGM-2B-shaped
# random checkpoint of Scripts/bench-e2e.sh with one photo, under each MG_MAX_ISA the CPU supports,
# next to PyTorch capped the same way (ONEDNN_MAX_CPU_ISA). PyTorch has no MGM pipeline here, so
# its column is the sum of its parts at the same sizes (Tools/bench/torch_models.py): CLIP
# ViT-L/14-336 and ConvNeXt-L @768 in F32, and a Gemma-2B prefill of the same prompt length in
# BF16 — without preprocessing, mining and projector, so it flatters PyTorch slightly.
# Each side is the faster of two runs. Markdown on stdout.
# Usage: Scripts/bench-e2e-tiers.sh [CHECKPOINT_ROOT] [IMAGE]   (TIERS="avx2 baseline" to pick tiers;
#        NO_TORCH=1 to skip PyTorch)
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/bench-common.sh
root="${1:-/tmp/mgm-bench}"
image="${2:-../shared/images/extreme_ironing.jpg}"
ensure_mgm2b_checkpoint "$root"
[ -f "$image" ] || { echo "no image at $image" >&2; exit 2; }
swift build -c release --product mgm >&2
mgm="$(swift build -c release --show-bin-path)/mgm"


onednn_cap() {
  case "$1" in
    amx) echo "ONEDNN_MAX_CPU_ISA=AVX512_CORE_AMX" ;;
    avx512bf16) echo "ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 ATEN_CPU_CAPABILITY=avx512" ;;
    avx512) echo "ONEDNN_MAX_CPU_ISA=AVX512_CORE ATEN_CPU_CAPABILITY=avx512" ;;
    avx2) echo "ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2" ;;
    *) echo "ONEDNN_MAX_CPU_ISA=SSE41 ATEN_CPU_CAPABILITY=default" ;;
  esac
}

# Prints "vision prefill positions ttft tier" of the run with the shorter time to first token (of two).
run_mgm() {
  local best="" best_ttft=""
  for _ in 1 2; do
    local json
    json=$(MG_MAX_ISA=$1 "$mgm" run --model "$root/MGM-2B" --image "$image" --temperature 0 --max-tokens 1 \
      --quiet --json "Describe the image in detail.")
    local line
    line=$(python3 -c 'import json, sys; t = json.load(sys.stdin)["timings"]
print(t["vision_seconds"], t["prefill_seconds"], t["prompt_positions"], t["time_to_first_token_seconds"], t["kernel_tier"])' <<<"$json")
    local ttft
    ttft=$(awk '{print $4}' <<<"$line")
    if [ -z "$best" ] || awk -v a="$ttft" -v b="$best_ttft" 'BEGIN{exit !(a<b)}'; then best="$line"; best_ttft="$ttft"; fi
  done
  echo "$best"
}

# Prints "clip_ms convnext_ms prefill_ms" (PyTorch: towers the median of 2 after a warm-up, prefill the faster of 2).
run_torch() {
  local positions=$2
  env $(onednn_cap "$1") HF_HUB_OFFLINE=1 python3 Tools/bench/torch_models.py <<EOF | python3 -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin if l.strip()][1:]
for reply in lines:
    if "error" in reply:
        sys.exit("PyTorch: " + reply["error"])
print(lines[0]["ms"], lines[1]["ms"], lines[2]["prefill_ms"])'
{"op": "clip_vit_l336", "repeat": 2}
{"op": "convnext_l", "args": {"size": 768}, "repeat": 2}
{"op": "gemma_2b", "args": {"positions": $positions, "decode": 0}, "repeat": 1}
EOF
}

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) threads; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| tier | vision s | prefill s (positions) | time to first token s | PyTorch parts s (CLIP + ConvNeXt F32, BF16 prefill) | ours / PyTorch |"
echo "|---|---|---|---|---|---|"
for isa in ${TIERS:-$(supported_tiers)}; do
  read -r vision prefill positions ttft tier <<<"$(run_mgm "$isa")"
  [ "$tier" = "$isa" ] || echo "note: MG_MAX_ISA=$isa ran at tier $tier" >&2
  if [ -n "${NO_TORCH:-}" ]; then
    torch_cell="–"; ratio="–"
  else
    read -r clip convnext torch_prefill <<<"$(run_torch "$isa" "$positions")"
    torch_total=$(awk -v a="$clip" -v b="$convnext" -v c="$torch_prefill" 'BEGIN{printf "%.2f", (a+b+c)/1000}')
    torch_cell="$torch_total ($(awk -v a="$clip" -v b="$convnext" -v c="$torch_prefill" 'BEGIN{printf "%.2f + %.2f + %.2f", a/1000, b/1000, c/1000}'))"
    ratio=$(awk -v a="$ttft" -v b="$torch_total" 'BEGIN{printf "%.2f", a/b}')
  fi
  printf '| %s | %.2f | %.2f (%s) | %.2f | %s | %s |\n' "$isa" "$vision" "$prefill" "$positions" "$ttft" "$torch_cell" "$ratio"
done
