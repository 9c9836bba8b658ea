"""Graph regression: fold statistics from training graphs only, units, metrics."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from poolbench.data.splits import Split
from poolbench.tasks.graph import GraphRegression


class Fixed(torch.nn.Module):
    """A 'model' that predicts given standardised values, batch by batch."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs = outputs

    def forward(self, x, edge_index, edge_weight, batch, num_graphs):
        return SimpleNamespace(logits=self.outputs.pop(0), aux_loss={})


def batch(y):
    n = len(y)
    return SimpleNamespace(
        x=torch.zeros(n, 1), edge_index=torch.zeros(2, 0).long(), edge_weight=None,
        batch=torch.arange(n), num_graphs=n, y=torch.tensor(y).view(-1, 1),
        to=lambda device: batch(y),
    )  # fmt: skip


def test_fold_statistics_come_from_training_graphs_only():
    targets = torch.tensor([[1.0], [3.0], [100.0], [-50.0]])
    task = GraphRegression(targets).for_split(Split([0, 1], [2], [3]))
    assert task.mean.tolist() == [2.0] and task.std.tolist() == [1.0]
    # a constant training target is left unscaled, never divided by zero
    flat = GraphRegression(torch.tensor([[5.0], [5.0], [9.0]])).for_split(
        Split([0, 1], [], [2])
    )
    assert flat.std.tolist() == [1.0]


def test_rmse_and_mae_are_in_the_targets_units():
    targets = torch.tensor([[10.0], [14.0], [0.0], [0.0]])
    task = GraphRegression(targets).for_split(Split([0, 1], [2], [3]))  # mean 12, std 2
    # predictions 0 and 1 in standard units are 12 and 14; targets 11 and 17
    model = Fixed([torch.tensor([[0.0], [1.0]])])
    m = task.evaluate(model, [batch([11.0, 17.0])], torch.device("cpu"))
    assert m.scores["mae"] == pytest.approx((1 + 3) / 2)
    assert m.scores["rmse"] == pytest.approx(math.sqrt((1 + 9) / 2))
    # the loss is the MSE in standard units: errors 0.5 and 1.5
    assert m.loss == pytest.approx((0.25 + 2.25) / 2)


def test_training_objective_and_tally_agree_with_the_metrics():
    targets = torch.tensor([[10.0], [14.0]])
    task = GraphRegression(targets).for_split(Split([0, 1], [], []))
    out = SimpleNamespace(logits=torch.tensor([[0.0], [1.0]]), aux_loss={})
    b = batch([11.0, 17.0])
    assert task.loss(out, b).item() == pytest.approx(1.25)
    assert task.train_score([task.tally(out, b)]) == pytest.approx(math.sqrt(5))
