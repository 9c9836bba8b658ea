"""Score-based poolers against tgp (torch-geometric-pool) with copied weights.

PAN has no reference run: tgp's PANPooling asserts torch_sparse at init (and
PyG's PANConv/PANPooling need it too); sparse_random has no tgp twin.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch_geometric.data import Batch

from poolbench.pooling.poolers.asap import ASAPool
from poolbench.pooling.poolers.edgepool import EdgePool
from poolbench.pooling.poolers.maxcut import MaxCutPool
from poolbench.pooling.poolers.sag import SAGPool
from poolbench.pooling.poolers.topk import TopKPool
from tests.pooling.graphs import path_graph, random_graph, with_weights

tgp = pytest.importorskip("tgp")
from tgp.poolers import (  # noqa: E402
    ASAPooling,
    EdgeContractionPooling,
    MaxCutPooling,
    SAGPooling,
    TopkPooling,
)

warnings.filterwarnings("ignore", message="Sparse")
ATOL = 1e-5


def batch_of(*graphs, weighted: bool = False) -> Batch:
    if weighted:
        graphs = [with_weights(g, seed=i) for i, g in enumerate(graphs)]
    return Batch.from_data_list(list(graphs))


def canonical(cluster, x, edge_index, edge_weight, num_nodes):
    """Pooled graph with supernodes sorted by their smallest member node.

    Returns the node partition (``[N]``, -1 for dropped nodes, supernodes
    renumbered in that order), the sorted features and the dense adjacency.
    """
    k = x.size(0)
    rep = torch.full((k,), num_nodes, dtype=torch.long)
    kept = cluster >= 0
    rep = rep.scatter_reduce(0, cluster[kept], torch.arange(num_nodes)[kept], "amin")
    order = torch.argsort(rep)
    new = torch.empty_like(order)
    new[order] = torch.arange(k)
    part = torch.where(kept, new[cluster.clamp(min=0)], -1)
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1))
    adj = torch.zeros(k, k)
    adj.index_put_((new[edge_index[0]], new[edge_index[1]]), edge_weight, True)
    return part, x[order], adj


def ours(out, n):
    return canonical(out.info["cluster"], out.x, out.edge_index, out.edge_weight, n)


def theirs(out, n):
    so = out.so
    cluster = torch.full((n,), -1, dtype=torch.long)
    cluster[so.node_index] = so.cluster_index
    edge_index = out.edge_index
    if so.node_index.numel() < n:
        # tgp 1.0.2 bug: for a node subset its rows of x follow cluster_index
        # (score order) but subgraph() relabels the edges in node-index order.
        edge_index = cluster[so.node_index.sort().values[edge_index]]
    return canonical(cluster, out.x, edge_index, out.edge_weight, n)


def assert_same(a, b):
    assert torch.equal(a[0], b[0]), "different node partitions"
    torch.testing.assert_close(a[1], b[1], atol=ATOL, rtol=0)
    torch.testing.assert_close(a[2], b[2], atol=ATOL, rtol=0)


GRAPHS = [
    lambda: batch_of(random_graph(10, seed=1), random_graph(7, seed=2), path_graph(5)),
    lambda: batch_of(random_graph(12, p=0.4, seed=3), path_graph(6), weighted=True),
]


@pytest.mark.parametrize("make", GRAPHS)
def test_topk_matches_tgp(make):
    b = make()
    torch.manual_seed(0)
    mine = TopKPool(4, ratio=0.5)
    ref = TopkPooling(4, ratio=0.5)
    with torch.no_grad():
        ref.selector.weight.copy_(mine.pool.select.weight)
    ew = b.get("edge_weight")
    n = b.num_nodes
    assert_same(
        ours(mine(b.x, b.edge_index, ew, b.batch), n),
        theirs(ref(b.x, b.edge_index, ew, batch=b.batch), n),
    )


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("make", GRAPHS)
def test_sag_matches_tgp(make, sign):
    b = make()
    torch.manual_seed(0)
    mine = SAGPool(4, ratio=0.5)
    ref = SAGPooling(4, ratio=0.5)
    with torch.no_grad():
        for p in mine.parameters():
            p.mul_(sign)
    ref.gnn.load_state_dict(mine.pool.gnn.state_dict())
    ew = b.get("edge_weight")
    n = b.num_nodes
    assert_same(
        ours(mine(b.x, b.edge_index, ew, b.batch), n),
        theirs(ref(b.x, b.edge_index, ew, batch=b.batch), n),
    )


@pytest.mark.parametrize("make", GRAPHS[:1])
def test_asap_selection_and_features_match_tgp(make):
    # Only SEL and RED: tgp connects A[idx, idx], PyG (ours) S^T A S, and tgp
    # passes edge weights to LEConv, so the inputs here are unweighted.
    b = make()
    torch.manual_seed(0)
    mine = ASAPool(4, ratio=0.5)
    ref = ASAPooling(4, ratio=0.5)
    ref.lin.load_state_dict(mine.pool.lin.state_dict())
    ref.att.load_state_dict(mine.pool.att.state_dict())
    ref.select_scorer.load_state_dict(mine.pool.gnn_score.state_dict())
    n = b.num_nodes
    a = ours(mine(b.x, b.edge_index, None, b.batch), n)
    r = theirs(ref(b.x, b.edge_index, None, batch=b.batch), n)
    assert torch.equal(a[0], r[0])
    torch.testing.assert_close(a[1], r[1], atol=ATOL, rtol=0)


@pytest.mark.parametrize("make", GRAPHS)
def test_edgepool_matches_tgp(make):
    b = make()
    torch.manual_seed(0)
    mine = EdgePool(4)
    ref = EdgeContractionPooling(4)
    ref.selector.lin.load_state_dict(mine.pool.lin.state_dict())
    ew = b.get("edge_weight")
    ew = torch.ones(b.edge_index.size(1)) if ew is None else ew
    n = b.num_nodes
    assert_same(
        ours(mine(b.x, b.edge_index, ew, b.batch), n),
        theirs(ref(b.x, b.edge_index, ew, batch=b.batch), n),
    )


def test_edgepool_matches_pyg_sequential_merge():
    b = batch_of(random_graph(12, p=0.4, seed=5), random_graph(9, seed=6))
    torch.manual_seed(1)
    mine = EdgePool(4)
    x, _, _, info = mine.pool(b.x, b.edge_index, b.batch)
    out = mine(b.x, b.edge_index, None, b.batch)
    n = b.num_nodes
    # PyG keeps the contracted edges as self-loops and drops weights: compare
    # the partition and features only.
    empty = torch.empty(2, 0, dtype=torch.long)
    a = canonical(out.info["cluster"], out.x, empty, None, n)
    r = canonical(info.cluster, x, empty, None, n)
    assert torch.equal(a[0], r[0])
    torch.testing.assert_close(a[1], r[1], atol=ATOL, rtol=0)


def relabel_by_score(b: Batch, z: torch.Tensor) -> Batch:
    """Renumber nodes graph by graph in descending score order."""
    order = torch.argsort(b.batch * 10.0 - torch.tanh(z), stable=True)
    inv = torch.empty_like(order)
    inv[order] = torch.arange(order.numel())
    out = b.clone()
    out.x, out.edge_index = b.x[order], inv[b.edge_index]
    return out


@pytest.mark.parametrize("make", GRAPHS)
def test_maxcut_matches_tgp(make):
    # tgp breaks ties between equally frequent neighbouring supernodes by the
    # smaller kept node index, ours by the higher score; numbering nodes in
    # score order makes the two rules coincide. The test graphs are connected
    # within max_iter hops (tgp assigns the others at random).
    torch.manual_seed(0)
    mine = MaxCutPool(4, ratio=0.5)
    ref = MaxCutPooling(4, ratio=0.5)
    ref.selector.score_net.load_state_dict(mine.score_net.state_dict())
    b = make()
    with torch.no_grad():
        b = relabel_by_score(b, mine.score_net(b.x, b.edge_index, b.get("edge_weight")))
    ew = b.get("edge_weight")
    ew = torch.ones(b.edge_index.size(1)) if ew is None else ew
    n = b.num_nodes
    out = mine(b.x, b.edge_index, ew, b.batch)
    out_ref = ref(b.x, b.edge_index, ew, batch=b.batch)
    torch.testing.assert_close(out.info["score"], out_ref.so.scores[out.info["perm"]])
    torch.testing.assert_close(
        out.aux_loss["maxcut"], out_ref.loss["maxcut_loss"], atol=ATOL, rtol=0
    )
    assert_same(ours(out, n), theirs(out_ref, n))
    assert (out.info["cluster"] >= 0).all()
