"""Tests for the generated easy/hard synthetic benchmark (small sets only)."""

from __future__ import annotations

import numpy as np
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
    assert easy.params["moon_noise"] == 0.1
    assert easy.params["generator_version"] == synthetic.GENERATOR_VERSION >= 2
    # The guessed layout constants of version 1 are gone.
    assert "spacing" not in easy.params and "blob_std" not in easy.params
    assert easy.fingerprint != hard.fingerprint


def test_class_balance_and_count(ds):
    assert ds.num_classes == 3 and len(ds) == 300
    # what `list datasets` shows without generating
    from poolbench.data.synthetic import load_synthetic

    assert load_synthetic.graph_count(small=True) == len(ds)
    assert load_synthetic.class_count() == ds.num_classes
    assert load_synthetic.feature_count() == ds.graphs[0].x.size(1)
    assert torch.bincount(ds.labels, minlength=3).tolist() == [100, 100, 100]
    for g in ds.graphs:
        assert g.y.dtype == torch.long and g.y.shape == (1,)


def test_node_counts_in_range(ds):
    n = ds.params["n_nodes"]
    assert n == 80
    sizes = set()
    for g in ds.graphs:
        # n drawn from [40, 80) then n // 3 points per group.
        assert 3 * (40 // 3) <= g.num_nodes <= 3 * (79 // 3)
        assert g.num_nodes % 3 == 0
        sizes.add(g.num_nodes)
    # The draw is spread over the range, not stuck at one size.
    assert min(sizes) == 39 and max(sizes) == 78


def test_randint_high_is_exclusive():
    # n_nodes=12: n in [6, 12) gives at most 3 * (11 // 3) = 9 nodes, while an
    # inclusive high would give 12 nodes in about one graph in seven.
    params = {"n_nodes": 12, "k": 2, "cov": 0.4, "moon_noise": 0.1}
    rng = np.random.RandomState(0)
    counts = {synthetic._make_graph(0, params, rng).num_nodes for _ in range(60)}
    assert counts == {6, 9}


def test_features_one_hot_five_colours(ds):
    x = torch.cat([g.x for g in ds.graphs])
    assert x.dtype == torch.float and x.size(1) == 5
    assert torch.all((x == 0) | (x == 1))
    assert torch.all(x.sum(1) == 1)
    for g in ds.graphs:
        counts = g.x.sum(0)
        # Every colour occurs in every graph: each group holds both its labels.
        assert torch.all(counts > 0)
        # Three equal groups: moons (0, 1), quantiles (2, 3), blob (4).
        m = g.num_nodes // 3
        assert counts[0] + counts[1] == m and counts[2] + counts[3] == m
        assert counts[4] == m
        # Groups are shuffled over node ids, not laid out in blocks.
        group = torch.div(g.x.argmax(1), 2, rounding_mode="floor")
        assert not torch.equal(group, torch.sort(group).values)


def _group_means(pts, colour):
    return [pts[np.isin(colour, c)].mean(0) for c in ((0, 1), (2, 3), (4,))]


@pytest.mark.parametrize("label", [0, 1, 2])
def test_points_scaled_and_centred_as_in_the_original(label):
    params = {"cov": 0.4, "moon_noise": 0.1}
    pts, colour = synthetic._points(label, 300, params, np.random.RandomState(1))
    assert pts.shape == (900, 2) and colour.shape == (900,)
    # Column-wise division by the maximum, before the kNN graph.
    np.testing.assert_allclose(pts.max(axis=0), [1.0, 1.0])
    # (moons, quantiles, blob) centres: class 0 (4,0) (0,0) (2,-2);
    # class 1 (2,-2) (4,0) (0,0); class 2 (0,0) (2,-2) (4,0).
    right, left, bottom = {0: (0, 1, 2), 1: (1, 2, 0), 2: (2, 0, 1)}[label]
    means = _group_means(pts, colour)
    assert means[bottom][1] < min(means[left][1], means[right][1]) - 0.5
    assert means[left][0] < means[bottom][0] < means[right][0]


def test_sklearn_calls_use_the_original_settings(monkeypatch):
    calls = {}

    def spy(name):
        real = getattr(synthetic, name)

        def wrapped(*args, **kwargs):
            calls[name] = kwargs
            return real(*args, **kwargs)

        monkeypatch.setattr(synthetic, name, wrapped)

    for name in ("make_moons", "make_gaussian_quantiles", "make_blobs"):
        spy(name)
    rng = np.random.RandomState(0)
    params = {"cov": 0.2, "moon_noise": 0.1}
    synthetic._points(1, 20, params, rng)
    assert calls["make_moons"]["n_samples"] == 20
    assert calls["make_moons"]["noise"] == 0.1
    q = calls["make_gaussian_quantiles"]
    assert q["n_samples"] == 20 and q["n_classes"] == 2 and q["cov"] == 0.2
    np.testing.assert_array_equal(q["mean"], [4.0, 0.0])
    b = calls["make_blobs"]
    assert b["n_samples"] == 20 and b["cluster_std"] == pytest.approx(0.4)
    np.testing.assert_array_equal(np.asarray(b["centers"]), [[0.0, 0.0]])
    # Seeded through the one RandomState.
    assert all(c["random_state"] is rng for c in calls.values())


def test_knn_edges_match_brute_force():
    rng = np.random.RandomState(0)
    pts = rng.rand(40, 2)
    for k in (3, 5):
        ei = synthetic._knn_edges(pts, k)
        d = ((pts[:, None] - pts[None]) ** 2).sum(-1)
        np.fill_diagonal(d, np.inf)
        adj = np.zeros((40, 40), dtype=bool)
        adj[np.repeat(np.arange(40), k), np.argsort(d, 1)[:, :k].ravel()] = True
        adj |= adj.T
        expected = np.stack(np.nonzero(adj))
        assert ei.dtype == torch.long
        np.testing.assert_array_equal(ei.numpy(), expected)


def test_sizes_near_the_published_averages(easy, hard):
    # Published (Bianchi et al. 2022, small sets): easy 58.25 nodes / 358.8
    # edges, hard 58.64 / 224.94, edges counted in both directions. The
    # expected node count is 58.5; edges per node are set by k and the layout.
    for d, (nodes, edges) in ((easy, (58.25, 358.8)), (hard, (58.64, 224.94))):
        avg_edges = sum(g.num_edges for g in d.graphs) / len(d)
        assert abs(d.avg_nodes - 58.5) < 2.0
        assert abs(avg_edges / d.avg_nodes - edges / nodes) < 0.15


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
    monkeypatch.setitem(synthetic.SHAPE, "moon_noise", 0.2)
    changed = load_synthetic("easy", str(tmp_path), seed=0)
    assert changed.params["moon_noise"] == 0.2
    assert len(list((tmp_path / "synthetic").glob("easy_small_seed0_*.pt"))) == 2


def test_unknown_name_is_a_clear_error(tmp_path):
    with pytest.raises(PoolbenchError, match="easy, hard"):
        load_synthetic("medium", str(tmp_path))
