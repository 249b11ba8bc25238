#!/usr/bin/env python3
"""Regenerates every golden fixture deterministically.

Usage: python3 Tools/make_goldens.py [module ...]
Each module in Tools/goldens/ (other than common.py) exposes `generate()`; helper modules without
one (e.g. mgm_reference.py) are skipped.
"""
import importlib
import os
import pkgutil
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import goldens  # noqa: E402
from goldens import common  # noqa: E402


def main(selected):
    names = sorted(m.name for m in pkgutil.iter_modules(goldens.__path__) if m.name != "common")
    for name in names:
        if selected and name not in selected:
            continue
        common.seed_everything(0)
        module = importlib.import_module(f"goldens.{name}")
        if not hasattr(module, "generate"):
            continue
        print(f"[goldens] {name}", flush=True)
        module.generate()


if __name__ == "__main__":
    main(set(sys.argv[1:]))
