"""On-disk caches of generated graphs: keyed by their params, written atomically."""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch_geometric.data import Data


def params_digest(params: dict) -> str:
    """A short hash of a generator's settings: part of its cache file name."""
    return hashlib.sha1(repr(sorted(params.items())).encode()).hexdigest()[:10]


def save_atomic(graphs: list[Data], path: Path) -> None:
    # A temp file in the same folder makes os.replace atomic, so a crash or a
    # concurrent run never leaves a half-written cache behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(graphs, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_or_generate(path: Path, generate: Callable[[], list[Data]]) -> list[Data]:
    """The graphs cached at ``path``, generating and saving them the first time.

    A damaged or truncated cache file is rebuilt rather than fatal.
    """
    if path.is_file():
        try:
            return torch.load(path, weights_only=False)
        except (OSError, EOFError, RuntimeError, pickle.UnpicklingError):
            pass
    graphs = generate()
    save_atomic(graphs, path)
    return graphs
