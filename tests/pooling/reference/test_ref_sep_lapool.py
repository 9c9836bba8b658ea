"""SEP and LaPool against tgp (torch-geometric-pool).

SEP: the same coding-tree partition on every MUTAG and PROTEINS graph tried
(unweighted, so the greedy merge's tie-breaks are exercised) and on weighted
random graphs; RED and CON given that partition. LaPool: S, pooled features
and pooled adjacency equal on each graph's block (tgp pads every graph to the
batch's largest leader count; we keep each graph's own leaders).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from poolbench.pooling.poolers.lapool import LaPool
from poolbench.pooling.poolers.sep import SEPPool
from tests.pooling.graphs import no_edges, path_graph, random_graph, with_weights

tgp = pytest.importorskip("tgp")
from tgp.poolers import LaPooling, SEPPooling  # noqa: E402
from tgp.select import SEPSelect  # noqa: E402

ATOL = 1e-5


def partition(cluster: torch.Tensor) -> list[list[int]]:
    c = cluster.numpy()
    return sorted(sorted(np.flatnonzero(c == k).tolist()) for k in np.unique(c))


def tgp_partition(edge_index, edge_weight, n) -> list[list[int]]:
    b = torch.zeros(n, dtype=torch.long)
    so = SEPSelect()(
        edge_index=edge_index, edge_weight=edge_weight, batch=b, num_nodes=n
    )
    return partition(so.cluster_index)


@pytest.mark.parametrize("name", ["MUTAG", "PROTEINS"])
def test_sep_partition_equals_tgp_on_real_graphs(name, data_root, mirror):
    from poolbench.data.tu import load_tu

    graphs = load_tu(name, str(data_root), mirror=str(mirror)).graphs[:80]
    for g in graphs:
        batch = torch.zeros(g.num_nodes, dtype=torch.long)
        ours = SEPPool(4).precompute(g.edge_index, None, batch)["cluster"]
        assert partition(ours) == tgp_partition(g.edge_index, None, g.num_nodes)


@pytest.mark.parametrize("n", [6, 12, 25])
def test_sep_partition_equals_tgp_on_weighted_graphs(n):
    g = with_weights(random_graph(n, p=0.3, seed=n), seed=n)
    batch = torch.zeros(n, dtype=torch.long)
    ours = SEPPool(4).precompute(g.edge_index, g.edge_weight, batch)["cluster"]
    assert partition(ours) == tgp_partition(g.edge_index, g.edge_weight, n)


def _dense(ei, ew, n):
    a = torch.zeros(n, n)
    a.index_put_((ei[0], ei[1]), ew, accumulate=True)
    return a


def test_sep_pooled_graph_equals_tgp_given_the_partition():
    graphs = [with_weights(random_graph(14, p=0.3, seed=2), seed=2), no_edges(3)]
    graphs[-1].edge_weight = torch.empty(0)
    b = Batch.from_data_list(graphs)
    ours = SEPPool(4)(b.x, b.edge_index, b.edge_weight, b.batch)
    ref = SEPPooling()(
        x=b.x, adj=b.edge_index, edge_weight=b.edge_weight, batch=b.batch
    )
    cluster = ours.info["cluster"]
    assert partition(cluster) == partition(ref.so.cluster_index)
    # Our supernode of each tgp supernode, through any member node.
    k = ours.x.size(0)
    to_ours = torch.empty(k, dtype=torch.long)
    to_ours[ref.so.cluster_index] = cluster
    torch.testing.assert_close(ours.x[to_ours], ref.x, atol=ATOL, rtol=1e-5)
    ref_adj = _dense(to_ours[ref.edge_index], ref.edge_weight, k)
    torch.testing.assert_close(_dense(ours.edge_index, ours.edge_weight, k), ref_adj)


def test_lapool_equals_tgp_on_each_graph_block():
    graphs = [
        with_weights(random_graph(9, p=0.4, seed=1), seed=1),
        with_weights(path_graph(6), seed=2),
        with_weights(random_graph(5, p=0.6, seed=3), seed=3),
    ]
    b = Batch.from_data_list(graphs)
    ours = LaPool(4)(b.x, b.edge_index, b.edge_weight, b.batch)
    ref = LaPooling()(x=b.x, adj=b.edge_index, edge_weight=b.edge_weight, batch=b.batch)
    torch.testing.assert_close(ours.s, ref.so.s, atol=ATOL, rtol=1e-5)
    counts = torch.bincount(ours.batch, minlength=len(graphs))
    assert counts.tolist() != [counts[0]] * len(graphs), "blocks must differ in size"
    start = torch.cumsum(counts, 0) - counts
    adj = _dense(ours.edge_index, ours.edge_weight, ours.x.size(0))
    for g, (s, k) in enumerate(zip(start.tolist(), counts.tolist())):
        torch.testing.assert_close(
            ours.x[s : s + k], ref.x[g, :k], atol=ATOL, rtol=1e-5
        )
        block = adj[s : s + k, s : s + k]
        torch.testing.assert_close(
            block, ref.edge_index[g, :k, :k], atol=ATOL, rtol=1e-5
        )
        # tgp's padding supernodes carry nothing.
        assert ref.x[g, k:].abs().sum() == 0
