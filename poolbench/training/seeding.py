"""Seeds: one base seed fans out to a distinct, reproducible seed per run."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch


def run_seed(base: int, fold: int, run: int) -> int:
    """A seed per (fold, run) that does not collide across folds."""
    digest = hashlib.sha256(f"{base}:{fold}:{run}".encode()).digest()
    return int.from_bytes(digest[:4], "little") % (2**31 - 1)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a generator for data shuffling."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)
