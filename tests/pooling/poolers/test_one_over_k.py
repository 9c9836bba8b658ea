"""One-over-K poolers (graclus, graclus_complement, kmis, ndp): exact values on
hand-checkable graphs and the invariants of their greedy selections."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.utils import to_undirected

from poolbench.pooling.poolers.eigenpool import EigenPool
from poolbench.pooling.poolers.graclus import GraclusPool
from poolbench.pooling.poolers.graclus_complement import (
    GraclusComplementPool,
    complement_edges,
)
from poolbench.pooling.poolers.kmis import KMISPool
from poolbench.pooling.poolers.ndp import NDPPool
from poolbench.pooling.select import (
    padded_topology,
    select_graclus,
    select_kmis,
    select_ndp,
)
from tests.pooling.graphs import path_graph, random_graph, with_weights

POOLERS = [GraclusPool, GraclusComplementPool, KMISPool, NDPPool]


def graph(edges: list[tuple[int, int]], n: int) -> Data:
    ei = to_undirected(torch.tensor(edges).t(), num_nodes=n)
    return Data(x=torch.randn(n, 3), edge_index=ei)


def dense(ei: torch.Tensor, ew: torch.Tensor | None, n: int) -> torch.Tensor:
    a = torch.zeros(n, n)
    w = torch.ones(ei.size(1)) if ew is None else ew
    a.index_put_((ei[0], ei[1]), w.float(), accumulate=True)
    return a


def weighted_batch() -> Batch:
    graphs = [with_weights(random_graph(n, p=0.3, seed=n), seed=n) for n in (9, 1, 12)]
    return Batch.from_data_list(graphs + [with_weights(path_graph(5), seed=7)])


def greedy_matching(ei: torch.Tensor, ew: torch.Tensor, n: int) -> set:
    """Sequential greedy matching by decreasing w_ij (1/d_i + 1/d_j)."""
    deg = torch.zeros(n).index_add_(0, ei[0], ew)
    edges = sorted(
        (
            (float(w * (1 / deg[i] + 1 / deg[j])), int(i), int(j))
            for (i, j), w in zip(ei.t().tolist(), ew)
            if i < j
        ),
        reverse=True,
    )
    used, pairs = set(), set()
    for _, i, j in edges:
        if i not in used and j not in used:
            used |= {i, j}
            pairs.add((i, j))
    return pairs


def pairs_of(cluster: torch.Tensor) -> set:
    out = set()
    for c in cluster.unique():
        members = (cluster == c).nonzero().view(-1).tolist()
        if len(members) == 2:
            out.add(tuple(members))
    return out


def check_matching(cluster: torch.Tensor, ei: torch.Tensor, n: int) -> None:
    size = torch.bincount(cluster)
    assert size.min() >= 1 and size.max() <= 2
    adj = dense(ei, None, n) > 0
    for i, j in pairs_of(cluster):
        assert adj[i, j], "a matched pair must be an edge"
    single = size[cluster] == 1
    assert not (single[ei[0]] & single[ei[1]] & (ei[0] != ei[1])).any(), "not maximal"


def test_graclus_path_matches_the_ends():
    # w(1/d_i + 1/d_j) is 1.5 at both ends of the path and 1 inside.
    cluster = select_graclus(path_graph(5).edge_index, None, 5)
    assert cluster.tolist() == [0, 0, 1, 2, 2]


def test_graclus_equals_sequential_greedy_and_is_a_maximal_matching():
    for seed in range(10):
        data = with_weights(random_graph(14, p=0.3, seed=seed), seed=seed)
        cluster = select_graclus(data.edge_index, data.edge_weight, 14)
        check_matching(cluster, data.edge_index, 14)
        assert pairs_of(cluster) == greedy_matching(
            data.edge_index, data.edge_weight, 14
        )


def test_graclus_does_not_depend_on_node_order():
    data = with_weights(random_graph(14, p=0.3, seed=3), seed=3)
    perm = torch.randperm(14, generator=torch.Generator().manual_seed(0))
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(14)
    base = pairs_of(select_graclus(data.edge_index, data.edge_weight, 14))
    moved = pairs_of(select_graclus(inv[data.edge_index], data.edge_weight, 14))
    assert {tuple(sorted((int(perm[i]), int(perm[j])))) for i, j in moved} == base


def test_graclus_complement_pairs_non_adjacent_nodes_of_the_same_graph():
    batch = weighted_batch()
    comp = complement_edges(batch.edge_index, batch.batch)
    assert (batch.batch[comp[0]] == batch.batch[comp[1]]).all()
    adj = dense(batch.edge_index, None, batch.num_nodes) > 0
    assert not adj[comp[0], comp[1]].any() and (comp[0] != comp[1]).all()
    n_pairs = sum(k * (k - 1) for k in torch.bincount(batch.batch).tolist())
    assert comp.size(1) == n_pairs - batch.edge_index.size(1)
    cluster = GraclusComplementPool(3).precompute(batch.edge_index, None, batch.batch)
    check_matching(cluster["cluster"], comp, batch.num_nodes)


def test_graclus_complement_on_a_path_of_three():
    data = path_graph(3)
    b = torch.zeros(3, dtype=torch.long)
    out = GraclusComplementPool(4)(data.x, data.edge_index, None, b)
    assert out.info["cluster"].tolist() == [0, 1, 0]
    torch.testing.assert_close(out.x, torch.stack([data.x[0] + data.x[2], data.x[1]]))
    assert dense(out.edge_index, out.edge_weight, 2).tolist() == [[0, 2], [2, 0]]


def test_kmis_path_by_hand():
    # Scores d / (d + 1): [.5, .67, .67, .67, .5]; ties go to the lower index.
    cluster, mis = select_kmis(path_graph(5).edge_index, None, 5, 1, "degree", "greedy")
    assert mis.nonzero().view(-1).tolist() == [1, 3]
    assert cluster.tolist() == [0, 0, 0, 1, 1]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_kmis_is_a_maximal_k_independent_set(k):
    batch = weighted_batch()
    n = batch.num_nodes
    cluster, mis = select_kmis(batch.edge_index, batch.edge_weight, n, k)
    a = (dense(batch.edge_index, None, n) > 0).float() + torch.eye(n)
    reach = torch.linalg.matrix_power(a, k) > 0  # within k hops
    sel = mis.nonzero().view(-1)
    assert reach[sel][:, sel].sum() == sel.numel(), "two set nodes within k hops"
    assert reach[:, sel].any(1).all(), "not maximal"
    assert reach[torch.arange(n), sel[cluster]].all(), "assigned beyond k hops"
    assert torch.equal(cluster[sel], torch.arange(sel.numel()))


def test_kmis_reduce_options():
    data = path_graph(5)
    b = torch.zeros(5, dtype=torch.long)
    for reduce, fn in [("sum", torch.sum), ("mean", torch.mean)]:
        out = KMISPool(4, reduce=reduce)(data.x, data.edge_index, None, b)
        torch.testing.assert_close(out.x[0], fn(data.x[:3], 0))
    with pytest.raises(ValueError):
        KMISPool(4, reduce="median")


def test_ndp_path_of_four_by_hand():
    # Bipartite: the sides {0, 2} and {1, 3} tie, the first node's side is kept;
    # Kron reduction gives L' = [[.5, -.5], [-.5, .5]].
    data = path_graph(4)
    b = torch.zeros(4, dtype=torch.long)
    out = NDPPool(4)(data.x, data.edge_index, None, b)
    assert out.info["cluster"].tolist() == [0, -1, 1, -1]
    torch.testing.assert_close(out.x, data.x[[0, 2]])
    torch.testing.assert_close(
        dense(out.edge_index, out.edge_weight, 2),
        torch.tensor([[0.0, 0.5], [0.5, 0.0]]),
    )


def test_ndp_keeps_the_larger_side_and_falls_back_when_the_cut_is_small():
    star = graph([(0, 1), (0, 2), (0, 3)], 4)
    adj, mask, _ = padded_topology(
        star.edge_index, None, torch.zeros(4, dtype=torch.long)
    )
    assert select_ndp(adj, mask)[0].tolist() == [False, True, True, True]
    # A triangle plus an edge: the top eigenvector lives on the edge only and
    # cuts 1/4 of the weight, so the fixed pseudo-random split is used.
    data = graph([(0, 1), (1, 2), (2, 0), (3, 4)], 5)
    adj, mask, _ = padded_topology(
        data.edge_index, None, torch.zeros(5, dtype=torch.long)
    )
    assert select_ndp(adj, mask)[0].tolist() == [True, False, True, False, True]


def test_ndp_edge_cases_keep_nodes():
    b = torch.tensor([0, 1, 1, 1])
    out = NDPPool(4)(torch.randn(4, 4), torch.empty(2, 0, dtype=torch.long), None, b)
    assert out.batch.tolist() == [0, 1, 1, 1] and out.edge_index.numel() == 0


def expected_pooled(pooler, g: Data, cluster: torch.Tensor):
    """RED and CON of one graph from its cluster map, by dense linear algebra:
    X' = S^T X; A' = S^T A S without loops, or NDP's Kron reduction of L."""
    keep = cluster >= 0
    k = int(cluster.max()) + 1 if keep.any() else 0
    s = torch.zeros(g.num_nodes, k, dtype=torch.float64)
    s[keep.nonzero().view(-1), cluster[keep]] = 1.0
    x = s.t() @ g.x.double()
    a = dense(g.edge_index, g.edge_weight, g.num_nodes).double()
    if isinstance(pooler, NDPPool):
        lap = torch.diag(a.sum(1)) - a
        kk, dd = keep.nonzero().view(-1), (~keep).nonzero().view(-1)
        l_kd = lap[kk][:, dd]
        reduced = lap[kk][:, kk] - l_kd @ torch.linalg.pinv(lap[dd][:, dd]) @ l_kd.t()
        pooled = -reduced
        pooled[pooled.abs() <= pooler.sparse_threshold] = 0.0
    else:
        pooled = s.t() @ a @ s
    return x, pooled.fill_diagonal_(0.0)


