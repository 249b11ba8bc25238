"""Procedural scenes for the bundled tiny Mini-Gemini (issue #6): shapes, a seven-segment digit, and
questions with one-word answers.

The Swift target `MGScenes` implements the same generator; both must give identical pixels and
questions for a seed, so every step below is specified with integers only.

Random numbers: SplitMix64 seeded with the scene seed. `next()`:
    state = (state + 0x9E3779B97F4A7C15) mod 2^64; z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) mod 2^64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) mod 2^64
    return z ^ (z >> 31)
`randint(lo, hi)` (inclusive) = lo + next() mod (hi − lo + 1).

Scene (draw order = call order):
1. background r, g, b: three `randint(background.lo, 255)`.
2. n = randint(shapes.lo, shapes.hi). For each of the n shapes: kind = randint(0, 2) (circle,
   square, triangle), colour = randint(0, 4), size S = randint(size.lo, size.hi); the bounding box is
   S×S (circle, square) or S×H with H = (866·S + 500) // 1000 (triangle). Up to 100 attempts:
   x = randint(0, 256 − w), y = randint(0, 256 − h); accepted when the box keeps `gap` free pixels
   to every accepted box (see `_apart`). A shape with no accepted attempt is dropped.
3. digit value = randint(0, 9), height h = randint(digit_height), width w = (6h + 5) // 10, stroke
   t = randint(stroke). Up to 1000 attempts: x = randint(2, 254 − w), y = randint(2, 254 − h),
   accepted when its box keeps `digit_gap` pixels to every shape box. If none is accepted the
   whole scene starts again at step 1, continuing the same random stream.

Rasterisation: a pixel (x, y) gets a shape's colour when its centre (x + ½, y + ½) is inside the
shape; in doubled coordinates the centre is (2x + 1, 2y + 1) and every test is exact integer math.
- square at (x0, y0), side S: x0 ≤ x < x0 + S and y0 ≤ y < y0 + S.
- circle: (2x + 1 − (2x0 + S))² + (2y + 1 − (2y0 + S))² ≤ S².
- triangle (upright, apex up): vertices (2x0 + S, 2y0), (2x0, 2y0 + 2H), (2x0 + 2S, 2y0 + 2H)
  doubled; inside when 2y + 1 ≤ 2y0 + 2H and both slanted-edge functions are ≥ 0 (`_triangle`).
- digit: black axis-aligned segment rectangles (half-open pixel ranges), m = (h − t) // 2:
  a rows [y, y+t), d rows [y+h−t, y+h), g rows [y+m, y+m+t), all columns [x, x+w);
  f columns [x, x+t) and b columns [x+w−t, x+w), rows [y, y+m+t);
  e columns [x, x+t) and c columns [x+w−t, x+w), rows [y+m, y+h).

Questions, in this order (types in brackets):
- for circle, square, triangle: "What color is the {shape}?" when exactly one such shape [color]
- for red, green, blue, yellow, purple: "What shape is {color}?" when exactly one shape has it [shape]
- "How many shapes are there?" [count]
- for circle, square, triangle: "Is there a {shape}?" → yes / no [yesno]
- "What digit is shown?" [digit]
"""
from dataclasses import dataclass

import numpy as np

MASK = (1 << 64) - 1
SIDE = 256
SHAPES = ("circle", "square", "triangle")
COLORS = (("red", (220, 30, 30)), ("green", (30, 160, 60)), ("blue", (30, 70, 220)),
          ("yellow", (230, 200, 20)), ("purple", (140, 50, 170)))
SEGMENTS = ("abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg")
QUESTION_TYPES = ("color", "shape", "count", "yesno", "digit")


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def randint(self, lo, hi):
        return lo + self.next() % (hi - lo + 1)


@dataclass(frozen=True)
class Ranges:
    """Inclusive ranges of the random scene parameters. `EVALUATION` is the domain of issue #6."""
    shapes: tuple = (1, 4)
    size: tuple = (36, 72)
    background: tuple = (200, 255)
    digit_height: tuple = (9, 12)
    stroke: tuple = (1, 2)
    gap: int = 4
    digit_gap: int = 3


EVALUATION = Ranges()
TRAINING = Ranges(size=(28, 84), background=(160, 255), digit_height=(8, 16))


@dataclass(frozen=True)
class Shape:
    kind: int
    color: int
    x: int
    y: int
    size: int

    @property
    def height(self):
        return triangle_height(self.size) if self.kind == 2 else self.size


@dataclass(frozen=True)
class Digit:
    value: int
    x: int
    y: int
    height: int
    width: int
    stroke: int


@dataclass
class Scene:
    seed: int
    background: tuple
    shapes: list
    digit: Digit
    pixels: np.ndarray  # [256, 256, 3] uint8
    questions: list     # (type, question, answer)


def triangle_height(size):
    return (866 * size + 500) // 1000


