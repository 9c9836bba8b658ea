"""Outer folds and inner validation splits, built once, saved as JSON, reused.

Every pooler reads the same file for a dataset, so all methods see identical
splits (Errica et al. 2020). A file whose labels do not match the dataset, or
that is damaged, is refused rather than silently rebuilt; a protocol the labels
cannot be split into is refused before any split is made.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poolbench.errors import PoolbenchError


@dataclass(frozen=True)
class Split:
    """Indices of one outer fold: train and val come from outer-train only."""

    train: list[int]
    val: list[int]
    test: list[int]


KINDS = ("stratified", "kfold", "scaffold")


def _labels_digest(labels: np.ndarray) -> str:
    labels = np.asarray(labels)
    if np.issubdtype(labels.dtype, np.floating):  # real targets: every bit counts
        data = labels.astype(np.float64).tobytes()
    else:
        data = labels.astype(np.int64).tobytes()
    return hashlib.sha1(data).hexdigest()[:12]


def _group_ids(groups, seed: int) -> np.ndarray:
    """Integer id per item from its group name, numbered in a seeded order, so
    GroupKFold's deterministic packing differs between seeds."""
    names = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(names))
    ids = {name: int(i) for name, i in zip(names, order)}
    return np.array([ids[g] for g in groups])


def _scaffold_holdout(groups, test_size: float) -> tuple[np.ndarray, np.ndarray]:
    """The chemists' scaffold split: the largest scaffold sets fill train, the
    smallest (rarest) ones make the test set, so test scaffolds are unseen."""
    sets: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        sets.setdefault(g, []).append(i)
    ordered = sorted(sets.values(), key=lambda ids: (-len(ids), ids[0]))
    cut = len(groups) * (1 - test_size)
    train: list[int] = []
    test: list[int] = []
    for ids in ordered:
        (train if len(train) + len(ids) <= cut else test).extend(ids)
    return np.array(sorted(train)), np.array(sorted(test))


def build_splits(
    labels: np.ndarray,
    folds: int,
    val_size: float,
    seed: int,
    test_size: float,
    kind: str = "stratified",
    groups: list[str] | None = None,
) -> list[Split]:
    """``folds`` outer folds, or one holdout when folds == 1, then an inner
    validation split of each outer-train set.

    ``kind``: ``stratified`` (class labels), ``kfold`` (real targets) or
    ``scaffold`` (``groups``, e.g. molecular scaffolds, never straddle train,
    validation and test).
    """
    try:
        return _build_splits(
            np.asarray(labels), folds, val_size, seed, test_size, kind, groups
        )
    except ValueError as exc:  # what check_stratifiable's bounds did not foresee
        raise PoolbenchError(
            f"cannot split the data with protocol.folds={folds}, val_size="
            f"{val_size}, test_size={test_size} ({exc}); change those keys"
        ) from None


def _build_splits(labels, folds, val_size, seed, test_size, kind, groups):
    # imported here: the pre-flight checks use this module without sklearn's 2 s
    from sklearn.model_selection import (
        GroupKFold,
        GroupShuffleSplit,
        KFold,
        StratifiedKFold,
        train_test_split,
    )

    index = np.arange(len(labels))
    stratify = kind == "stratified"
    if kind == "scaffold":
        if groups is None:
            raise PoolbenchError("protocol.split=scaffold needs molecules (SMILES)")
        gid = _group_ids(groups, seed)
        if folds > 1:
            pairs = list(GroupKFold(n_splits=folds).split(index, groups=gid))
        else:
            pairs = [_scaffold_holdout(groups, test_size)]
    elif folds > 1:
        outer = (StratifiedKFold if stratify else KFold)(
            n_splits=folds, shuffle=True, random_state=seed
        )
        pairs = list(outer.split(index, labels))
    else:
        train, test = train_test_split(
            index,
            test_size=test_size,
            stratify=labels if stratify else None,
            random_state=seed,
        )
        pairs = [(train, test)]
    splits = []
    for fold, (outer_train, test) in enumerate(pairs):
        if kind == "scaffold":
            inner = GroupShuffleSplit(
                n_splits=1, test_size=val_size, random_state=seed + fold
            )
            a, b = next(inner.split(outer_train, groups=gid[outer_train]))
            train, val = outer_train[a], outer_train[b]
        else:
            train, val = train_test_split(
                outer_train,
                test_size=val_size,
                stratify=labels[outer_train] if stratify else None,
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
    kind: str = "stratified",
    groups: list[str] | None = None,
) -> list[Split]:
    """Read the splits at ``path``; build and save them there the first time."""
    if not path.is_file() and kind == "stratified":
        check_stratifiable(labels, folds, val_size, test_size, path.parent.name)
    meta = {"kind": kind, "val_size": val_size, "test_size": test_size, "seed": seed}
    return read_or_save_splits(
        path,
        labels,
        folds,
        lambda: build_splits(labels, folds, val_size, seed, test_size, kind, groups),
        meta,
    )


