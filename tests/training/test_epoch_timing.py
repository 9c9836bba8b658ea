"""sec_per_epoch times the training pass only, as the table's title says.

A fake clock makes this exact, not a timing measurement: it moves 1 s per
training batch and 100 s per validation pass, so the result shows which of
the two went into the number.
"""

from __future__ import annotations

import types

import torch
from torch_geometric.loader import DataLoader

from poolbench.models.hierarchical import HierarchicalGNN
from poolbench.pooling import get_pooler
from poolbench.tasks.graph import GraphClassification
from poolbench.training import trainer
from poolbench.training.trainer import TrainerConfig, fit

CPU = torch.device("cpu")


def test_sec_per_epoch_leaves_the_validation_pass_out(mutag, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(
        trainer, "time", types.SimpleNamespace(perf_counter=lambda: clock[0])
    )

    class Clocked(GraphClassification):
        def forward(self, model, batch):
            if model.training:
                clock[0] += 1.0
            return super().forward(model, batch)

        def evaluate(self, *args, **kwargs):
            clock[0] += 100.0
            return super().evaluate(*args, **kwargs)

    torch.manual_seed(0)
    model = HierarchicalGNN(
        7,
        2,
        lambda level, c, n: get_pooler("topk")(in_channels=c, ratio=0.5, avg_nodes=n),
        avg_nodes=18,
        blocks=[1, 1],
        hidden=8,
    )
    train = DataLoader(mutag.graphs[:40], batch_size=16)  # 3 batches per epoch
    val = DataLoader(mutag.graphs[40:60], batch_size=16)
    cfg = TrainerConfig(max_epochs=3, patience=3)
    res = fit(model, train, val, cfg, CPU, task=Clocked())
    assert res.epochs == 3
    assert res.sec_per_epoch == 3.0  # 3 training batches; 103 if validation counted
