"""Shared helpers for golden fixtures.

Every fixture is a .safetensors file whose `__metadata__` records the generator and tolerances.
Inputs are either stored in the file (small cases) or produced by `det_uniform`, a counter-based
generator that Swift reproduces bit-exactly (`DeterministicData.uniform`), so realistic-size cases
store only sampled outputs and stay small.
"""
import json
import os
import random

import numpy as np
import torch
from safetensors.torch import save_file

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MASK64 = (1 << 64) - 1


def seed_everything(seed: int = 0) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def fixture_dir(target: str) -> str:
    path = os.path.join(REPO, "Tests", f"{target}Tests", "Fixtures")
    os.makedirs(path, exist_ok=True)
    return path


def det_uniform(seed: int, shape, low: float = -1.0, high: float = 1.0) -> torch.Tensor:
    """splitmix64 of (seed, index) -> 24-bit integer -> float32 in [low, high).

    The integer-to-float step is exact, and the affine map is done in float32 exactly as Swift does:
    `low + (high - low) * u`, with u = k * 2^-24.
    """
    count = int(np.prod(shape)) if len(shape) else 1
    with np.errstate(over="ignore"):
        z = np.arange(count, dtype=np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) & MASK64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)
    values = np.float32(low) + np.float32(high - low) * u
    return torch.from_numpy(values.astype(np.float32).reshape(shape))


def sample_indices(count: int, samples: int = 4096, seed: int = 1234) -> torch.Tensor:
    """Flat indices at which a large output is stored (always includes the first and last)."""
    rng = np.random.default_rng(seed)
    if count <= samples:
        return torch.arange(count, dtype=torch.int64)
    chosen = rng.choice(count, size=samples - 2, replace=False)
    chosen = np.unique(np.concatenate([[0, count - 1], chosen]))
    return torch.from_numpy(chosen.astype(np.int64))


def save_fixture(target: str, name: str, tensors: dict, **metadata) -> None:
    """Writes Tests/<target>Tests/Fixtures/<name>.safetensors with contiguous tensors."""
    clean = {key: value.detach().contiguous() for key, value in tensors.items()}
    meta = {key: (value if isinstance(value, str) else json.dumps(value)) for key, value in metadata.items()}
    meta.setdefault("generator", "Tools/make_goldens.py")
    meta["torch"] = torch.__version__
    path = os.path.join(fixture_dir(target), f"{name}.safetensors")
    save_file(clean, path, metadata=meta)
