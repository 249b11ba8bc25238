"""Per-token training targets for the towers of the scenes model (discarded heads; training only).

The LR tower's 8×8 patch grid splits the 256×256 scene into 32×32-pixel blocks, and patch info
mining refines each block's token from the HR cells inside it. Supervising every token directly
(what is centred here, what covers this block, which digit is centred here) teaches the towers and
the mining to put each object's attributes into a definite token, so the language model only has
to learn to find and read them. Classes: 0 = nothing, 1 + kind·5 + colour for a shape, 1 + value
for the digit.
"""
import numpy as np
import torch

import scenes as S

GRID = 8
BLOCK = S.SIDE // GRID
SHAPE_CLASSES = 1 + len(S.SHAPES) * len(S.COLORS)
DIGIT_CLASSES = 11
# A block counts as covered by a shape when at least this many of its 1024 pixels are the shape's.
MIN_COVER = 64


def shape_class(shape):
    return 1 + shape.kind * len(S.COLORS) + shape.color


def token_of(x, y):
    return (y // BLOCK) * GRID + x // BLOCK


def shape_index_map(scene):
    """[256, 256] int: 1 + the index of the shape that owns each pixel, 0 for background."""
    owner = np.zeros((S.SIDE, S.SIDE), dtype=np.int64)
    for index, shape in enumerate(scene.shapes):
        if shape.kind == 0:
            mask = S._circle(shape.size)
        elif shape.kind == 1:
            mask = np.ones((shape.size, shape.size), dtype=bool)
        else:
            mask = S._triangle(shape.size, shape.height)
        region = owner[shape.y:shape.y + mask.shape[0], shape.x:shape.x + mask.shape[1]]
        region[mask] = index + 1
    return owner


def scene_token_targets(scene):
    """(centre [64], cover [64], digit [64]) class ids for one scene."""
    centre = np.zeros(GRID * GRID, dtype=np.int64)
    for shape in scene.shapes:
        centre[token_of(shape.x + shape.size // 2, shape.y + shape.height // 2)] = shape_class(shape)
    owner = shape_index_map(scene).reshape(GRID, BLOCK, GRID, BLOCK).transpose(0, 2, 1, 3).reshape(GRID * GRID, -1)
    cover = np.zeros(GRID * GRID, dtype=np.int64)
    for token in range(GRID * GRID):
        counts = np.bincount(owner[token], minlength=len(scene.shapes) + 1)
        counts[0] = 0
        best = int(counts.argmax())
        if counts[best] >= MIN_COVER:
            cover[token] = shape_class(scene.shapes[best - 1])
    digit = np.zeros(GRID * GRID, dtype=np.int64)
    d = scene.digit
    digit[token_of(d.x + d.width // 2, d.y + d.height // 2)] = 1 + d.value
    return centre, cover, digit


def batch_token_targets(scenes):
    """Stacked (centre, cover, digit) LongTensors [B, 64]."""
    parts = [scene_token_targets(s) for s in scenes]
    return tuple(torch.from_numpy(np.stack([p[i] for p in parts])) for i in range(3))