@pytest.mark.parametrize("cls", POOLERS)
def test_pooled_graph_equals_a_dense_computation_from_the_clusters(cls):
    batch = weighted_batch()
    pooler = cls(in_channels=4)
    topo = pooler.precompute(batch.edge_index, batch.edge_weight, batch.batch)
    assert set(topo) == {"cluster", "edge_index", "edge_weight", "batch"}
    assert torch.equal(topo["batch"], topo["batch"].sort().values)
    on_the_fly = pooler(batch.x, batch.edge_index, batch.edge_weight, batch.batch)
    cached = pooler(batch.x, None, None, batch.batch, topology=topo)
    xs, adjs, start = [], [], 0
    for g in batch.to_data_list():
        local = topo["cluster"][start : start + g.num_nodes]
        first = int(local[local >= 0].min()) if (local >= 0).any() else 0
        x, a = expected_pooled(pooler, g, torch.where(local >= 0, local - first, -1))
        xs.append(x)
        adjs.append(a)
        start += g.num_nodes
    want_x, want_a = torch.cat(xs).float(), torch.block_diag(*adjs).float()
    for out in (on_the_fly, cached):
        torch.testing.assert_close(out.x, want_x, atol=1e-5, rtol=1e-5)
        got_a = dense(out.edge_index, out.edge_weight, out.x.size(0))
        torch.testing.assert_close(got_a, want_a, atol=1e-5, rtol=1e-5)
    assert cls.precomputable and not cls.trainable and not cls.has_aux_loss


