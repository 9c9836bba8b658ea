"""Stop signals during a protocol: the run in progress is written as failed.

A run killed mid-training would otherwise leave no row, and nobody could tell
from the results why it is missing. While :func:`stop_on_signals` is active,
SIGTERM (``kill``, ``scancel``, a Slurm time limit, preemption) and SIGINT
(Ctrl-C) raise :class:`Interrupted` in the main thread; the protocol writes
the run in progress as ``failed`` with the reason and stops, and a rerun redoes it
(resume skips only ``ok`` runs). In a Slurm job SIGUSR2 is the time-limit
warning that submitit asks for (``sbatch --signal=USR2@<signal_delay_s>``): it
stops the job the same way, but as a normal end, so the sweep's other jobs and
its launcher go on.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager


class Interrupted(BaseException):
    """A stop signal arrived. Not an ``Exception``: no run may swallow it."""

    def __init__(self, signum: int, reason: str, time_limit: bool):
        super().__init__(reason)
        self.signum = signum
        self.reason = reason
        self.time_limit = time_limit


def slurm_job_id() -> str | None:
    """``<array job>_<task>`` for an array task (as submitit names it), else the id."""
    array, task = (
        os.environ.get("SLURM_ARRAY_JOB_ID"),
        os.environ.get("SLURM_ARRAY_TASK_ID"),
    )
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID")


def interruption(signum: int) -> Interrupted:
    """What a stop signal means here, in words that go into the row's ``error``."""
    job = slurm_job_id()
    if signum == signal.SIGINT:
        return Interrupted(signum, "stopped by SIGINT (Ctrl-C)", False)
    if job is None:
        return Interrupted(signum, f"stopped by {signal.Signals(signum).name}", False)
    if signum == signal.SIGUSR2:
        return Interrupted(
            signum,
            f"Slurm time limit: job {job} got SIGUSR2, its warning "
            "hydra.launcher.signal_delay_s before the limit",
            True,
        )
    return Interrupted(
        signum,
        f"stopped by SIGTERM from Slurm: job {job} was cancelled, preempted "
        "or reached its time limit",
        False,
    )


def stop_signals() -> list[int]:
    """SIGTERM and SIGINT (Ctrl-C) everywhere; SIGUSR2 only in a Slurm job,
    where it is the warning."""
    signals = [signal.SIGTERM, signal.SIGINT]
    if slurm_job_id() is not None:
        signals.append(signal.SIGUSR2)
    return signals


def _raise(signum, frame) -> None:
    raise interruption(signum)


@contextmanager
def stop_on_signals():
    """Stop signals raise :class:`Interrupted` inside the block.

    Handlers can only be set in the main thread; elsewhere the block changes
    nothing. The handlers in place before (submitit installs its own) come back
    at the end.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in stop_signals()}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def signals_held():
    """Inside the block a stop signal waits and is raised when it ends.

    For writing a row: a signal landing between the writes of one append would
    leave a finished run without its row.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {
        s: signal.signal(s, lambda signum, frame: pending.append(signum))
        for s in stop_signals()
    }
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if pending:  # delivered again, now to the handler in place before
            signal.raise_signal(pending[0])
