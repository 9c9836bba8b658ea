"""A pooler's first outputs are checked against what the model relies on: a
wrong batch vector or a declared loss left out would otherwise train "ok"."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch

from poolbench.pooling import Pooler, PoolOutput
from tests.pooling.graphs import random_graph


class Keep(Pooler):
    """Keeps every node; ``batch_of`` and ``losses`` say what it returns."""

    family = "control"

    def __init__(self, batch_of=lambda b: b, losses=None, has_aux=False):
        super().__init__(4)
        self.batch_of, self.losses = batch_of, losses or {}
        self.has_aux_loss = has_aux

    def forward(self, x, edge_index, edge_weight, batch):
        return PoolOutput(x, edge_index, edge_weight, self.batch_of(batch),
                          aux_loss=dict(self.losses))  # fmt: skip


def run(pooler):
    b = Batch.from_data_list([random_graph(n, seed=n) for n in (5, 4, 6)])
    return pooler(b.x, b.edge_index, None, b.batch)


def test_a_correct_pooler_is_checked_once_then_left_alone():
    pooler = Keep()
    run(pooler)
    assert not pooler._forward_hooks  # no cost after the first training step
    pooler.batch_of = torch.zeros_like
    run(pooler)  # not checked again


@pytest.mark.parametrize(
    "batch_of, message",
    [
        (torch.zeros_like, "no pooled node for 2 of the input graphs"),
        (lambda b: b.flip(0), "graph by graph"),
    ],
)
def test_a_batch_vector_that_loses_or_mixes_graphs_is_refused(batch_of, message):
    with pytest.raises(ValueError, match=message):
        run(Keep(batch_of=batch_of))


def test_declared_losses_must_come_back_in_training_and_only_those():
    with pytest.raises(ValueError, match="declares auxiliary losses but returned none"):
        run(Keep(has_aux=True))
    with pytest.raises(ValueError, match="set has_aux_loss = True"):
        run(Keep(losses={"entropy": torch.tensor(0.5)}))
    # in evaluation a pooler may skip its losses: checked at its first training step
    pooler = Keep(has_aux=True).eval()
    run(pooler)
    assert pooler._forward_hooks
    run(Keep(has_aux=True, losses={"entropy": torch.tensor(0.5)}))
