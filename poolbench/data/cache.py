"""On-disk caches of generated graphs: keyed by their params, written atomically.

Files under ``data.root`` may come from someone else (a shared cluster folder,
a copied tree), so a cache file is a plain mapping of tensors that loads with
``torch.load(weights_only=True)``: reading it can never run code. A list of
graphs is stored as ``{"keys": ..., "<i>/<key>": tensor}``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch_geometric.data import Data

FORMAT = "poolbench-graphs-1"


def params_digest(params: dict) -> str:
    """A short hash of a generator's settings: part of its cache file name."""
    return hashlib.sha1(repr(sorted(params.items())).encode()).hexdigest()[:10]


def graphs_to_tensors(graphs: list[Data]) -> dict[str, object]:
    """Every tensor attribute of every graph, under ``"<i>/<key>"``."""
    state: dict[str, object] = {"format": FORMAT, "count": len(graphs)}
    for i, g in enumerate(graphs):
        for key, value in g.items():
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"graph {i}: attribute {key!r} is not a tensor")
            state[f"{i}/{key}"] = value
    return state


def graphs_from_tensors(state: dict[str, object]) -> list[Data]:
    if state.get("format") != FORMAT:
        raise ValueError("not a poolbench graph cache")
    graphs: list[dict[str, torch.Tensor]] = [{} for _ in range(int(state["count"]))]
    for name, value in state.items():
        index, sep, key = name.partition("/")
        if sep:
            graphs[int(index)][key] = value
    return [Data(**attrs) for attrs in graphs]


def save_atomic(graphs: list[Data], path: Path) -> None:
    # A temp file in the same folder makes os.replace atomic, so a crash or a
    # concurrent run never leaves a half-written cache behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(graphs_to_tensors(graphs), tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_or_generate(
    path: Path, generate: Callable[[], list[Data]], label: str | None = None
) -> list[Data]:
    """The graphs cached at ``path``, generating and saving them the first time.

    A damaged, truncated or foreign file (an old pickled cache, anything that is
    not plain tensors) is regenerated and replaced, never unpickled. Making
    them can take minutes (EXPWL1: about 90 s here), so on a terminal it is
    said on stderr; piped, stderr keeps to results and one-line errors.
    """
    if path.is_file():
        try:
            return graphs_from_tensors(torch.load(path, weights_only=True))
        except Exception:  # torn, foreign or unsafe: rebuild from the params
            pass
    start = time.perf_counter()
    what = label or path.stem
    say = sys.stderr.isatty()
    if say:
        print(f"poolbench: making {what} once, cached in {path}", file=sys.stderr)
    graphs = generate()
    save_atomic(graphs, path)
    if say:
        took = time.perf_counter() - start
        done = f"poolbench: {what}: {len(graphs)} graphs in {took:.1f} s"
        print(done, file=sys.stderr)
    return graphs