def _apart(a, b, gap):
    """Boxes (x, y, w, h) leave at least `gap` free pixels between them on one axis."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax + aw + gap <= bx or bx + bw + gap <= ax or ay + ah + gap <= by or by + bh + gap <= ay


def _layout(rng, ranges):
    background = tuple(rng.randint(ranges.background[0], 255) for _ in range(3))
    shapes = []
    for _ in range(rng.randint(*ranges.shapes)):
        kind, color, size = rng.randint(0, 2), rng.randint(0, 4), rng.randint(*ranges.size)
        height = triangle_height(size) if kind == 2 else size
        for _ in range(100):
            x, y = rng.randint(0, SIDE - size), rng.randint(0, SIDE - height)
            if all(_apart((x, y, size, height), (s.x, s.y, s.size, s.height), ranges.gap) for s in shapes):
                shapes.append(Shape(kind, color, x, y, size))
                break
    value, height = rng.randint(0, 9), rng.randint(*ranges.digit_height)
    width, stroke = (6 * height + 5) // 10, rng.randint(*ranges.stroke)
    for _ in range(1000):
        x, y = rng.randint(2, SIDE - 2 - width), rng.randint(2, SIDE - 2 - height)
        if all(_apart((x, y, width, height), (s.x, s.y, s.size, s.height), ranges.digit_gap) for s in shapes):
            return background, shapes, Digit(value, x, y, height, width, stroke)
    return None


def _triangle(size, height):
    """Mask [height, size] of an upright triangle in its bounding box (box origin at 0, 0)."""
    px = 2 * np.arange(size, dtype=np.int64)[None, :] + 1
    py = 2 * np.arange(height, dtype=np.int64)[:, None] + 1
    apex_x, base_y = size, 2 * height
    # Left edge from (0, 2H) to (S, 0) and right edge from (S, 0) to (2S, 2H); the inside is where
    # both cross products are non-negative.
    left = (apex_x - 0) * (py - base_y) - (0 - base_y) * (px - 0)
    right = (2 * size - apex_x) * (py - 0) - (base_y - 0) * (px - apex_x)
    return (left >= 0) & (right >= 0) & (py <= base_y)


def _circle(size):
    p = 2 * np.arange(size, dtype=np.int64) + 1 - size
    return p[None, :] ** 2 + p[:, None] ** 2 <= size * size


def _rasterise(background, shapes, digit):
    pixels = np.empty((SIDE, SIDE, 3), dtype=np.uint8)
    pixels[:, :] = background
    for shape in shapes:
        if shape.kind == 0:
            mask = _circle(shape.size)
        elif shape.kind == 1:
            mask = np.ones((shape.size, shape.size), dtype=bool)
        else:
            mask = _triangle(shape.size, shape.height)
        region = pixels[shape.y:shape.y + mask.shape[0], shape.x:shape.x + mask.shape[1]]
        region[mask] = COLORS[shape.color][1]
    x, y, h, w, t = digit.x, digit.y, digit.height, digit.width, digit.stroke
    m = (h - t) // 2
    rects = {"a": (x, y, w, t), "d": (x, y + h - t, w, t), "g": (x, y + m, w, t),
             "f": (x, y, t, m + t), "b": (x + w - t, y, t, m + t),
             "e": (x, y + m, t, h - m), "c": (x + w - t, y + m, t, h - m)}
    for segment in SEGMENTS[digit.value]:
        rx, ry, rw, rh = rects[segment]
        pixels[ry:ry + rh, rx:rx + rw] = 0
    return pixels


def questions(shapes, digit):
    out = []
    for kind, name in enumerate(SHAPES):
        matching = [s for s in shapes if s.kind == kind]
        if len(matching) == 1:
            out.append(("color", f"What color is the {name}?", COLORS[matching[0].color][0]))
    for color, (name, _) in enumerate(COLORS):
        matching = [s for s in shapes if s.color == color]
        if len(matching) == 1:
            out.append(("shape", f"What shape is {name}?", SHAPES[matching[0].kind]))
    out.append(("count", "How many shapes are there?", str(len(shapes))))
    for kind, name in enumerate(SHAPES):
        out.append(("yesno", f"Is there a {name}?", "yes" if any(s.kind == kind for s in shapes) else "no"))
    out.append(("digit", "What digit is shown?", str(digit.value)))
    return out


def scene(seed, ranges=EVALUATION):
    """The scene of `seed` (an unsigned 64-bit integer)."""
    rng = SplitMix64(seed)
    while True:
        layout = _layout(rng, ranges)
        if layout is not None:
            break
    background, shapes, digit = layout
    return Scene(seed, background, shapes, digit, _rasterise(background, shapes, digit), questions(shapes, digit))


def fnv1a64(data: bytes):
    """FNV-1a, 64 bit: the fixture checksum of the pixels (simple to restate in Swift)."""
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & MASK
    return value


def vocabulary_lines():
    """Every question and answer string (the tokenizer's training text besides the template)."""
    lines = [f"What color is the {s}?" for s in SHAPES] + [f"What shape is {c}?" for c, _ in COLORS]
    lines += ["How many shapes are there?", "What digit is shown?"] + [f"Is there a {s}?" for s in SHAPES]
    lines += list(SHAPES) + [c for c, _ in COLORS] + ["yes", "no"] + [str(i) for i in range(10)]
    return lines


if __name__ == "__main__":
    import sys

    from PIL import Image
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    s = scene(seed)
    Image.fromarray(s.pixels).save(sys.argv[2] if len(sys.argv) > 2 else f"scene_{seed}.png")
    for q in s.questions:
        print(*q, sep=" | ")
