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
