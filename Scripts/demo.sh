#!/usr/bin/env bash
# `make demo`: the bundled scenes model (Models/MGM-Scenes, a tiny Mini-Gemini trained on procedural
# scenes) answers questions about a bundled scene through the whole pipeline: preprocessing, the CLIP
# and ConvNeXt towers, patch info mining, the projector and the Llama decoder, greedy decoding.
set -euo pipefail
mgm="$1"
cd "$(dirname "$0")/.."
image=Examples/Images/scene.png

echo "== Questions about $image (a red circle, a red square, a blue triangle and a small digit 8) =="
printf '%-30s %-10s %s\n' "question" "answer" "expected"
while IFS='|' read -r question expected; do
  answer=$("$mgm" run --quiet --temperature 0 --max-tokens 8 --image "$image" "$question")
  printf '%-30s %-10s %s\n' "$question" "$answer" "$expected"
done <<'QUESTIONS'
What color is the triangle?|blue
What shape is blue?|triangle
How many shapes are there?|3
Is there a circle?|yes
What digit is shown?|8
QUESTIONS
echo
echo "== The prompt the model saw for the last question (vicuna_v1, as the official CLI builds it) =="
"$mgm" prompt --template vicuna_v1 "What digit is shown?"
echo
echo "== Accuracy on 20 fresh scenes (mgm eval; Documentation/Scenes.md has the 400-scene table) =="
"$mgm" eval --scenes 20
