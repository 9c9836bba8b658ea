"""How a run ends when it does not end well: failure status and memory verdicts.

Shared by final runs (:mod:`poolbench.training.protocol`) and grid candidates
(:mod:`poolbench.training.selection`), so both record failures the same way.
"""

from __future__ import annotations

import torch

from poolbench.errors import RunFailure
from poolbench.training.device import available_memory_mb


def one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")[:500]


def is_oom(exc: BaseException) -> bool:
    # MemoryError: numpy or Python refusing an allocation on the CPU (EigenPool
    # on Cora asks for 37 GiB), the CPU's own out-of-memory
    return isinstance(exc, torch.OutOfMemoryError | MemoryError) or (
        isinstance(exc, RuntimeError)
        and any(t in str(exc).lower() for t in ("out of memory", "not enough memory"))
    )


def failure_status(exc: BaseException) -> tuple[str, str]:
    """``(status, error)`` of a run that raised ``exc``: nan, oom or failed."""
    if isinstance(exc, RunFailure):
        return exc.status, str(exc)
    return ("oom" if is_oom(exc) else "failed"), one_line(exc)


def dense_memory_verdict(exp, device) -> str:
    """Why a dense pooler cannot fit in memory here, or "" when it can."""
    need = exp.dense_memory_mb()
    if need == 0:
        return ""
    have = available_memory_mb(device)
    if need <= 0.8 * have:
        return ""
    return (
        f"estimated {need:.0f} MiB for the dense pooler's padded batches exceeds "
        f"80% of the {have:.0f} MiB available; lower trainer.batch_size"
    )
