"""One run: fit on train with early stopping on validation, then test once.

Test data is never seen by :func:`fit`: selection of the best epoch and early
stopping read validation only; :func:`evaluate` on test runs after ``fit``
returns, on the best-validation weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from poolbench.errors import RunFailure

EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass
class TrainerConfig:
    """Optimisation settings of one run (``conf/trainer``)."""

    max_epochs: int = 300
    patience: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 0.0
    monitor: str = "val_loss"
    threads: int = 1
    # Speed levers; none changes what a run computes on the CPU (tested).
    fast_data: bool = True  # packed tensors batched by index, not PyG collation
    precompute: bool = True  # topology poolers: pooled graphs cached per dataset
    compile: bool = False  # torch.compile the model (CUDA only)
    amp: bool = False  # bf16 autocast (CUDA only)

    def __post_init__(self) -> None:
        from poolbench.errors import PoolbenchError

        if self.max_epochs < 1:
            raise PoolbenchError(
                f"trainer.max_epochs must be ≥ 1, got {self.max_epochs}"
            )
        if self.patience < 1:
            raise PoolbenchError(f"trainer.patience must be ≥ 1, got {self.patience}")
        if self.batch_size < 1:
            raise PoolbenchError(
                f"trainer.batch_size must be ≥ 1, got {self.batch_size}"
            )
        if self.lr <= 0:
            raise PoolbenchError(f"trainer.lr must be > 0, got {self.lr}")
        if self.monitor not in ("val_loss", "val_acc"):
            raise PoolbenchError("trainer.monitor must be val_loss or val_acc")


@dataclass
class Metrics:
    loss: float
    acc: float


@dataclass
class FitResult:
    best_epoch: int
    epochs: int
    train_acc: float
    val: Metrics
    sec_per_epoch: float
    avg_nodes_in: float
    avg_nodes_pooled: float
    history: list[dict[str, float]] = field(default_factory=list)


def _forward(model: nn.Module, batch):
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


def autocast(cfg: TrainerConfig | None, device: torch.device):
    """bf16 autocast when ``trainer.amp`` (CUDA only, refused earlier on CPU)."""
    enabled = bool(cfg is not None and cfg.amp and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def objective(out, y):
    """The training loss: cross-entropy plus every (already weighted) aux loss."""
    loss = F.cross_entropy(out.logits, y)
    for aux in out.aux_loss.values():
        loss = loss + aux
    return loss


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Iterable,
    device: torch.device,
    cfg: TrainerConfig | None = None,
) -> Metrics:
    """Loss and accuracy from accumulated predictions: independent of batch size."""
    model.eval()
    loader = placed(loader, device)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    total = 0
    for batch in loader:
        batch = batch.to(device)
        with autocast(cfg, device):
            out = _forward(model, batch)
        y = batch.y.view(-1)
        loss_sum += F.cross_entropy(out.logits.float(), y, reduction="sum")
        correct += (out.logits.argmax(-1) == y).sum()
        total += y.numel()
    return Metrics(
        loss=float(loss_sum) / max(total, 1), acc=float(correct) / max(total, 1)
    )


def make_optimizer(model: nn.Module, cfg: TrainerConfig, device: torch.device):
    """Adam, fused where torch has the kernel: on the CPU one fused step costs a
    fifth of the per-tensor loop over these many small parameters (equal to it
    within float rounding, ~1e-8 after 50 steps)."""
    fused = device.type in ("cpu", "cuda")
    return torch.optim.Adam(
        model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused
    )


def _better(monitor: str, value: float, best: float) -> bool:
    return value < best if monitor == "val_loss" else value > best


def fit(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable,
    cfg: TrainerConfig,
    device: torch.device,
    on_epoch: EpochCallback | None = None,
) -> FitResult:
    """Train with early stopping; leaves ``model`` holding the best-val weights.

    Raises:
        RunFailure: status ``nan`` when the loss or gradients stop being finite.
    """
    opt = make_optimizer(model, cfg, device)
    params = [p for group in opt.param_groups for p in group["params"]]
    train_loader = placed(train_loader, device)
    val_loader = placed(val_loader, device)
    # The compiled wrapper shares parameters with ``model``; state is read from
    # ``model`` so checkpoints never carry the wrapper's key prefix.
    step_model = torch.compile(model, dynamic=True) if cfg.compile else model
    best = math.inf if cfg.monitor == "val_loss" else -math.inf
    best_state, best_epoch, best_val, best_train_acc = None, -1, None, float("nan")
    epoch_times, history = [], []
    nodes_sum, pooled_sum, graphs_seen = 0, 0, 0
    stale = 0
    for epoch in range(cfg.max_epochs):
        start = time.perf_counter()
        model.train()
        # Accumulated on the device: no host sync inside the batch loop.
        correct = torch.zeros((), device=device, dtype=torch.long)
        finite = torch.ones((), device=device, dtype=torch.bool)
        aux_sums: dict[str, torch.Tensor] = {}
        seen = steps = 0
        for batch in train_loader:
            batch = batch.to(device)
            with autocast(cfg, device):
                out = _forward(step_model, batch)
                y = batch.y.view(-1)
                loss = objective(out, y)
            for p in params:  # zero_grad(set_to_none=True), without its wrapper
                p.grad = None
            loss.backward()
            if cfg.grad_clip > 0:
                norm = nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                finite &= torch.isfinite(norm)
            finite &= torch.isfinite(loss)
            opt.step()
            correct += (out.logits.detach().argmax(-1) == y).sum()
            seen += y.numel()
            for name, value in out.aux_loss.items():
                aux_sums[name] = aux_sums.get(name, 0.0) + value.detach()
            nodes_sum += batch.num_nodes
            pooled_sum += out.pooled_nodes[-1] if out.pooled_nodes else batch.num_nodes
            graphs_seen += batch.num_graphs
            steps += 1
        if not bool(finite):
            raise RunFailure("nan", f"non-finite loss or gradient in epoch {epoch}")
        train_acc = float(correct) / max(seen, 1)
        val = evaluate(step_model, val_loader, device, cfg)
        if not math.isfinite(val.loss):
            raise RunFailure("nan", f"non-finite validation loss in epoch {epoch}")
        epoch_times.append(time.perf_counter() - start)
        value = val.loss if cfg.monitor == "val_loss" else val.acc
        record = {"train_acc": train_acc, "val_loss": val.loss, "val_acc": val.acc}
        # each aux term on its own, so a loss that dominates or vanishes shows
        for name, total in aux_sums.items():
            record[f"aux/{name}"] = float(total) / max(steps, 1)
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, record)
        if _better(cfg.monitor, value, best):
            best, best_epoch, best_val, best_train_acc = value, epoch, val, train_acc
            # plain tensor clones: a third of deepcopy's cost, paid every improvement
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            stale = 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    assert best_state is not None and best_val is not None
    model.load_state_dict(best_state)
    timed = epoch_times[1:] or epoch_times
    return FitResult(
        best_epoch=best_epoch,
        epochs=len(epoch_times),
        train_acc=best_train_acc,
        val=best_val,
        # The first epoch pays one-off warm-up (allocator, kernels): left out
        # of the per-epoch cost whenever there are later epochs to average.
        sec_per_epoch=sum(timed) / len(timed),
        avg_nodes_in=nodes_sum / max(graphs_seen, 1),
        avg_nodes_pooled=pooled_sum / max(graphs_seen, 1),
        history=history,
    )
