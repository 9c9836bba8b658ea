"""What every task tells the trainer and the protocol: loss, metrics, monitors.

A task is one layer above the model. It decides which datasets it accepts,
the model shape, the training loss, the metrics and the splits; the poolers
and MP layers are the same objects in every task. The trainer
(:func:`poolbench.training.trainer.fit`) asks its task for the forward pass,
the loss and the validation metrics, and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor, nn

from poolbench.errors import PoolbenchError
from poolbench.results.row import MetricInfo


@dataclass
class Metrics:
    """Mean loss and named scores of one pass over a split."""

    loss: float
    scores: dict[str, float] = field(default_factory=dict)
    # (nodes in, pooled nodes) where the task counts them on the scored pass
    # itself rather than over training (community: the clusters that hold
    # any node, also for the untrained baselines)
    sizes: tuple[float, float] | None = None

    @property
    def acc(self) -> float:
        return self.scores.get("acc", math.nan)

    def value(self, monitor: str) -> float:
        """``val_loss`` -> the loss; ``val_<name>`` -> that score."""
        name = monitor.removeprefix("val_")
        return self.loss if name == "loss" else self.scores[name]


class Task:
    """One downstream task. Subclasses set ``name`` and ``metrics`` and
    implement the hooks; ``metrics[0]`` is the task's headline score."""

    name: ClassVar[str]
    # family(headline): names and directions come from results/row.METRICS
    metrics: tuple[MetricInfo, ...] = ()
    # False where the task has no labelled validation split (community):
    # then training runs its epochs and the last one is kept.
    supervised: ClassVar[bool] = True

    # --- what the protocol asks -------------------------------------------
    @property
    def primary(self) -> MetricInfo:
        return self.metrics[0]

    def monitors(self) -> list[str]:
        """Valid ``trainer.monitor`` and ``protocol.select_on`` values."""
        return ["val_loss"] + [f"val_{m.name}" for m in self.metrics]

    def higher_is_better(self, monitor: str) -> bool:
        name = monitor.removeprefix("val_")
        if name == "loss":
            return False
        return next(m.higher_is_better for m in self.metrics if m.name == name)

    def resolve_select_on(self, select_on: str) -> str:
        """``auto`` is the headline metric on validation."""
        return f"val_{self.primary.name}" if select_on == "auto" else select_on

    def check_monitor(self, key: str, monitor: str) -> None:
        if monitor not in self.monitors():
            raise PoolbenchError(
                f"{key}={monitor} does not apply to {self.describe()}; "
                f"use one of {', '.join(self.monitors())}"
            )

    def describe(self) -> str:
        return f"task={self.name}"

    def check(self, exp) -> None:
        """What only the loaded data and the pooler class can tell; raises
        PoolbenchError before any work (the config was checked before)."""

    def trains(self, exp) -> bool:
        """False when there is nothing to train (a clustering baseline)."""
        return True

    @property
    def train_metric(self) -> str | None:
        """The score tallied on training batches (None: no labels in training)."""
        return self.primary.name

    def first_level_k(self, exp) -> int:
        """Supernodes per graph at the first pooling level (for memory checks)."""
        return max(1, math.ceil(exp.cfg.model.pool_ratio * exp.dataset.avg_nodes))

    def build_model(self, exp) -> nn.Module:
        raise NotImplementedError

    def has_own_model(self, model) -> bool:
        """True when ``model._target_`` names a whole model of its own (a
        paper's, e.g. Errica et al.'s DiffPool) instead of poolbench's."""
        return False

    def model_name(self, model) -> str:
        """The results' ``model`` column: MP kind, blocks, width."""
        blocks = "-".join(str(b) for b in model.blocks)
        return f"{model.mp}[{blocks}]h{model.hidden}"

    def untrained_name(self) -> str:
        """The ``model`` column when :meth:`trains` is False: no MP model runs."""
        return "untrained"

    # --- what the trainer asks --------------------------------------------
    def for_split(self, split) -> Task:
        """The task as one fold sees it (e.g. target statistics of its train
        split); the task itself when nothing depends on the split."""
        return self

    def forward(self, model: nn.Module, batch):
        raise NotImplementedError

    def loss(self, out, batch) -> Tensor:
        """The training objective, auxiliary losses included."""
        raise NotImplementedError

    def tally(self, out, batch) -> tuple:
        """What the training score needs from one batch: detached tensors kept
        until the epoch ends, so a step launches no extra kernel for it."""
        raise NotImplementedError

    def train_score(self, tallies: list) -> float:
        """The training score of an epoch from its batches' :meth:`tally`."""
        raise NotImplementedError

    @torch.no_grad()
    def evaluate(self, model: nn.Module, loader: Iterable, device, cfg=None):
        raise NotImplementedError


def aux_total(out) -> Tensor | float:
    """The sum of a model output's (already weighted) auxiliary losses."""
    total = 0.0
    for value in out.aux_loss.values():
        total = total + value
    return total
