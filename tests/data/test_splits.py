import json

import numpy as np
import pytest

from poolbench.data.splits import build_splits, load_or_build_splits
from poolbench.errors import PoolbenchError

LABELS = np.array([0] * 60 + [1] * 30 + [2] * 10)


def test_outer_folds_are_stratified_disjoint_and_cover_everything():
    splits = build_splits(LABELS, folds=10, val_size=0.1, seed=0, test_size=0.1)
    assert len(splits) == 10
    tests = [set(s.test) for s in splits]
    assert set().union(*tests) == set(range(len(LABELS)))
    assert sum(len(t) for t in tests) == len(LABELS)  # pairwise disjoint
    for s in splits:
        counts = np.bincount(LABELS[s.test], minlength=3)
        assert counts.tolist() == [6, 3, 1]  # class shares kept in every fold


def test_inner_validation_comes_from_outer_train_only():
    for s in build_splits(LABELS, folds=10, val_size=0.1, seed=3, test_size=0.1):
        train, val, test = set(s.train), set(s.val), set(s.test)
        assert not (val & test) and not (train & test) and not (train & val)
        assert train | val | test == set(range(len(LABELS)))
        assert np.bincount(LABELS[s.val], minlength=3)[0] >= 5  # stratified


def test_holdout_is_one_stratified_split():
    (s,) = build_splits(LABELS, folds=1, val_size=0.1, seed=0, test_size=0.2)
    assert np.bincount(LABELS[s.test], minlength=3).tolist() == [12, 6, 2]


def test_splits_are_saved_once_and_reused(tmp_path):
    path = tmp_path / "splits.json"
    first = load_or_build_splits(path, LABELS, 10, 0.1, seed=0)
    saved = path.read_text()
    # read back, not rebuilt: every pooler of the dataset gets these folds
    second = load_or_build_splits(path, LABELS, 10, 0.1, seed=0, test_size=0.3)
    assert first == second  # test_size is unused by k folds
    assert path.read_text() == saved
    assert json.loads(saved)["seed"] == 0


@pytest.mark.parametrize(
    "asked, message",
    [
        ({"seed": 99}, "was made with seed=0, this run asks seed=99"),
        ({"val_size": 0.2}, "was made with val_size=0.1, this run asks val_size=0.2"),
        ({"kind": "kfold"}, "was made with kind=stratified, this run asks kind=kfold"),
    ],
)
def test_a_splits_file_of_other_settings_is_refused(tmp_path, asked, message):
    # the file name encodes the settings; a copied or renamed file does not
    path = tmp_path / "splits.json"
    load_or_build_splits(path, LABELS, 10, 0.1, seed=0)
    settings = {"val_size": 0.1, "seed": 0} | asked
    with pytest.raises(PoolbenchError, match=message):
        load_or_build_splits(path, LABELS, 10, **settings)


def test_splits_made_for_other_data_are_refused(tmp_path):
    path = tmp_path / "splits.json"
    load_or_build_splits(path, LABELS, 10, 0.1, seed=0)
    with pytest.raises(PoolbenchError, match="delete it"):
        load_or_build_splits(path, LABELS[::-1].copy(), 10, 0.1, seed=0)


def test_different_seeds_give_different_folds():
    a = build_splits(LABELS, 10, 0.1, seed=0, test_size=0.1)
    b = build_splits(LABELS, 10, 0.1, seed=1, test_size=0.1)
    assert a != b
