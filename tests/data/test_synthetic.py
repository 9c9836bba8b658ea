"""Tests for the generated easy/hard synthetic benchmark (small sets only)."""

from __future__ import annotations

import pytest
import torch

from poolbench.data import synthetic
from poolbench.data.synthetic import load_synthetic
from poolbench.errors import PoolbenchError


@pytest.fixture(scope="module")
def easy(tmp_path_factory):
    return load_synthetic("easy", str(tmp_path_factory.mktemp("easy")), seed=0)


@pytest.fixture(scope="module")
def hard(tmp_path_factory):
    return load_synthetic("hard", str(tmp_path_factory.mktemp("hard")), seed=0)


@pytest.fixture(params=["easy", "hard"])
def ds(request):
    return request.getfixturevalue(request.param)


def test_names_and_params(easy, hard):
    assert easy.name == "SYNTH-EASY-SMALL" and hard.name == "SYNTH-HARD-SMALL"
    for d in (easy, hard):
        for key in ("k", "cov", "n_nodes", "graphs_per_class", "seed"):
            assert key in d.params
    assert (easy.params["k"], easy.params["cov"]) == (5, 0.4)
    assert (hard.params["k"], hard.params["cov"]) == (3, 0.2)
    assert easy.fingerprint != hard.fingerprint


def test_class_balance_and_count(ds):
    assert ds.num_classes == 3 and len(ds) == 300
    assert torch.bincount(ds.labels, minlength=3).tolist() == [100, 100, 100]
    for g in ds.graphs:
        assert g.y.dtype == torch.long and g.y.shape == (1,)


def test_node_counts_in_range(ds):
    n = ds.params["n_nodes"]
    assert n == 80
    for g in ds.graphs:
        assert n // 2 <= g.num_nodes <= n


def test_features_one_hot_five_colours(ds):
    x = torch.cat([g.x for g in ds.graphs])
    assert x.dtype == torch.float and x.size(1) == 5
    assert torch.all((x == 0) | (x == 1))
    assert torch.all(x.sum(1) == 1)
    # Every colour occurs in every graph: each group holds both of its labels.
    for g in ds.graphs:
        assert torch.all(g.x.sum(0) > 0)


def test_edges_symmetric_no_self_loops_min_degree(ds):
    k = ds.params["k"]
    for g in ds.graphs:
        ei = g.edge_index
        assert ei.dtype == torch.long and ei.size(0) == 2
        assert not torch.any(ei[0] == ei[1])
        n = g.num_nodes
        keys = ei[0] * n + ei[1]
        # Coalesced: sorted by (row, col) without duplicates.
        assert torch.equal(keys, torch.unique(keys))
        rev = torch.sort(ei[1] * n + ei[0]).values
        assert torch.equal(keys, rev)
        deg = torch.bincount(ei[0], minlength=n)
        assert int(deg.min()) >= k


def test_same_seed_identical_different_seed_differs(tmp_path, easy):
    again = load_synthetic("easy", str(tmp_path / "a"), seed=0)
    assert again.fingerprint == easy.fingerprint
    other = load_synthetic("easy", str(tmp_path / "b"), seed=1)
    assert other.fingerprint != easy.fingerprint
    assert other.params["seed"] == 1


def test_cache_created_and_reused(tmp_path, monkeypatch):
    first = load_synthetic("hard", str(tmp_path), seed=3)
    files = list((tmp_path / "synthetic").glob("hard_small_seed3_*.pt"))
    assert len(files) == 1
    assert not list((tmp_path / "synthetic").glob("*.tmp"))

    def boom(params):
        raise AssertionError("regenerated despite a cache file")

    monkeypatch.setattr(synthetic, "_generate", boom)
    second = load_synthetic("hard", str(tmp_path), seed=3)
    assert second.fingerprint == first.fingerprint


def test_changed_params_do_not_reuse_cache(tmp_path, monkeypatch):
    load_synthetic("easy", str(tmp_path), seed=0)
    monkeypatch.setitem(synthetic.SHAPE, "spacing", synthetic.SHAPE["spacing"] + 1)
    changed = load_synthetic("easy", str(tmp_path), seed=0)
    assert changed.params["spacing"] == synthetic.SHAPE["spacing"]
    assert len(list((tmp_path / "synthetic").glob("easy_small_seed0_*.pt"))) == 2


def test_unknown_name_is_a_clear_error(tmp_path):
    with pytest.raises(PoolbenchError, match="easy, hard"):
        load_synthetic("medium", str(tmp_path))
