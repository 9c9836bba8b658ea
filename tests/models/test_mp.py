"""MP layers: the block-form path after a dense pooler equals the edge path."""

from __future__ import annotations

import pytest
import torch

from poolbench.models.hierarchical import HierarchicalGNN
from poolbench.models.mp import MP_KINDS, dense_aggregate, edge_aggregate, make_mp
from poolbench.pooling.dense import from_padded
from tests.models.test_hierarchical import batch, factory, forward


def block_graph(b: int = 3, k: int = 4, f: int = 5):
    """A dense pooled batch: B graphs of K supernodes, a directed weighted A'."""
    g = torch.Generator().manual_seed(0)
    adj = torch.rand(b, k, k, generator=g) * (torch.rand(b, k, k, generator=g) > 0.3)
    x = torch.randn(b, k, f, generator=g)
    return from_padded(x, adj), adj


@pytest.mark.parametrize("kind", MP_KINDS)
def test_block_form_aggregation_equals_the_edge_path(kind):
    (x, edge_index, edge_weight, _), adj = block_graph()
    torch.manual_seed(0)
    layer = make_mp(kind, x.size(1), 6)
    by_edges = layer(x, edge_index, edge_weight)
    by_blocks = layer(x, edge_index, edge_weight, dense_adj=adj)
    torch.testing.assert_close(by_blocks, by_edges, atol=1e-5, rtol=1e-5)


def test_block_form_follows_the_edge_direction():
    # one edge 0 -> 1 of weight 2: node 1 receives 2 * x_0, node 0 nothing
    adj = torch.zeros(1, 2, 2)
    adj[0, 0, 1] = 2.0
    x = torch.tensor([[1.0], [10.0]])
    assert dense_aggregate(x, adj).view(-1).tolist() == [0.0, 2.0]


@pytest.mark.parametrize("pooler", ["mincut", "diffpool"])
def test_model_after_a_dense_pooler_is_unchanged_by_the_block_path(pooler, monkeypatch):
    b = batch()
    torch.manual_seed(0)
    model = HierarchicalGNN(4, 3, factory(pooler), 8.0, blocks=[1, 2])
    fast = forward(model, b)
    # without the block form the layers fall back to the edges
    cls = type(model.poolers[0])
    plain_forward = cls.forward

    def without_block_form(self, *args, **kwargs):
        out = plain_forward(self, *args, **kwargs)
        out.info.pop("dense_adj")
        return out

    monkeypatch.setattr(cls, "forward", without_block_form)
    slow = forward(model, b)
    torch.testing.assert_close(fast.logits, slow.logits, atol=1e-5, rtol=1e-5)


def test_edge_aggregation_equals_pyg_message_passing():
    """The GIN's own sum over edges is what PyG's propagate computes."""
    from torch_geometric.nn import SimpleConv

    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 5, generator=g)
    edge_index = torch.randint(0, 30, (2, 90), generator=g)
    weight = torch.rand(90, generator=g)
    conv = SimpleConv(aggr="sum")
    for w in (weight, None):
        want = conv(x, edge_index, w)
        torch.testing.assert_close(edge_aggregate(x, edge_index, w), want)
    # no in-edges: zeros, and the row count follows x, not the edges
    assert edge_aggregate(x, edge_index[:, :0], None).abs().sum() == 0


def dense_loop_free_graph(n: int = 9, f: int = 5):
    """A weighted, directed graph with most of its N^2 entries stored, no
    self-loops, one node without in-edges and one parallel edge."""
    g = torch.Generator().manual_seed(1)
    keep = (torch.rand(n, n, generator=g) > 0.2) & ~torch.eye(n, dtype=torch.bool)
    keep[:, 0] = False  # node 0 receives nothing: only its own self-loop
    source, target = keep.nonzero().t()
    edge_index = torch.cat([torch.stack([source, target]), torch.tensor([[1], [2]])], 1)
    edge_weight = torch.rand(edge_index.size(1), generator=g).requires_grad_()
    x = torch.randn(n, f, generator=g).requires_grad_()
    return x, edge_index, edge_weight


def test_gcn_on_a_dense_graph_takes_the_matrix_path_and_equals_pyg(monkeypatch):
    from torch_geometric.nn import GCNConv

    from poolbench.models.mp import EdgeGCNConv
    from poolbench.pooling import dense

    monkeypatch.setattr(dense, "DENSE_MIN_NODES", 0)  # a small graph will do
    x, edge_index, edge_weight = dense_loop_free_graph()
    torch.manual_seed(0)
    ours = EdgeGCNConv(5, 4)
    reference = GCNConv(5, 4)
    reference.load_state_dict(ours.state_dict())
    taken = []
    dense = EdgeGCNConv._dense_forward
    monkeypatch.setattr(
        EdgeGCNConv, "_dense_forward", lambda *a: taken.append(1) or dense(*a)
    )
    got = ours(x, edge_index, edge_weight)
    want = reference(x, edge_index, edge_weight)
    assert taken == [1]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    grads = torch.autograd.grad(got.square().sum(), [x, edge_weight, ours.lin.weight])
    wants = torch.autograd.grad(
        want.square().sum(), [x, edge_weight, reference.lin.weight]
    )
    for a, b in zip(grads, wants):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    # a self-loop present: PyG's own path (it keeps the loop's weight)
    looped = torch.cat([edge_index, torch.tensor([[3], [3]])], 1)
    weights = torch.cat([edge_weight, torch.tensor([5.0])])
    torch.testing.assert_close(
        ours(x, looped, weights), reference(x, looped, weights), atol=1e-5, rtol=1e-5
    )
    assert taken == [1]
