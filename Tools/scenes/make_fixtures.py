#!/usr/bin/env python3
"""Writes Tests/MGScenesTests/Fixtures/scenes.json: for a few seeds of both ranges, the FNV-1a 64
checksum of the pixels, the layout, and the questions, as Tools/scenes/scenes.py generates them.
The Swift generator (Examples/MGScenes) must reproduce every entry exactly."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenes as S  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CASES = [("evaluation", seed) for seed in (0, 1, 2, 3, 42, 1000, 4_000_000_001, 2**64 - 1)] + \
        [("training", seed) for seed in (7, 99, 2**40 + 5)]


def main():
    entries = []
    for name, seed in CASES:
        scene = S.scene(seed, S.EVALUATION if name == "evaluation" else S.TRAINING)
        entries.append({
            "ranges": name, "seed": str(seed),
            "fnv1a64": f"{S.fnv1a64(scene.pixels.tobytes()):016x}",
            "background": list(scene.background),
            "shapes": [[S.SHAPES[s.kind], S.COLORS[s.color][0], s.x, s.y, s.size] for s in scene.shapes],
            "digit": [scene.digit.value, scene.digit.x, scene.digit.y, scene.digit.height, scene.digit.width,
                      scene.digit.stroke],
            "questions": [list(q) for q in scene.questions]})
    out = os.path.join(REPO, "Tests", "MGScenesTests", "Fixtures", "scenes.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as handle:
        handle.write("[\n" + ",\n".join(json.dumps(e, separators=(",", ":")) for e in entries) + "\n]\n")
    print(f"wrote {out} ({len(entries)} scenes)")


if __name__ == "__main__":
    main()