def read_or_save_splits(
    path: Path, labels: np.ndarray, folds: int, build, meta: dict | None = None
) -> list[Split]:
    """The splits saved at ``path``, or ``build()``'s, saved there atomically."""
    if path.is_file():
        return read_splits(path, labels, folds, meta)
    splits = build()
    payload = {
        **(meta or {}),
        "folds": folds,
        "labels_digest": _labels_digest(labels),
        "splits": [s.__dict__ for s in splits],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, path)  # atomic: concurrent jobs never read half a file
    return splits


def read_splits(
    path: Path, labels: np.ndarray, folds: int, meta: dict | None = None
) -> list[Split]:
    """The splits saved at ``path``, refused when damaged, made for other data
    or made with other settings than ``meta`` (kind, sizes, seed) asks: the
    file name encodes them, but a copied or renamed file would be trusted."""

    def damaged(reason: str) -> PoolbenchError:
        return PoolbenchError(
            f"splits file {path} is damaged ({reason}); delete it to rebuild"
        )

    try:
        saved = json.loads(path.read_text())
        digest, parts = saved["labels_digest"], saved["splits"]
        splits = [Split(**s) for s in parts]
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise damaged(str(exc).splitlines()[0]) from None
    except (KeyError, TypeError) as exc:
        raise damaged(f"{type(exc).__name__}: {exc}") from None
    if digest != _labels_digest(labels):
        raise PoolbenchError(
            f"splits file {path} was made for other data; delete it to rebuild"
        )
    if len(splits) != max(folds, 1):
        raise damaged(f"{len(splits)} folds, expected {max(folds, 1)}")
    for key, wanted in (meta or {}).items():
        if key == "test_size" and folds > 1:
            continue  # unused by k folds: the file serves any test_size
        if key in saved and saved[key] != wanted:
            raise PoolbenchError(
                f"splits file {path} was made with {key}={saved[key]}, this run "
                f"asks {key}={wanted}; delete it to rebuild"
            )
    n = len(labels)
    for fold, s in enumerate(splits):
        index = [*s.train, *s.val, *s.test]
        if not all(isinstance(i, int) and 0 <= i < n for i in index):
            raise damaged(f"fold {fold} holds an index outside 0..{n - 1}")
        if len(set(index)) != len(index):
            raise damaged(f"fold {fold} puts a graph in two parts")
    return splits


def check_stratifiable(
    labels: np.ndarray,
    folds: int,
    val_size: float,
    test_size: float,
    name: str = "the dataset",
) -> None:
    """Refuse a protocol that these labels cannot be split into, stratified."""
    classes, counts = np.unique(np.asarray(labels), return_counts=True)
    n, c = int(counts.sum()), len(classes)
    lone = classes[counts < 2]
    if lone.size:
        raise PoolbenchError(
            f"class {lone[0]} of {name} has a single graph; stratified splits "
            "need 2 graphs per class: add graphs to that class or drop it"
        )
    smallest, which = int(counts.min()), classes[counts.argmin()]
    if folds > 1:
        if folds > smallest:
            raise PoolbenchError(
                f"protocol.folds={folds} needs {folds} graphs in every class, but "
                f"class {which} of {name} has {smallest}: set protocol.folds to at "
                f"most {smallest}"
            )
        held = sum(math.ceil(k / folds) for k in counts)  # the largest test fold
        kept = smallest - math.ceil(smallest / folds)
        fix = "lower protocol.folds"
    else:
        held = math.ceil(n * test_size)
        kept = smallest - math.ceil(smallest * test_size)
        fix = "lower protocol.test_size"
        if held < c or n - held < c:
            raise PoolbenchError(
                f"protocol.test_size={test_size} leaves {held} test graphs of {n} "
                f"in {name}, which has {c} classes: change protocol.test_size"
            )
    if kept < 2:
        raise PoolbenchError(
            f"class {which} of {name} keeps {kept} graph(s) for training and "
            f"validation in some fold; it needs 2: {fix}"
        )
    outer = n - held
    val = math.ceil(outer * val_size)
    if val < c or outer - val < c:
        raise PoolbenchError(
            f"protocol.val_size={val_size} gives {val} validation graphs of "
            f"{outer} in {name}, which has {c} classes: change protocol.val_size"
        )


def splits_path(
    root: str,
    dataset: str,
    folds: int,
    val_size: float,
    seed: int,
    test_size: float,
    kind: str = "stratified",
) -> Path:
    shape = f"cv{folds}" if folds > 1 else f"holdout{test_size:g}"
    if kind != "stratified":  # stratified files keep the names they always had
        shape += f"-{kind}"
    return (
        Path(root).expanduser()
        / "splits"
        / dataset
        / f"{shape}_val{val_size:g}_seed{seed}.json"
    )
