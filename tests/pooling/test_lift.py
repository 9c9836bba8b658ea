"""LIFT by hand: S X' for dense poolers, gUnpool for score-based ones, cluster
maps for EdgePool and NDP, the identity for none."""

from __future__ import annotations

import torch
from torch_geometric.data import Batch

from poolbench.pooling import get_pooler
from poolbench.pooling.base import PoolOutput
from poolbench.pooling.lift import cluster_lift, dense_lift, lift, mode_lift
from tests.pooling.graphs import path_graph, random_graph


def test_dense_lift_is_s_times_the_pooled_features_per_graph():
    s = torch.tensor(
        [[[1.0, 0.0], [0.5, 0.5], [0.0, 0.0]], [[0.2, 0.8], [1.0, 0.0], [0.0, 1.0]]]
    )
    mask = torch.tensor([[True, True, False], [True, True, True]])
    x_pooled = torch.tensor([[1.0], [3.0], [10.0], [20.0]])
    out = dense_lift(x_pooled, s, mask, torch.tensor([0, 0, 1, 1]))
    torch.testing.assert_close(
        out, torch.tensor([[1.0], [2.0], [18.0], [10.0], [20.0]])
    )


def test_dense_lift_with_fewer_pooled_nodes_than_columns():
    """LaPool: graph 0 has one supernode, graph 1 two; S has K_max = 2 columns."""
    s = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [1.0, 0.0]]])
    mask = torch.ones(2, 2, dtype=torch.bool)
    out = dense_lift(
        torch.tensor([[5.0], [7.0], [9.0]]), s, mask, torch.tensor([0, 1, 1])
    )
    torch.testing.assert_close(out, torch.tensor([[5.0], [5.0], [9.0], [7.0]]))


def test_cluster_lift_copies_supernodes_and_zeroes_dropped_nodes():
    out = cluster_lift(
        torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([1, -1, 0, 1])
    )
    torch.testing.assert_close(
        out, torch.tensor([[3.0, 4.0], [0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
    )


def test_mode_lift_mixes_each_clusters_mode_blocks():
    # Two modes of two features: node 0 in cluster 0 with theta (1, 2).
    x_pooled = torch.tensor([[1.0, 1.0, 10.0, 10.0], [2.0, 0.0, 0.0, 3.0]])
    theta = torch.tensor([[1.0, 2.0], [0.5, -1.0], [0.0, 0.0]])
    out = mode_lift(x_pooled, torch.tensor([0, 1, -1]), theta)
    expected = torch.tensor([[21.0, 21.0], [1.0, -3.0], [0.0, 0.0]])
    torch.testing.assert_close(out, expected)


def _pool(name, batch, **kw):
    torch.manual_seed(0)
    pooler = get_pooler(name)(in_channels=4, ratio=0.5, avg_nodes=8, **kw).eval()
    return pooler, pooler(batch.x, batch.edge_index, None, batch.batch)


def test_topk_lift_is_gunpool():
    b = Batch.from_data_list([random_graph(8, seed=1), path_graph(5)])
    pooler, out = _pool("topk", b)
    lifted = pooler.lift(out.x, out)
    kept = out.info["perm"]
    torch.testing.assert_close(lifted[kept], out.x)
    dropped = torch.ones(b.num_nodes, dtype=torch.bool)
    dropped[kept] = False
    assert lifted[dropped].abs().sum() == 0


def test_edgepool_and_ndp_lift_follow_their_cluster_maps():
    b = Batch.from_data_list([random_graph(9, p=0.4, seed=2)])
    for name in ("edgepool", "ndp", "graclus"):
        pooler, out = _pool(name, b)
        cluster = out.info["cluster"]
        lifted = pooler.lift(out.x, out)
        for node, c in enumerate(cluster.tolist()):
            expected = out.x[c] if c >= 0 else torch.zeros(4)
            torch.testing.assert_close(lifted[node], expected)
        if name == "ndp":
            assert (cluster < 0).any(), "NDP drops nodes: they lift to zeros"
        if name == "edgepool":
            assert torch.bincount(cluster).max() == 2, "merged pairs share a row"


def test_none_lifts_to_the_identity_and_mincut_to_s_x():
    b = Batch.from_data_list([random_graph(7, seed=3), path_graph(4)])
    pooler, out = _pool("none", b)
    assert torch.equal(pooler.lift(out.x, out), b.x)
    pooler, out = _pool("mincut", b)
    y = torch.randn(out.x.shape)
    expected = torch.cat(
        [
            out.s[g, : int(out.info["mask"][g].sum())] @ y[4 * g : 4 * g + 4]
            for g in range(2)
        ]
    )
    torch.testing.assert_close(pooler.lift(y, out), expected)


def test_lift_refuses_features_of_another_pooled_graph():
    out = PoolOutput(
        torch.zeros(3, 2),
        torch.empty(2, 0).long(),
        None,
        torch.zeros(3).long(),
        info={"cluster": torch.tensor([0, 1, 2])},
    )
    try:
        lift(torch.zeros(4, 2), out)
    except ValueError as exc:
        assert "one row per pooled node" in str(exc)
    else:
        raise AssertionError("a wrong number of rows must be refused")