@pytest.mark.parametrize("cls", POOLERS)
def test_ratio_is_ignored(cls):
    batch = weighted_batch()
    outs = [
        cls(4, ratio=r)(batch.x, batch.edge_index, None, batch.batch)
        for r in (0.1, 0.9)
    ]
    assert torch.equal(outs[0].batch, outs[1].batch)


@pytest.mark.parametrize("cls", POOLERS)
def test_a_batch_pools_each_graph_as_if_alone(cls):
    batch = weighted_batch()
    pooler = cls(4)
    whole = pooler(batch.x, batch.edge_index, batch.edge_weight, batch.batch)
    offset, xs, adjs = 0, [], []
    for g in batch.to_data_list():
        b = torch.zeros(g.num_nodes, dtype=torch.long)
        out = pooler(g.x, g.edge_index, g.edge_weight, b)
        xs.append(out.x)
        adjs.append(dense(out.edge_index, out.edge_weight, out.x.size(0)))
        offset += out.x.size(0)
    torch.testing.assert_close(whole.x, torch.cat(xs))
    torch.testing.assert_close(
        dense(whole.edge_index, whole.edge_weight, offset), torch.block_diag(*adjs)
    )


@pytest.mark.parametrize("singleton, scale", [("eigenvector", 1.0), ("self_loop", 0.0)])
def test_a_graph_smaller_than_k_keeps_its_features_through_eigenpool(singleton, scale):
    """A 3-node path with K = 5 is three singleton clusters: each pooled node
    carries its own features in every mode block (the 1 x 1 Laplacian's
    eigenvector is 1); the authors' code and tgp give it its self-loop
    weight, 0 here, and the graph pools to zeros."""
    g = path_graph(3, features=2, seed=0)
    pool = EigenPool(2, ratio=1.0, avg_nodes=5, num_modes=3, singleton=singleton)
    out = pool(g.x, g.edge_index, None, torch.zeros(3, dtype=torch.long))
    rows = out.x[out.info["cluster"]]  # each node's own supernode [3, H F]
    torch.testing.assert_close(rows, scale * g.x.repeat(1, 3))
    assert out.x.size(0) == 5  # two supernodes left empty
    with pytest.raises(ValueError, match="singleton must be one of"):
        EigenPool(2, singleton="zero")


def test_a_two_node_cluster_is_led_by_its_node_of_higher_degree_in_either_order():
    """A two-node cluster's second mode is [1, -1] / sqrt 2 whatever the graph:
    its sign cannot come from the magnitudes. Path 0-1-2 split {0, 1} | {2}:
    node 1 (degree 2) leads node 0 (degree 1), so the mode is +1/sqrt 2 on
    node 1 however the nodes are numbered (eigh alone gave node 0 the plus
    sign in one order and the minus sign in the other)."""
    from poolbench.pooling.poolers.eigenpool import mode_coefficients

    adj = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float)
    root = 1 / np.sqrt(2)
    for perm in itertools.permutations(range(3)):
        perm = np.array(perm)
        relabelled = adj[np.ix_(perm, perm)]  # new node i is old node perm[i]
        labels = np.where(perm == 2, 1, 0)
        theta = mode_coefficients(relabelled, labels, 2)
        old = np.empty(3)
        old[perm] = theta[:, 1]
        np.testing.assert_allclose(old, [-root, root, 1.0])
