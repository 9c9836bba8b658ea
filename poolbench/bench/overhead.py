"""The runner-overhead share: what part of the wall time is not the model's work.

Forward (model call plus the loss), backward and the optimizer step are the
work; batching, collation, metrics, validation bookkeeping, checkpoints and
Python in between are overhead. :class:`WorkTimers` wraps exactly those three
with wall-clock timers for one instrumented pass (on CUDA it synchronises at
each boundary, so that pass is slower and only its share is kept). Timers are
used rather than ``torch.profiler`` because the profiler's per-op cost lands
inside the work and would inflate it on these small, op-bound models.
"""

from __future__ import annotations

import time
from contextlib import ExitStack

import torch
from torch import nn


def _with_subclasses(cls: type) -> list[type]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += _with_subclasses(sub)
    return found


class WorkTimers:
    """Sums forward, backward and step time while active; wall from ``attach``."""

    def __init__(self, device: torch.device):
        self.device = device
        self.work = {"forward": 0.0, "backward": 0.0, "step": 0.0}
        self.wall_start: float | None = None
        self.wall_end: float | None = None
        self._stack = ExitStack()

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def _timed(self, kind: str, fn):
        def wrapper(*args, **kwargs):
            start = self._now()
            try:
                return fn(*args, **kwargs)
            finally:
                self.work[kind] += self._now() - start

        return wrapper

    def attach(self, model: nn.Module) -> None:
        """Time ``model``'s forward; the wall clock starts now."""
        model.forward = self._timed("forward", model.forward)
        self.wall_start = self._now()

    def restart(self) -> None:
        """Forget what was timed so far: called after the warm-up epoch, whose
        one-off costs (first allocations, batches built once) are not per-epoch
        overhead, as they are not in the seconds per epoch either."""
        self.work = dict.fromkeys(self.work, 0.0)
        self.wall_start = self._now()

    def __enter__(self) -> WorkTimers:
        from poolbench.tasks.base import Task

        # The loss is part of the forward on both paths: both call their
        # task's ``loss``.
        for cls in _with_subclasses(Task):
            if "loss" in vars(cls):
                loss = vars(cls)["loss"]
                cls.loss = self._timed("forward", loss)
                self._stack.callback(setattr, cls, "loss", loss)
        backward = torch.Tensor.backward
        torch.Tensor.backward = self._timed("backward", backward)
        self._stack.callback(setattr, torch.Tensor, "backward", backward)

        # The whole opt.step() call, torch's own wrapper around the update
        # included: every optimizer made while active gets a timed step.
        init = torch.optim.Optimizer.__init__
        timed = self._timed

        def timed_init(opt, *args, **kwargs):
            init(opt, *args, **kwargs)
            opt.step = timed("step", opt.step)

        torch.optim.Optimizer.__init__ = timed_init
        self._stack.callback(setattr, torch.optim.Optimizer, "__init__", init)
        return self

    def __exit__(self, *exc) -> None:
        self.wall_end = self._now()
        self._stack.close()

    def overhead_share(self) -> float:
        if self.wall_start is None or self.wall_end is None:
            return float("nan")
        wall = self.wall_end - self.wall_start
        return max(0.0, 1.0 - sum(self.work.values()) / wall) if wall > 0 else 0.0
