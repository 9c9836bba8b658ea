"""One run: fit on train with early stopping on validation.

Test data is never seen by :func:`fit`: selection of the best epoch and early
stopping read validation only. The protocol scores test once, with the task's
``evaluate``, after ``fit`` returns the best-validation weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from poolbench.errors import RunFailure
from poolbench.tasks.base import Metrics, Task
from poolbench.tasks.graph import (
    GraphClassification,
    autocast,
    placed,
)
from poolbench.training.config import TrainerConfig
from poolbench.training.seeding import seed_everything

__all__ = [
    "FitResult",
    "Metrics",
    "TrainedRun",
    "TrainerConfig",
    "evaluate",
    "fit",
    "fit_split",
]

EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass
class FitResult:
    best_epoch: int
    epochs: int
    train_score: float  # the task's headline score on the training batches
    val: Metrics
    sec_per_epoch: float  # the training pass, without validation
    avg_nodes_in: float
    avg_nodes_pooled: float
    history: list[dict[str, float]] = field(default_factory=list)


def evaluate(
    model: nn.Module,
    loader: Iterable,
    device: torch.device,
    cfg: TrainerConfig | None = None,
    task: Task | None = None,
) -> Metrics:
    """The task's loss and scores on ``loader`` (graph classification by default)."""
    return (task or GraphClassification()).evaluate(model, loader, device, cfg)


@dataclass
class TrainedRun:
    """One trained model, its fit and its test scores (a final run)."""

    model: nn.Module
    fit: FitResult
    test: Metrics


def fit_split(exp, split, seed: int, device, on_epoch=None):
    """Seed, build and fit one model on ``split``'s train, early stopping on
    its validation: ``(model, task, test loader, FitResult)``. A final run and
    a grid point both start here; nothing here reads the test loader."""
    generator = seed_everything(seed)
    model = exp.make_model(device)
    task = exp.task.for_split(split)
    train, val, test = exp.fold_loaders(split, generator)
    if task.trains(exp):
        result = fit(model, train, val, exp.trainer, device, on_epoch, task)
    else:  # nothing to learn (a clustering baseline): score it as it is
        result = FitResult(-1, 0, math.nan, Metrics(math.nan), math.nan, 0.0, 0.0)
    return model, task, test, result


def make_optimizer(model: nn.Module, cfg: TrainerConfig, device: torch.device):
    """Adam, fused where torch has the kernel: on the CPU one fused step costs a
    fifth of the per-tensor loop over these many small parameters (equal to it
    within float rounding, ~1e-8 after 50 steps)."""
    fused = device.type in ("cpu", "cuda")
    return torch.optim.Adam(
        model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused
    )


def best_weights_keeper(model: nn.Module, params: list) -> Callable[[], dict]:
    """A function returning a copy of ``model``'s state, called at each new
    best epoch. When the state is exactly the optimizer's parameters (no
    buffers), the copies are made once and refreshed by one foreach copy from
    those parameter objects: the state-dict walk and a clone per tensor cost as
    much as a small graph's batch. Otherwise the state dict is cloned each time.
    """
    state = model.state_dict(keep_vars=True)
    held = {id(p) for p in params}
    if any(id(t) not in held for t in state.values()):
        return lambda: {k: v.detach().clone() for k, v in model.state_dict().items()}
    keys, live = list(state), list(state.values())
    copies: list[torch.Tensor] = []

    @torch.no_grad()
    def keep() -> dict:
        if copies:
            torch._foreach_copy_(copies, live)
        else:
            copies.extend(t.detach().clone() for t in live)
        return dict(zip(keys, copies, strict=True))

    return keep


