"""One-over-K poolers and `none` against tgp (torch-geometric-pool).

tgp's Graclus needs torch_cluster, which is not installed, so graclus and
graclus_complement are checked for RED and CON given the same assignment only;
their selection is checked against a sequential greedy matching in
tests/pooling/poolers/test_one_over_k.py.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch_geometric.data import Batch

from poolbench.pooling.poolers.graclus import GraclusPool
from poolbench.pooling.poolers.graclus_complement import GraclusComplementPool
from poolbench.pooling.poolers.kmis import KMISPool
from poolbench.pooling.poolers.ndp import NDPPool
from poolbench.pooling.poolers.none import NoPool
from poolbench.pooling.select import padded_topology, select_kmis, select_ndp
from tests.pooling.graphs import path_graph, random_graph, with_weights

tgp = pytest.importorskip("tgp")
from tgp.connect import KronConnect, SparseConnect  # noqa: E402
from tgp.poolers import NoPool as TgpNoPool  # noqa: E402
from tgp.reduce import BaseReduce  # noqa: E402
from tgp.select import KMISSelect, NDPSelect, SelectOutput  # noqa: E402


def dense(ei: torch.Tensor, ew: torch.Tensor | None, n: int) -> torch.Tensor:
    a = torch.zeros(n, n, dtype=torch.float64)
    w = torch.ones(ei.size(1)) if ew is None else ew
    a.index_put_((ei[0], ei[1]), w.double(), accumulate=True)
    return a


def batches() -> list[Batch]:
    graphs = [with_weights(random_graph(n, p=0.3, seed=n), seed=n) for n in (7, 1, 12)]
    return [
        Batch.from_data_list(graphs + [with_weights(path_graph(6), seed=1)]),
        Batch.from_data_list([random_graph(10, p=0.35, seed=s) for s in range(3)]),
    ]


def test_none_matches_tgp_nopool():
    b = batches()[0]
    ours = NoPool(4)(b.x, b.edge_index, b.edge_weight, b.batch)
    ref = TgpNoPool()(b.x, adj=b.edge_index, edge_weight=b.edge_weight, batch=b.batch)
    assert torch.equal(ours.x, ref.x) and torch.equal(ours.batch, ref.batch)
    assert torch.equal(ours.edge_index, ref.edge_index)
    assert torch.equal(ours.edge_weight, ref.edge_weight)


@pytest.mark.parametrize("cls", [GraclusPool, GraclusComplementPool, KMISPool])
@pytest.mark.parametrize("which", [0, 1])
def test_red_and_con_match_tgp_given_the_same_assignment(cls, which):
    b = batches()[which]
    ew = getattr(b, "edge_weight", None)
    out = cls(4)(b.x, b.edge_index, ew, b.batch)
    k = out.x.size(0)
    so = SelectOutput(
        cluster_index=out.info["cluster"], num_nodes=b.num_nodes, num_supernodes=k
    )
    x_ref, batch_ref = BaseReduce()(b.x, so, batch=b.batch)
    torch.testing.assert_close(out.x, x_ref, atol=1e-5, rtol=0)
    assert torch.equal(out.batch, batch_ref)
    # tgp merges parallel edges into weight 1 when edge_weight is None; with
    # explicit unit weights it sums them, which is S^T A S (what we compute).
    ones = torch.ones(b.edge_index.size(1)) if ew is None else ew
    ei_ref, ew_ref = SparseConnect()(b.edge_index, so, edge_weight=ones)
    diff = dense(out.edge_index, out.edge_weight, k) - dense(ei_ref, ew_ref, k)
    assert diff.abs().max() <= 1e-5


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("heuristic", ["greedy", "w-greedy", None])
def test_kmis_selection_equals_tgp(k, heuristic):
    # Weighted graphs: distinct degree scores, so the sort order is unambiguous.
    for seed in range(8):
        data = with_weights(random_graph(15, p=0.25, seed=seed), seed=seed)
        n = data.num_nodes
        ei, ew = data.edge_index, data.edge_weight
        cluster, mis = select_kmis(ei, ew, n, k, "degree", heuristic)
        sel = KMISSelect(scorer="degree", order_k=k, score_heuristic=heuristic)
        so = sel(edge_index=ei, edge_weight=ew, num_nodes=n)
        assert torch.equal(mis.nonzero().view(-1), so.mis)
        assert torch.equal(cluster, so.cluster_index)


def test_kmis_selection_equals_tgp_on_unweighted_graphs():
    for seed in range(8):
        ei = random_graph(15, p=0.25, seed=seed).edge_index
        cluster, mis = select_kmis(ei, None, 15, 1, "degree", "greedy")
        so = KMISSelect(scorer="degree", order_k=1)(edge_index=ei, num_nodes=15)
        assert torch.equal(mis.nonzero().view(-1), so.mis)
        assert torch.equal(cluster, so.cluster_index)


def _ndp_graphs():
    for seed in range(10):
        yield with_weights(random_graph(12, p=0.35, seed=seed), seed=seed)
        yield random_graph(11, p=0.4, seed=100 + seed)


def test_ndp_selection_equals_tgp_up_to_the_eigenvector_sign():
    for data in _ndp_graphs():
        n = data.num_nodes
        b = torch.zeros(n, dtype=torch.long)
        ew = getattr(data, "edge_weight", None)
        adj, mask, _ = padded_topology(data.edge_index, ew, b)
        ours = select_ndp(adj, mask)[0]
        ref = torch.zeros(n, dtype=torch.bool)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref[NDPSelect()(data.edge_index, ew, batch=b, num_nodes=n).node_index] = (
                True
            )
        # Isolated nodes have u = 0 and are kept whatever the sign of u.
        lone = adj[0].sum(-1) == 0
        assert ours[lone].all()
        live = ~lone
        assert torch.equal(ours[live], ref[live]) or torch.equal(ours[live], ~ref[live])


def test_ndp_kron_reduction_equals_tgp():
    checked = 0
    for data in list(_ndp_graphs()) + [path_graph(4), path_graph(7)]:
        n = data.num_nodes
        b = torch.zeros(n, dtype=torch.long)
        ew = getattr(data, "edge_weight", None)
        out = NDPPool(4)(data.x, data.edge_index, ew, b)
        kept = (out.info["cluster"] >= 0).nonzero().view(-1)
        k = kept.numel()
        torch.testing.assert_close(out.x, data.x[kept])
        so = SelectOutput(
            node_index=kept,
            num_nodes=n,
            cluster_index=torch.arange(k),
            num_supernodes=k,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ei_ref, ew_ref = KronConnect()(data.edge_index, so, edge_weight=ew)
        diff = dense(out.edge_index, out.edge_weight, k) - dense(ei_ref, ew_ref, k)
        assert diff.abs().max() <= 1e-5
        checked += int(ei_ref.numel() > 0)
    assert checked >= 10
