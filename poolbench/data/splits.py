"""Outer folds and inner validation splits, built once, saved as JSON, reused.

Every pooler reads the same file for a dataset, so all methods see identical
splits (Errica et al. 2020). A file whose labels do not match the dataset is
refused rather than silently rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from poolbench.errors import PoolbenchError


@dataclass(frozen=True)
class Split:
    """Indices of one outer fold: train and val come from outer-train only."""

    train: list[int]
    val: list[int]
    test: list[int]


def _labels_digest(labels: np.ndarray) -> str:
    return hashlib.sha1(np.asarray(labels, dtype=np.int64).tobytes()).hexdigest()[:12]


def build_splits(
    labels: np.ndarray, folds: int, val_size: float, seed: int, test_size: float
) -> list[Split]:
    """Stratified splits: ``folds`` outer folds, or one holdout when folds == 1."""
    labels = np.asarray(labels)
    index = np.arange(len(labels))
    if folds > 1:
        outer = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        pairs = list(outer.split(index, labels))
    else:
        train, test = train_test_split(
            index, test_size=test_size, stratify=labels, random_state=seed
        )
        pairs = [(train, test)]
    splits = []
    for fold, (outer_train, test) in enumerate(pairs):
        train, val = train_test_split(
            outer_train,
            test_size=val_size,
            stratify=labels[outer_train],
            random_state=seed + fold,
        )
        splits.append(
            Split(sorted(train.tolist()), sorted(val.tolist()), sorted(test.tolist()))
        )
    return splits


def load_or_build_splits(
    path: Path,
    labels: np.ndarray,
    folds: int,
    val_size: float,
    seed: int,
    test_size: float = 0.1,
) -> list[Split]:
    """Read the splits at ``path``; build and save them there the first time."""
    digest = _labels_digest(labels)
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved["labels_digest"] != digest:
            raise PoolbenchError(
                f"splits file {path} was made for other data; delete it to rebuild"
            )
        return [Split(**s) for s in saved["splits"]]
    splits = build_splits(labels, folds, val_size, seed, test_size)
    payload = {
        "folds": folds,
        "val_size": val_size,
        "test_size": test_size,
        "seed": seed,
        "labels_digest": digest,
        "splits": [s.__dict__ for s in splits],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, path)  # atomic: concurrent jobs never read half a file
    return splits


def splits_path(
    root: str, dataset: str, folds: int, val_size: float, seed: int, test_size: float
) -> Path:
    kind = f"cv{folds}" if folds > 1 else f"holdout{test_size:g}"
    return (
        Path(root).expanduser()
        / "splits"
        / dataset
        / f"{kind}_val{val_size:g}_seed{seed}.json"
    )