def fit(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable,
    cfg: TrainerConfig,
    device: torch.device,
    on_epoch: EpochCallback | None = None,
    task: Task | None = None,
) -> FitResult:
    """Train with early stopping; leaves ``model`` holding the best-val weights.

    ``task`` gives the forward pass, the loss and the validation metrics
    (graph classification by default). A task without supervision (no
    ``val_loader``) trains all ``max_epochs`` and keeps the last weights.

    Raises:
        RunFailure: status ``nan`` when the loss or gradients stop being finite.
    """
    task = task or GraphClassification()
    opt = make_optimizer(model, cfg, device)
    params = [p for group in opt.param_groups for p in group["params"]]
    scheduler = (
        torch.optim.lr_scheduler.StepLR(opt, cfg.lr_step, cfg.lr_gamma)
        if cfg.lr_step > 0
        else None
    )
    train_loader = placed(train_loader, device)
    val_loader = placed(val_loader, device) if val_loader is not None else None
    higher = task.higher_is_better(cfg.monitor) if val_loader is not None else True
    # The compiled wrapper shares parameters with ``model``; state is read from
    # ``model`` so checkpoints never carry the wrapper's key prefix.
    step_model = torch.compile(model, dynamic=True) if cfg.compile else model
    best = -math.inf if higher else math.inf
    best_state, best_epoch, best_val, best_train = None, -1, None, float("nan")
    epoch_times, history = [], []
    nodes_sum, pooled_sum, graphs_seen = 0, 0, 0
    stale = 0
    keep_best = best_weights_keeper(model, params)
    for epoch in range(cfg.max_epochs):
        start = time.perf_counter()
        model.train()
        # What the epoch's bookkeeping needs is kept per step as detached
        # tensors and reduced once after the last step: no host sync and no
        # extra kernels inside the batch loop (on small graphs those kernels
        # cost as much as the optimizer step).
        tallies, watched, aux_kept = [], [], []
        for batch in train_loader:
            batch = batch.to(device)
            with autocast(cfg, device):
                out = task.forward(step_model, batch)
                loss = task.loss(out, batch)
            for p in params:  # zero_grad(set_to_none=True), without its wrapper
                p.grad = None
            loss.backward()
            if cfg.grad_clip > 0:
                norm = nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                watched.append(norm.detach().float())
            watched.append(loss.detach().float())
            opt.step()
            tallies.append(task.tally(out, batch))
            if out.aux_loss:
                aux_kept.append({k: v.detach() for k, v in out.aux_loss.items()})
            nodes_sum += batch.num_nodes
            pooled_sum += out.pooled_nodes[-1] if out.pooled_nodes else batch.num_nodes
            graphs_seen += batch.num_graphs
        steps = len(tallies)
        if watched and not bool(torch.stack(watched).isfinite().all()):
            raise RunFailure("nan", f"non-finite loss or gradient in epoch {epoch}")
        if scheduler is not None:
            scheduler.step()
        # the finiteness check above waited for the device, so this is the whole
        # training pass; sec_per_epoch leaves the validation pass out
        epoch_times.append(time.perf_counter() - start)
        train_score = task.train_score(tallies)
        if val_loader is not None:
            val = task.evaluate(step_model, val_loader, device, cfg)
            if not math.isfinite(val.loss):
                raise RunFailure("nan", f"non-finite validation loss in epoch {epoch}")
            value = val.value(cfg.monitor)
        else:  # nothing to select on: the latest epoch is the one kept
            val, value = Metrics(math.nan), float(epoch)
        record = {f"train_{task.primary.name}": train_score, "val_loss": val.loss}
        record.update({f"val_{k}": v for k, v in val.scores.items()})
        # each aux term on its own, so a loss that dominates or vanishes shows
        for name in aux_kept[0] if aux_kept else ():
            total = torch.stack([kept[name] for kept in aux_kept]).float().sum()
            record[f"aux/{name}"] = float(total) / max(steps, 1)
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, record)
        # ties_improve: a tie counts as a new best (later epoch kept, patience
        # reset), the rule of Errica et al.'s Patience stopper
        if cfg.ties_improve:
            improved = value >= best if higher else value <= best
        else:
            improved = value > best if higher else value < best
        if improved:
            best, best_epoch, best_val, best_train = value, epoch, val, train_score
            best_state = keep_best()
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
        train_score=best_train,
        val=best_val,
        # The first epoch pays one-off warm-up (allocator, kernels): left out
        # of the per-epoch cost whenever there are later epochs to average.
        sec_per_epoch=sum(timed) / len(timed),
        avg_nodes_in=nodes_sum / max(graphs_seen, 1),
        avg_nodes_pooled=pooled_sum / max(graphs_seen, 1),
        history=history,
    )
