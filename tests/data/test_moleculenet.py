"""MoleculeNet regression sets: SMILES to graphs, scaffolds, bad rows named."""

from __future__ import annotations

import builtins

import pytest
import torch

from poolbench.data import moleculenet
from poolbench.data.moleculenet import load_moleculenet
from poolbench.data.splits import build_splits
from poolbench.errors import PoolbenchError

pytest.importorskip("rdkit")


def test_esol_loads_as_regression_with_scaffolds(mirror, tmp_path):
    d = load_moleculenet("esol", str(tmp_path), str(mirror))
    assert len(d) == 1128 and d.target == "regression" and d.num_outputs == 1
    assert d.num_features == 177  # PyG's 9 atom features, one-hot
    # what `list datasets` shows without loading
    assert load_moleculenet.graph_count(name="esol") == len(d)
    assert load_moleculenet.feature_count() == d.num_features
    assert torch.all(d.graphs[0].x.sum(1) == 9)  # one hot per feature
    assert d.targets.shape == (1128, 1)
    # the first row of delaney-processed.csv: Amigdalin, measured -0.77
    assert d.targets[0, 0].item() == pytest.approx(-0.77)
    assert len(d.groups) == 1128 and 100 < len(set(d.groups)) < 1128
    again = load_moleculenet("esol", str(tmp_path), str(mirror))  # the cache
    assert again.fingerprint == d.fingerprint and again.groups == d.groups


def test_scaffold_splits_never_share_a_scaffold(mirror, tmp_path):
    d = load_moleculenet("freesolv", str(tmp_path), str(mirror))
    assert load_moleculenet.graph_count(name="freesolv") == len(d)
    labels = d.labels.numpy()
    for split in build_splits(labels, 5, 0.1, 0, 0.1, "scaffold", d.groups):
        parts = [
            {d.groups[i] for i in part} for part in (split.train, split.val, split.test)
        ]
        assert not parts[0] & parts[2] and not parts[1] & parts[2]
        assert not parts[0] & parts[1]
    (holdout,) = build_splits(labels, 1, 0.1, 0, 0.1, "scaffold", d.groups)
    assert 0.05 < len(holdout.test) / len(labels) < 0.2


def test_an_unparseable_smiles_names_its_row(mirror, tmp_path):
    source = mirror / "MoleculeNet" / "freesolv" / "raw" / "SAMPL.csv"
    lines = source.read_text().splitlines()
    lines[3] = lines[3].replace(lines[3].split(",")[-3], "C1CC(")  # ring not closed
    bad = tmp_path / "m" / "MoleculeNet" / "freesolv" / "raw"
    bad.mkdir(parents=True)
    (bad / "SAMPL.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(PoolbenchError, match=r"line 4: cannot parse SMILES"):
        load_moleculenet("freesolv", str(tmp_path / "root"), str(tmp_path / "m"))


def test_without_rdkit_the_error_names_the_install(monkeypatch, tmp_path):
    real = builtins.__import__

    def no_rdkit(name, *args, **kwargs):
        if name.startswith("rdkit"):
            raise ImportError("No module named 'rdkit'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_rdkit)
    with pytest.raises(PoolbenchError, match=r"pip install 'poolbench\[chem\]'"):
        moleculenet.load_moleculenet("esol", str(tmp_path))
