"""Score-based sparse poolers (sag, asap, pan, edgepool, maxcut) and sparse_random."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import pytest
import torch
from torch_geometric.data import Batch
from torch_geometric.utils import scatter, to_dense_adj

from poolbench.pooling.poolers.asap import ASAPool
from poolbench.pooling.poolers.edgepool import EdgePool, greedy_matching
from poolbench.pooling.poolers.maxcut import (
    MaxCutPool,
    assign_dropped,
    delta_propagation,
    maxcut_loss,
)
from poolbench.pooling.poolers.pan import PANPool
from poolbench.pooling.poolers.sag import SAGPool
from poolbench.pooling.poolers.sparse_random import SparseRandomPool
from poolbench.pooling.poolers.topk import TopKPool
from tests.pooling.graphs import (
    path_graph,
    random_graph,
    single_node,
    with_isolated,
    with_weights,
)

warnings.filterwarnings("ignore", message="Sparse")


def top_per_graph(score, batch, ratio):
    kept = []
    for g in batch.unique():
        idx = (batch == g).nonzero().view(-1)
        k = math.ceil(ratio * idx.numel())
        kept += idx[score[idx].argsort(descending=True)[:k]].tolist()
    return sorted(kept)


def mixed_batch():
    return Batch.from_data_list(
        [random_graph(10, seed=1), path_graph(6), random_graph(7, seed=2)]
    )


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_sag_keeps_top_scored_nodes_whatever_the_weight_sign(sign):
    torch.manual_seed(0)
    pooler = SAGPool(4, ratio=0.5)
    with torch.no_grad():
        for p in pooler.parameters():
            p.mul_(sign)
    b = mixed_batch()
    out = pooler(b.x, b.edge_index, None, b.batch)
    y = pooler.pool.gnn(b.x, b.edge_index).view(-1)
    assert sorted(out.info["perm"].tolist()) == top_per_graph(y, b.batch, 0.5)
    assert not any("select" in n for n, _ in pooler.named_parameters())
    torch.testing.assert_close(
        out.x, b.x[out.info["perm"]] * torch.tanh(y)[out.info["perm"], None]
    )


@pytest.mark.parametrize("gate", ["tanh", "sigmoid"])
def test_topk_gates_the_kept_nodes_by_its_nonlinearity(gate):
    """tanh is Cangea et al.'s gate, sigmoid Gao & Ji's gPool
    (experiment=gao_ji2019): the kept features are scaled, not sign-flipped."""
    torch.manual_seed(0)
    pooler = TopKPool(4, ratio=0.5, nonlinearity=gate)
    b = with_weights(mixed_batch(), seed=3)
    out = pooler(b.x, b.edge_index, b.edge_weight, b.batch)
    p = pooler.pool.select.weight.view(-1)
    y = getattr(torch, gate)(b.x @ p / p.norm())
    perm = out.info["perm"]
    assert sorted(perm.tolist()) == top_per_graph(y, b.batch, 0.5)
    torch.testing.assert_close(out.x, b.x[perm] * y[perm, None])
    # the pooled edges are those between kept nodes, weights kept
    kept = torch.full((b.num_nodes,), -1)
    kept[perm] = torch.arange(perm.numel())
    both = (kept[b.edge_index] >= 0).all(0)
    want = sorted(
        zip(*kept[b.edge_index[:, both]].tolist(), b.edge_weight[both].tolist())
    )
    assert sorted(zip(*out.edge_index.tolist(), out.edge_weight.tolist())) == want


@pytest.mark.parametrize("weighted", [False, True])
def test_asap_with_and_without_edge_weights(weighted):
    # PyG 3466: ASAPooling crashed when edge attributes were present.
    torch.manual_seed(0)
    pooler = ASAPool(4, ratio=0.5)
    data = [with_weights(random_graph(9, p=0.4, seed=s), seed=s) for s in range(3)]
    b = Batch.from_data_list(data)
    ew = b.edge_weight.requires_grad_(True) if weighted else None
    out = pooler(b.x, b.edge_index, ew, b.batch)
    assert (out.edge_weight is not None) == weighted
    if weighted:
        assert torch.isfinite(out.edge_weight).all() and (out.edge_weight > 0).all()
        out.edge_weight.sum().backward()
        assert pooler.pool.att.weight.grad.abs().sum() > 0  # through S^T A S
        assert ew.grad is not None


@pytest.mark.parametrize("weighted", [False, True])
def test_asap_equals_pyg_forward(weighted):
    # Same parameters and selector: our step-by-step forward (with the COO
    # S^T A S) must give PyG's pooled graph.
    torch.manual_seed(0)
    pooler = ASAPool(4, ratio=0.5).eval()
    data = [with_weights(random_graph(9, p=0.4, seed=s), seed=s) for s in range(3)]
    b = Batch.from_data_list(data)
    ew = b.edge_weight if weighted else None
    with torch.no_grad():
        out = pooler(b.x, b.edge_index, ew, b.batch)
        x, ei, w, batch, perm = pooler.pool(b.x, b.edge_index, ew, b.batch)
    assert torch.equal(out.info["perm"], perm) and torch.equal(out.batch, batch)
    torch.testing.assert_close(out.x, x)
    k = x.size(0)
    dense = to_dense_adj(out.edge_index, edge_attr=out.edge_weight, max_num_nodes=k)
    torch.testing.assert_close(dense, to_dense_adj(ei, edge_attr=w, max_num_nodes=k))


def test_asap_feature_gradients_equal_pygs():
    """The ego-net max, attention and cluster sums (index_reduce_ and
    index_add_ here, PyG's scatter there) give the same gradients, ties of
    the max included."""
    torch.manual_seed(0)
    pooler = ASAPool(4, ratio=0.5)
    data = [random_graph(9, p=0.4, seed=s) for s in range(3)]
    b = Batch.from_data_list(data)
    # ReLU'd columns tie at 0; all-negative ones have negative maxima (a max
    # that also took the initial 0 would differ)
    x = torch.cat([b.x[:, :2].relu(), -b.x[:, 2:].abs() - 0.1], 1)
    weights = torch.randn(100, 4)

    def grads(run):
        inputs = x.clone().requires_grad_()
        pooled = run(inputs)
        (pooled * weights[: pooled.size(0)]).sum().backward()
        params = [p.grad.clone() for p in pooler.parameters() if p.grad is not None]
        pooler.zero_grad(set_to_none=True)
        return [inputs.grad, *params]

    ours = grads(lambda v: pooler(v, b.edge_index, None, b.batch).x)
    pygs = grads(lambda v: pooler.pool(v, b.edge_index, None, b.batch)[0])
    assert len(ours) == len(pygs) > 1
    for got, want in zip(ours, pygs):
        torch.testing.assert_close(got, want)


def test_pan_met_matrix_on_a_path_by_hand():
    pooler = PANPool(4, filter_size=2)
    (row, col), val = pooler.met_matrix(path_graph(3).edge_index, 3)
    dense = torch.zeros(3, 3).index_put_((row, col), val.detach())
    # 0.5 I + 0.25 A + 0.125 A^2, full rows (3 entries each) -> divided by 3
    expected = torch.tensor([[5, 2, 1], [2, 6, 2], [1, 2, 5]]) / 8 / 3
    torch.testing.assert_close(dense, expected)


def test_pan_matches_a_dense_met_computation():
    torch.manual_seed(0)
    pooler = PANPool(4, filter_size=3)
    with torch.no_grad():
        pooler.path_weight.copy_(torch.tensor([0.9, 0.7, 1.3, 0.4]))
    data = random_graph(11, p=0.25, seed=3)
    a = to_dense_adj(data.edge_index, max_num_nodes=11)[0].t()  # adj_t
    c = torch.cumprod(pooler.path_weight.detach(), 0)
    m = sum(c[n] * torch.linalg.matrix_power(a, n) for n in range(4))
    z = (m != 0).sum(1).float().rsqrt()
    m = z[:, None] * m * z[None, :]
    (row, col), val = pooler.met_matrix(data.edge_index, 11)
    dense = torch.zeros(11, 11).index_put_((row, col), val.detach())
    torch.testing.assert_close(dense, m)
    b = Batch.from_data_list([data])
    out = pooler(b.x, b.edge_index, None, b.batch)
    score = torch.tanh(0.5 * (b.x.sum(-1)) + 0.5 * m.sum(0))
    assert sorted(out.info["perm"].tolist()) == top_per_graph(score, b.batch, 0.5)
    perm = out.info["perm"]
    pooled = torch.zeros(perm.numel(), perm.numel())
    pooled.index_put_(tuple(out.edge_index), out.edge_weight.detach())
    torch.testing.assert_close(pooled, m.t()[perm][:, perm])


def sequential_greedy(edge_index, rank, n):
    free, match = [True] * n, torch.zeros(rank.numel(), dtype=torch.bool)
    for e in torch.argsort(rank).tolist():
        i, j = edge_index[:, e].tolist()
        if free[i] and free[j]:
            free[i] = free[j] = False
            match[e] = True
    return match


def test_greedy_matching_by_hand_and_against_the_sequential_loop():
    path = torch.tensor([[0, 1, 2], [1, 2, 3]])
    assert greedy_matching(path, torch.tensor([1, 0, 2]), 4).tolist() == [0, 1, 0]
    assert greedy_matching(path, torch.tensor([0, 2, 1]), 4).tolist() == [1, 0, 1]
    for seed in range(20):
        ei = random_graph(15, p=0.3, seed=seed).edge_index
        rank = torch.randperm(ei.size(1), generator=torch.Generator().manual_seed(seed))
        assert torch.equal(
            greedy_matching(ei, rank, 15), sequential_greedy(ei, rank, 15)
        )


def test_edgepool_isolated_nodes_and_ragged_last_batch():
    # PyG 1738 / 677: isolated (trailing) nodes and a small last graph.
    torch.manual_seed(0)
    pooler = EdgePool(4)
    b = Batch.from_data_list([with_isolated(), path_graph(3), single_node()])
    out = pooler(b.x, b.edge_index, None, b.batch)
    cluster = out.info["cluster"]
    assert out.batch.tolist() == sorted(out.batch.tolist())
    assert torch.bincount(out.batch).tolist() == [4, 2, 1]
    for node in (4, 5, 9):  # the two isolated nodes and the single node
        k = int(cluster[node])
        assert (cluster == k).sum() == 1 and out.info["score"][k] == 1
        torch.testing.assert_close(out.x[k], b.x[node])
    # every cluster is one node or the two ends of an edge
    sizes = torch.bincount(cluster)
    assert set(sizes.tolist()) <= {1, 2}
    assert (sizes == 2).sum() == 3  # a maximal matching of P4 + P3 has 2 + 1 edges


def test_edgepool_gated_sum_and_weighted_con():
    torch.manual_seed(0)
    pooler = EdgePool(4)
    data = with_weights(random_graph(10, p=0.4, seed=7), seed=1)
    b = Batch.from_data_list([data])
    out = pooler(b.x, b.edge_index, b.edge_weight, b.batch)
    cluster, gate = out.info["cluster"], out.info["score"]
    expected = scatter(b.x, cluster, 0, reduce="sum") * gate[:, None]
    torch.testing.assert_close(out.x, expected)
    s = torch.nn.functional.one_hot(cluster).float()
    a = to_dense_adj(b.edge_index, edge_attr=b.edge_weight, max_num_nodes=10)[0]
    a_pool = s.t() @ a @ s
    a_pool.fill_diagonal_(0)
    dense = to_dense_adj(
        out.edge_index, edge_attr=out.edge_weight, max_num_nodes=out.x.size(0)
    )
    torch.testing.assert_close(dense[0], a_pool)


def test_maxcut_loss_and_propagation_by_hand():
    ei = torch.tensor([[0, 1], [1, 0]])
    batch = torch.zeros(2, dtype=torch.long)
    w = torch.ones(2)
    assert maxcut_loss(torch.tensor([1.0, -1.0]), ei, w, batch, 1) == -1
    assert maxcut_loss(torch.tensor([1.0, 1.0]), ei, w, batch, 1) == 1
    # a second, edgeless graph contributes 0 to the mean
    z = torch.tensor([1.0, -1.0, 0.3]).requires_grad_(True)
    loss = maxcut_loss(z, ei, w, torch.tensor([0, 0, 1]), 2)
    loss.backward()
    assert loss == -0.5 and torch.isfinite(z.grad).all()
    index, weight = delta_propagation(ei, None, 2, delta=2.0)
    p = torch.zeros(2, 2).index_put_(tuple(index), weight)
    torch.testing.assert_close(p, torch.tensor([[-1.0, 2.0], [2.0, -1.0]]))


def test_maxcut_assignment_by_hand():
    # P5 (nodes 0..4) with kept nodes 4 then 0 (4 has the higher score), plus
    # an isolated node 5 in a second graph with kept node 6.
    ei = path_graph(5).edge_index
    batch = torch.tensor([0, 0, 0, 0, 0, 1, 1])
    perm = torch.tensor([4, 0, 6])
    pos = assign_dropped(perm, ei, batch, 2, max_iter=5)
    # node 2 ties (one neighbour in each): goes to the higher-scored kept node 4
    assert pos.tolist() == [1, 1, 0, 0, 0, 2, 2]
    pos = assign_dropped(perm, ei, batch, 2, max_iter=1)
    assert pos.tolist() == [1, 1, 0, 0, 0, 2, 2]  # node 2 falls back to the top node


def test_maxcut_pooled_graph_on_a_batch():
    torch.manual_seed(0)
    pooler = MaxCutPool(4, ratio=0.5)
    b = Batch.from_data_list([with_isolated(), random_graph(9, p=0.4, seed=2)])
    out = pooler(b.x, b.edge_index, None, b.batch)
    cluster = out.info["cluster"]
    assert (cluster >= 0).all()
    assert torch.equal(cluster[out.info["perm"]], torch.arange(out.x.size(0)))
    z = pooler.score_net(b.x, b.edge_index, None)
    torch.testing.assert_close(
        out.x, scatter(b.x * z[:, None], cluster, 0, reduce="sum")
    )
    if out.edge_weight.numel():
        top = scatter(out.edge_weight, out.batch[out.edge_index[0]], 0, reduce="max")
        torch.testing.assert_close(top[top > 0], torch.ones_like(top[top > 0]))


def test_sparse_random_selects_uniformly_and_reproducibly():
    pooler = SparseRandomPool(4, ratio=0.3)
    data = with_weights(random_graph(20, p=0.3, seed=0), seed=0)
    b = Batch.from_data_list([data, with_weights(path_graph(3))])
    torch.manual_seed(3)
    out = pooler(b.x, b.edge_index, b.edge_weight, b.batch)
    torch.manual_seed(3)
    again = pooler(b.x, b.edge_index, b.edge_weight, b.batch)
    assert torch.equal(out.info["perm"], again.info["perm"])
    assert torch.bincount(out.batch).tolist() == [6, 1]
    perm = out.info["perm"]
    assert torch.equal(out.x, b.x[perm])
    a = to_dense_adj(b.edge_index, edge_attr=b.edge_weight, max_num_nodes=23)[0]
    dense = to_dense_adj(out.edge_index, edge_attr=out.edge_weight, max_num_nodes=7)[0]
    torch.testing.assert_close(dense, a[perm][:, perm])
    hits = torch.zeros(23)
    for _ in range(200):
        hits[pooler(b.x, b.edge_index, None, b.batch).info["perm"]] += 1
    assert (hits[:20] > 30).all() and (hits[:20] < 90).all()  # ~60 each


NO_EXTENSIONS = """
import sys
sys.modules["torch_scatter"] = None
sys.modules["torch_sparse"] = None
import torch
from torch_geometric.data import Batch
from poolbench.pooling.registry import get_pooler
from tests.pooling.graphs import random_graph, with_weights
graphs = [with_weights(random_graph(9, p=0.4, seed=s)) for s in range(3)]
b = Batch.from_data_list(graphs)
for name in ["sag", "asap", "pan", "edgepool", "maxcut", "sparse_random"]:
    torch.manual_seed(0)
    pooler = get_pooler(name)(4, ratio=0.5)
    for ew in (None, b.edge_weight):
        x = b.x.clone().requires_grad_(True)
        out = pooler(x, b.edge_index, ew, b.batch)
        loss = out.x.sum() + sum(out.aux_loss.values(), torch.tensor(0.0))
        loss.backward()
print("ok")
"""


def test_runs_without_torch_scatter_and_torch_sparse():
    res = subprocess.run(
        [sys.executable, "-c", NO_EXTENSIONS],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stderr[-2000:]


def test_maxcut_propagation_conv_equals_pyg_gcnconv_without_normalisation():
    from torch_geometric.nn import GCNConv

    from poolbench.pooling.poolers.maxcut import PropagationConv

    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 5, generator=g)
    edge_index = torch.randint(0, 12, (2, 40), generator=g)
    weight = torch.randn(40, generator=g)
    torch.manual_seed(0)
    ours = PropagationConv(5, 3)
    pyg = GCNConv(5, 3, normalize=False)
    pyg.load_state_dict(ours.state_dict())  # same parameters, same names
    torch.testing.assert_close(ours(x, edge_index, weight), pyg(x, edge_index, weight))
