"""Balanced scaffold splits: held-out parts sized in molecules, whole scaffold
sets only, a set too large for a held-out part always in training."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from poolbench.data.splits import build_splits, load_or_build_splits, splits_path
from poolbench.errors import PoolbenchError

# one dominant scaffold (50 molecules) and 50 singletons
DOMINANT = ["big"] * 50 + [f"s{i}" for i in range(50)]


def scaffold(groups, folds, val_size=0.1, seed=0, test_size=0.1):
    labels = np.zeros(len(groups))
    return build_splits(labels, folds, val_size, seed, test_size, "scaffold", groups)


def check_scaffold_splits(splits, groups, folds, val_size):
    """Disjoint parts covering everything, no scaffold in two parts, the
    validation share in molecules, every molecule in at most one test fold."""
    n = len(groups)
    tested = Counter()
    for s in splits:
        parts = [set(s.train), set(s.val), set(s.test)]
        assert sum(map(len, parts)) == n and set().union(*parts) == set(range(n))
        names = [{groups[i] for i in part} for part in parts]
        assert not names[0] & names[1] and not names[0] & names[2]
        assert not names[1] & names[2]
        assert s.val and s.test and s.train
        outer = len(s.train) + len(s.val)
        assert 0.5 * val_size <= len(s.val) / outer <= 1.5 * val_size
        tested.update(s.test)
    assert len(splits) == max(folds, 1)
    assert max(tested.values()) == 1


def test_a_dominant_scaffold_stays_in_training_in_every_fold():
    splits = scaffold(DOMINANT, folds=10)
    check_scaffold_splits(splits, DOMINANT, 10, 0.1)
    for s in splits:
        assert len(s.test) == 5  # the 50 singletons, 5 per fold
        assert set(range(50)) <= set(s.train)  # the big set: never val or test
        assert 9 <= len(s.val) <= 10  # 10% of the 95 outer-train molecules
    assert set().union(*(s.test for s in splits)) == set(range(50, 100))


def test_holdout_keeps_a_set_larger_than_the_test_share_in_training():
    # sets of 50, 45 and 5: the 45 does not fit train's 90 after the 50, but
    # it is far larger than the 10 test molecules asked for
    groups = ["a"] * 50 + ["b"] * 45 + ["c"] * 5
    (s,) = scaffold(groups, folds=1, val_size=0.1, test_size=0.1)
    assert s.test == list(range(95, 100))
    (s,) = scaffold(DOMINANT, folds=1)
    assert s.test == list(range(90, 100))  # the rarest scaffolds, 10%
    assert 9 <= len(s.val) <= 10 and not set(range(50)) & set(s.val)


def test_validation_is_never_empty_with_two_scaffolds():
    groups = [f"g{i // 2}" for i in range(40)]  # 20 sets of 2 molecules
    for s in scaffold(groups, folds=5, val_size=0.01):
        assert len(s.val) == 2  # no set fits 1% of 32: the smallest one
    with pytest.raises(PoolbenchError, match="single scaffold set"):
        scaffold(["a"] * 30 + ["b"] * 3, folds=1, test_size=0.1)


def test_too_few_scaffold_sets_for_the_folds_are_refused():
    groups = ["a"] * 60 + ["b"] * 30 + ["c"] * 4 + ["d"] * 3 + ["e"] * 3
    with pytest.raises(PoolbenchError, match="only 3 scaffold sets fit"):
        scaffold(groups, folds=10)


def test_scaffold_splits_are_seeded():
    assert scaffold(DOMINANT, 10, seed=4) == scaffold(DOMINANT, 10, seed=4)
    assert scaffold(DOMINANT, 10, seed=4) != scaffold(DOMINANT, 10, seed=5)


def test_never_tested_scaffold_sets_are_named_once(tmp_path, capsys):
    path = tmp_path / "splits.json"
    labels = np.zeros(len(DOMINANT))
    for _ in range(2):  # built, then read back: one line
        load_or_build_splits(path, labels, 10, 0.1, 0, 0.1, "scaffold", DOMINANT)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert "1 scaffold set(s) (50 of 100 molecules)" in lines[0]
    assert "never tested" in lines[0]


def test_scaffold_files_of_the_old_method_are_not_reused(tmp_path):
    path = splits_path(str(tmp_path), "esol", 10, 0.1, 0, 0.1, "scaffold")
    # the unbalanced method saved "cv10-scaffold_val0.1_seed0.json"
    assert path.name != "cv10-scaffold_val0.1_seed0.json"
    assert path.name.startswith("cv10-scaffold-")
    labels = np.zeros(len(DOMINANT))
    args = (labels, 10, 0.1, 0, 0.1, "scaffold", DOMINANT)
    load_or_build_splits(path, *args)
    saved = json.loads(path.read_text())
    del saved["method"]  # as the old method wrote it: refused, not trusted
    path.write_text(json.dumps(saved))
    with pytest.raises(PoolbenchError, match="older one.*delete it to rebuild"):
        load_or_build_splits(path, *args)


@pytest.fixture(scope="module", params=["esol", "freesolv"])
def molecules(request, mirror, data_root):
    pytest.importorskip("rdkit")
    from poolbench.data.moleculenet import load_moleculenet

    d = load_moleculenet(request.param, str(data_root), str(mirror))
    return d.groups


@pytest.mark.parametrize("folds", [10, 3, 1])
def test_moleculenet_scaffold_splits_are_balanced_in_molecules(molecules, folds):
    groups = molecules
    n = len(groups)
    splits = scaffold(groups, folds, val_size=0.1, seed=0, test_size=0.1)
    check_scaffold_splits(splits, groups, folds, 0.1)
    sizes = Counter(groups)
    share = n / folds if folds > 1 else 0.1 * n
    big = {g for g, k in sizes.items() if k > share}  # the empty scaffold, ...
    assert big or folds == 3  # both have scaffolds larger than a tenth
    tests = [len(s.test) for s in splits]
    for s in splits:
        assert not {groups[i] for i in s.test} & big
    if folds == 1:
        assert 0.5 * share <= tests[0] <= 1.5 * share
    else:
        # every scaffold set that fits a fold is tested exactly once
        assert sum(tests) == sum(k for g, k in sizes.items() if g not in big)
        assert max(tests) <= (1.5 if folds == 10 else 2) * min(tests)
    assert splits == scaffold(groups, folds, val_size=0.1, seed=0, test_size=0.1)
