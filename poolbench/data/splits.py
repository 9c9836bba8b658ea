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
import sys
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


# Scaffold splits are made by this method; its name is saved with them and is
# part of their file names, so files of an older method are never reused.
# "balanced-v1": whole scaffold sets, held-out parts sized in molecules, a set
# too large for a held-out part always in training.
SCAFFOLD_METHOD = "balanced-v1"

_NOTED: set[str] = set()  # splits files whose never-tested note was printed


def _scaffold_sets(groups, index=None) -> list[list[int]]:
    """The indices (of ``index``, else of all items) of each group, groups in
    order of first appearance."""
    sets: dict[str, list[int]] = {}
    for i in range(len(groups)) if index is None else index:
        sets.setdefault(groups[i], []).append(int(i))
    return list(sets.values())


def _held_share(n: int, folds: int, test_size: float) -> float:
    """Molecules one test fold (or the holdout test part) is meant to hold."""
    return n / folds if folds > 1 else n * test_size


def _oversized(groups, folds: int, test_size: float) -> list[list[int]]:
    """Scaffold sets too large for a test part: always in training."""
    share = _held_share(len(groups), folds, test_size)
    return [ids for ids in _scaffold_sets(groups) if len(ids) > share]


def _scaffold_holdout(groups, test_size: float) -> tuple[np.ndarray, np.ndarray]:
    """The chemists' scaffold split: the largest scaffold sets fill train, the
    smallest (rarest) ones make the test set, so test scaffolds are unseen. A
    set larger than the test share stays in train even past the cut."""
    share = _held_share(len(groups), 1, test_size)
    ordered = sorted(_scaffold_sets(groups), key=lambda ids: (-len(ids), ids[0]))
    cut = len(groups) * (1 - test_size)
    train: list[int] = []
    test: list[int] = []
    for ids in ordered:
        keep = len(ids) > share or len(train) + len(ids) <= cut
        (train if keep else test).extend(ids)
    if not test or not train:
        raise ValueError(
            f"no scaffold set fits a test part of about {share:.0f} molecules"
            if not test
            else "a single scaffold set holds every molecule"
        )
    return np.array(sorted(train)), np.array(sorted(test))


def _scaffold_folds(groups, folds: int, seed: int) -> list:
    """``folds`` test folds of whole scaffold sets and about equal molecule
    counts: largest sets first (equal sizes in a seeded order), each to the
    fold holding fewest molecules. A set larger than one fold's share stays in
    training in every fold, so its molecules are never tested."""
    n = len(groups)
    share = _held_share(n, folds, 0.0)
    fit = [ids for ids in _scaffold_sets(groups) if len(ids) <= share]
    if len(fit) < folds:
        raise ValueError(
            f"only {len(fit)} scaffold sets fit a test fold of about "
            f"{share:.0f} molecules, fewer than {folds} folds"
        )
    rng = np.random.default_rng(seed)
    shuffled = [fit[i] for i in rng.permutation(len(fit))]
    rank = rng.permutation(folds)  # which of equally filled folds comes first
    tests: list[list[int]] = [[] for _ in range(folds)]
    for ids in sorted(shuffled, key=len, reverse=True):  # stable: seeded ties
        fold = min(range(folds), key=lambda f: (len(tests[f]), rank[f]))
        tests[fold].extend(ids)
    pairs = []
    for test in tests:
        train = np.ones(n, dtype=bool)
        train[test] = False
        pairs.append((np.flatnonzero(train), np.array(sorted(test))))
    return pairs


def _scaffold_validation(
    outer_train: np.ndarray, groups, val_size: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Whole scaffold sets of ``outer_train`` holding about ``val_size`` of its
    molecules: sets in a seeded order, each taken when it brings the count
    closer to the target; a set larger than the target stays in train. Never
    empty: when no set was taken, the smallest one is."""
    sets = _scaffold_sets(groups, outer_train)
    if len(sets) < 2:
        raise ValueError("an outer-train part holds a single scaffold set")
    target = val_size * len(outer_train)
    ordered = [sets[i] for i in rng.permutation(len(sets))]
    val: list[int] = []
    for ids in ordered:
        if len(ids) <= target and 2 * len(val) + len(ids) < 2 * target:
            val.extend(ids)
    if not val:
        val = list(min(ordered, key=len))
    if len(val) == len(outer_train):
        raise ValueError(f"val_size={val_size} leaves no scaffold set to train")
    taken = set(val)
    train = [int(i) for i in outer_train if int(i) not in taken]
    return np.array(train), np.array(sorted(val))


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
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    index = np.arange(len(labels))
    stratify = kind == "stratified"
    if kind == "scaffold":
        if groups is None:
            raise PoolbenchError("protocol.split=scaffold needs molecules (SMILES)")
        if folds > 1:
            pairs = _scaffold_folds(groups, folds, seed)
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
            rng = np.random.default_rng([seed, fold])
            train, val = _scaffold_validation(outer_train, groups, val_size, rng)
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
    """Read the splits at ``path``; build and save them there the first time.
    Scaffold splits say once on stderr which scaffold sets are never tested."""
    if not path.is_file() and kind == "stratified":
        check_stratifiable(labels, folds, val_size, test_size, path.parent.name)
    meta = {"kind": kind, "val_size": val_size, "test_size": test_size, "seed": seed}
    if kind == "scaffold":
        meta["method"] = SCAFFOLD_METHOD
    splits = read_or_save_splits(
        path,
        labels,
        folds,
        lambda: build_splits(labels, folds, val_size, seed, test_size, kind, groups),
        meta,
    )
    if kind == "scaffold" and groups is not None and str(path) not in _NOTED:
        _NOTED.add(str(path))
        note = never_tested_note(groups, folds, test_size, path.parent.name)
        if note:
            print(note, file=sys.stderr)
    return splits


def never_tested_note(
    groups, folds: int, test_size: float, name: str = "the dataset"
) -> str | None:
    """The line saying which scaffold sets a scaffold split never tests (too
    large for a test part, they stay in training), or None when none."""
    big = _oversized(groups, folds, test_size)
    if not big:
        return None
    share = _held_share(len(groups), folds, test_size)
    where = (
        f"a test fold (about {share:.0f}) and stay in training in every fold"
        if folds > 1
        else f"the test part (about {share:.0f}) and stay in training"
    )
    return (
        f"poolbench: scaffold split of {name}: {len(big)} scaffold set(s) "
        f"({sum(map(len, big))} of {len(groups)} molecules) are larger than "
        f"{where}: never tested"
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
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise damaged(str(exc).splitlines()[0] or type(exc).__name__) from None
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
        if key == "method" and saved.get(key) != wanted:  # none: before methods
            made = saved.get(key) or "an older one"
            raise PoolbenchError(
                f"splits file {path} was made by scaffold method {made}, this "
                f"run uses {wanted}; delete it to rebuild"
            )
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
    if kind == "scaffold":  # files of an older method keep theirs, unused
        shape += f"-{SCAFFOLD_METHOD}"
    return (
        Path(root).expanduser()
        / "splits"
        / dataset
        / f"{shape}_val{val_size:g}_seed{seed}.json"
    )
