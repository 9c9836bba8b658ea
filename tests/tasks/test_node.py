"""Node level: random per-class splits, and the Graph U-Net over every pooler."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poolbench.models.unet import GraphUNet, two_hop
from poolbench.pooling import discover
from poolbench.tasks.node import random_node_splits
from tests.pooling.graphs import random_graph

REGISTRY = discover()


def test_random_splits_take_the_asked_nodes_per_class():
    labels = np.repeat([0, 1, 2], [40, 50, 60])
    splits = random_node_splits(labels, 3, 5, 7, seed=0)
    assert len(splits) == 3
    for s in splits:
        assert all(np.sum(labels[s.train] == c) == 5 for c in range(3))
        assert all(np.sum(labels[s.val] == c) == 7 for c in range(3))
        assert len(set(s.train) | set(s.val) | set(s.test)) == len(labels)
        assert not set(s.train) & set(s.test) and not set(s.val) & set(s.test)
    assert splits[0].train != splits[1].train  # each split draws its own nodes
    assert random_node_splits(labels, 3, 5, 7, seed=0) == splits  # seeded


def test_two_hop_adds_the_neighbours_of_neighbours():
    path = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    ei, w = two_hop(path, None, 4)
    pairs = set(map(tuple, ei.t().tolist()))
    assert (0, 2) in pairs and (1, 3) in pairs and (0, 3) not in pairs
    assert all(i != j for i, j in pairs)
    # (A + I)^2 counts the walks: 0-1 has two (0-0-1 and 0-1-1), 0-2 one
    weight = dict(zip(map(tuple, ei.t().tolist()), w.tolist()))
    assert weight[(0, 1)] == 2.0 and weight[(0, 2)] == 1.0


def unet(name: str, n: int, **kw) -> GraphUNet:
    cls = REGISTRY[name]
    torch.manual_seed(0)
    return GraphUNet(
        3, 4,
        lambda level, c, avg, ratio: cls(in_channels=c, ratio=ratio, avg_nodes=avg),
        n, depth=2, ratios=[0.5, 0.5], hidden=8, **kw,
    )  # fmt: skip


@pytest.mark.parametrize("name", REGISTRY)
def test_unet_classifies_every_node_and_trains_with_any_pooler(name):
    g = random_graph(24, p=0.2, seed=3)
    x = torch.randn(24, 3)
    model = unet(name, 24)
    out = model(x, g.edge_index, None, torch.zeros(24, dtype=torch.long))
    assert out.logits.shape == (24, 4) and torch.isfinite(out.logits).all()
    assert len(out.pooled_nodes) == 2
    loss = out.logits.pow(2).mean() + sum(out.aux_loss.values(), torch.tensor(0.0))
    loss.backward()
    assert any(p.grad is not None for p in model.first.parameters())


def test_concat_skip_and_augmented_connectivity_run():
    g = random_graph(20, p=0.2, seed=1)
    for kw in ({"skip": "concat"}, {"augment": True}):
        out = unet("topk", 20, **kw)(
            torch.randn(20, 3), g.edge_index, None, torch.zeros(20, dtype=torch.long)
        )
        assert out.logits.shape == (20, 4)


def test_the_identity_pooler_keeps_every_node_at_every_level():
    g = random_graph(12, p=0.3, seed=2)
    model = unet("none", 12)
    out = model(torch.randn(12, 3), g.edge_index, None, torch.zeros(12).long())
    assert out.pooled_nodes == [12, 12]


def test_bad_unet_shapes_are_refused():
    with pytest.raises(ValueError, match="one ratio per level"):
        GraphUNet(3, 2, None, 10, depth=2, ratios=[0.5])
    with pytest.raises(ValueError, match="skip"):
        GraphUNet(3, 2, None, 10, depth=1, ratios=[0.5], skip="avg")


def test_head_dropout_is_apart_from_the_input_dropout():
    g = random_graph(16, p=0.3, seed=4)
    x, batch = torch.randn(16, 3), torch.zeros(16, dtype=torch.long)
    # every classifier input dropped in training: each logit is the bias
    model = unet("none", 16, dropout=0.0, head_dropout=1.0).train()
    out = model(x, g.edge_index, None, batch)
    assert torch.equal(out.logits, model.head.bias.expand(16, 4))
    # unset, it follows dropout (as before the key existed)
    same = unet("none", 16, dropout=0.3)
    assert same.head_dropout.p == 0.3
    apart = unet("none", 16, dropout=0.92, head_dropout=0.0)
    assert (apart.dropout.p, apart.head_dropout.p) == (0.92, 0.0)
