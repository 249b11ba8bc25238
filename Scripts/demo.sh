#!/usr/bin/env bash
# `make demo`: what the mgm tool can do with what is in the repository today.
# The end-to-end answer on the bundled default model arrives with the MGPipeline and
# bundled-model work (see README, "Status"); until then the demo shows the pieces that exist.
set -euo pipefail
mgm="$1"
cd "$(dirname "$0")/.."

echo "== The prompt MGM-7B (vicuna_v1) sees for one image and a question =="
"$mgm" prompt --template vicuna_v1 "What is unusual about this image?"
echo
echo "== The same for MGM-2B (gemma), picked from the model name as the official CLI does =="
"$mgm" prompt --model-name MGM-2B "What is unusual about this image?"
echo
echo "== A checkpoint file inspected through the memory-mapped safetensors reader =="
fixture=$(ls Tests/MGTensorTests/Fixtures/*.safetensors 2>/dev/null | head -n 1 || true)
if [ -n "$fixture" ]; then
  "$mgm" inspect --summary "$fixture"
fi
