"""Graph-level tasks: MP and pooling alternate, a readout gives one vector per graph.

The kind of target comes from the dataset (``GraphDataset.target``), never
from a flag: class labels make :class:`GraphClassification` (cross-entropy,
accuracy from accumulated predictions), real values make
:class:`GraphRegression` (MSE on targets standardised with the statistics of
the fold's training split only; RMSE and MAE in the original units).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from poolbench.data.splits import load_or_build_splits, splits_path
from poolbench.errors import PoolbenchError
from poolbench.results.row import family
from poolbench.tasks.base import Metrics, Task, aux_total
from poolbench.tasks.config import SPLITS, scaffold_refused


def forward_graphs(model: nn.Module, batch):
    """The hierarchical model on a batch of graphs (PyG ``Batch`` or packed)."""
    # Precomputed pooled topologies ride on packed batches only.
    topology = getattr(batch, "topology", None)
    extra = {"topology": topology} if topology is not None else {}
    return model(
        batch.x,
        batch.edge_index,
        getattr(batch, "edge_weight", None),
        batch.batch,
        batch.num_graphs,
        **extra,
    )


def placed(loader: Iterable, device: torch.device) -> Iterable:
    """A packed loader moved to ``device`` once (it then builds batches there);
    any other loader as it is, its batches moved one by one."""
    on = getattr(loader, "on", None)
    return on(device) if callable(on) else loader


def autocast(cfg, device: torch.device):
    """bf16 autocast when ``trainer.amp`` (CUDA only, refused earlier on CPU)."""
    enabled = bool(cfg is not None and cfg.amp and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


class GraphLevel(Task):
    """What both graph tasks share: folds over graphs, batches of graphs."""

    name = "graph"
    # protocol.split values this task accepts; "auto" becomes the first
    split_kinds: tuple[str, ...] = ()

    def split_kind(self, asked: str) -> str:
        if asked == "auto":
            return self.split_kinds[0]
        if asked not in self.split_kinds:
            raise PoolbenchError(
                f"protocol.split={asked} does not apply to {self.describe()}; "
                f"use one of auto, {', '.join(self.split_kinds)}"
            )
        return asked

    def splits(self, exp) -> list:
        p = exp.cfg.protocol
        kind = self.split_kind(p.get("split", "auto"))
        groups = exp.dataset.groups
        if kind == "scaffold" and groups is None:
            raise scaffold_refused(exp.dataset.name)
        labels = exp.dataset.labels.numpy()
        seed = int(exp.cfg.seed)
        path = splits_path(
            exp.cfg.data.root, exp.dataset.name, p.folds, p.val_size, seed,
            p.test_size, kind,
        )  # fmt: skip
        return load_or_build_splits(
            path, labels, p.folds, p.val_size, seed, p.test_size, kind, groups
        )

    def loaders(self, exp, split, generator):
        """Train (shuffled by ``generator``), validation and test batches."""
        return (
            exp.loader(split.train, shuffle=True, generator=generator),
            exp.loader(split.val, shuffle=False, generator=None),
            exp.loader(split.test, shuffle=False, generator=None),
        )

    def forward(self, model, batch):
        return forward_graphs(model, batch)

    def has_own_model(self, model) -> bool:
        return "_target_" in model

    def model_name(self, model) -> str:
        if self.has_own_model(model):  # the class name, e.g. ErricaDiffPool
            return str(model._target_).rsplit(".", 1)[-1]
        return super().model_name(model)

    def build_model(self, exp) -> nn.Module:
        if self.has_own_model(exp.cfg.model):
            return exp.own_model()
        return exp.hierarchical_model()


class GraphClassification(GraphLevel):
    metrics = family("acc")
    split_kinds = SPLITS[("graph", "classification")]

    def describe(self) -> str:
        return "graph classification"

    def loss(self, out, batch) -> Tensor:
        return F.cross_entropy(out.logits, batch.y.view(-1)) + aux_total(out)

    def tally(self, out, batch) -> tuple:
        return out.logits.detach(), batch.y

    def train_score(self, tallies: list) -> float:
        if not tallies:
            return math.nan
        logits = torch.cat([logits for logits, _ in tallies])
        y = torch.cat([y.view(-1) for _, y in tallies])
        return int((logits.argmax(-1) == y).sum()) / max(y.numel(), 1)

    @torch.no_grad()
    def evaluate(self, model, loader, device, cfg=None) -> Metrics:
        """Loss and accuracy from accumulated predictions: batch size free."""
        model.eval()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        total = 0
        for batch in placed(loader, device):
            batch = batch.to(device)
            with autocast(cfg, device):
                out = self.forward(model, batch)
            y = batch.y.view(-1)
            loss_sum += F.cross_entropy(out.logits.float(), y, reduction="sum")
            correct += (out.logits.argmax(-1) == y).sum()
            total += y.numel()
        total = max(total, 1)
        return Metrics(float(loss_sum) / total, {"acc": float(correct) / total})


class GraphRegression(GraphLevel):
    """Real targets ``[B, T]``; the model predicts them standardised.

    ``mean`` and ``std`` ``[T]`` come from the fold's training graphs only
    (:meth:`for_split`), so no validation or test target shapes the scale.
    Folds are plain k-fold (stratifying a real value means nothing) or by
    molecular scaffold.
    """

    split_kinds = SPLITS[("graph", "regression")]
    metrics = family("rmse")

    def __init__(self, targets: Tensor | None = None, mean=None, std=None):
        self.targets = targets  # [G, T] of the whole dataset, for fold statistics
        self.mean = mean
        self.std = std

    def describe(self) -> str:
        return "graph regression"

    def for_split(self, split) -> GraphRegression:
        train = self.targets[torch.as_tensor(split.train)].double()
        std = train.std(0, unbiased=False)
        # a constant target gives std 0: leave it unscaled rather than divide by 0
        std = torch.where(std > 0, std, torch.ones_like(std))
        return GraphRegression(self.targets, train.mean(0).float(), std.float())

    def _standard(self, y: Tensor, like: Tensor) -> Tensor:
        # at least float32: under trainer.amp the predictions are bf16, and
        # targets rounded to bf16 keep about 3 significant digits
        y = y.view(like.shape).to(torch.promote_types(like.dtype, torch.float32))
        return (y - self.mean.to(like.device)) / self.std.to(like.device)

    def loss(self, out, batch) -> Tensor:
        pred = out.logits.to(torch.promote_types(out.logits.dtype, torch.float32))
        return F.mse_loss(pred, self._standard(batch.y, pred)) + aux_total(out)

    def tally(self, out, batch) -> tuple:
        return out.logits.detach(), batch.y

    def train_score(self, tallies: list) -> float:
        """RMSE in the target's units over the epoch's training batches."""
        if not tallies:
            return math.nan
        pred = torch.cat([p.float() for p, _ in tallies])
        y = torch.cat([y.view(p.shape) for p, y in tallies])
        err = (pred - self._standard(y, pred)).double() * self.std.to(pred.device)
        return math.sqrt(float(err.pow(2).sum()) / max(err.numel(), 1))

    @torch.no_grad()
    def evaluate(self, model, loader, device, cfg=None) -> Metrics:
        """Standardised MSE as the loss; RMSE and MAE in the target's units."""
        model.eval()
        std = self.std.to(device)
        sq = torch.zeros((), device=device, dtype=torch.float64)
        ab = torch.zeros((), device=device, dtype=torch.float64)
        sq_std = torch.zeros((), device=device, dtype=torch.float64)
        total = 0
        for batch in placed(loader, device):
            batch = batch.to(device)
            with autocast(cfg, device):
                out = self.forward(model, batch)
            pred = out.logits.float()
            diff = pred - self._standard(batch.y, pred)
            sq_std += diff.pow(2).sum()
            err = diff * std
            sq += err.pow(2).sum()
            ab += err.abs().sum()
            total += err.numel()
        total = max(total, 1)
        return Metrics(
            float(sq_std) / total,
            {"rmse": math.sqrt(float(sq) / total), "mae": float(ab) / total},
        )
