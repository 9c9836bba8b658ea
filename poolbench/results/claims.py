"""Fold claims: two commands running one config share its folds, not double them.

Resume skips the runs already in the store, but two commands started on the
same config at once (a sweep launched twice, overlapping Slurm sweeps) would
each run every fold. Before a fold starts, its process takes an exclusive
``flock`` on ``.claims/<config>-<data>-fold<k>.lock`` beside results.csv and
holds it until the fold's last row is written; a fold another process holds is
left to that process. The kernel drops a lock when its holder dies (kill -9
too), so a claim never outlives its process: rerunning the command takes up
what a dead one left. A claim that cannot be taken for any other reason (a
file system without locks) runs the fold as before: duplicated work, never a
lost or doubled row (the tables keep one row per run).
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from poolbench.results.row import utc_now
from poolbench.results.store import ResultsStore

# errors of a non-blocking flock that mean "someone else holds it"
_HELD = {errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES}


class FoldClaims:
    """The claims on one config's folds, for the store at ``store_dir``.

    Holds only paths and names, so fold workers in other processes get a copy.
    """

    def __init__(self, store_dir: str | os.PathLike, config_hash: str, data: str):
        self.store_dir = Path(store_dir)
        # beside the real results.csv: results dirs sharing one linked store
        # share its claims, as they share its lock
        real = Path(os.path.realpath(ResultsStore(store_dir).path))
        self.dir = real.parent / ".claims"
        self.config_hash = config_hash
        self.data = data

    def path(self, fold: int) -> Path:
        return self.dir / f"{self.config_hash}-{self.data}-fold{fold}.lock"

    @contextmanager
    def fold(self, fold: int, sign: bool = True):
        """Hold ``fold`` for the ``with`` block; yields ``None`` when this
        process holds it (or no claim could be made), else who holds it.
        ``sign``: write this process into the claim, for others' messages."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            handle = open(self.path(fold), "a+")
        except OSError:
            handle = None
        if handle is None:
            yield None
            return
        with handle:
            held = _try_lock(handle, 5 if sign else 1)
            if held is False:  # another process has it
                handle.seek(0)
                yield handle.read().strip() or "another process"
                return
            if held and sign:
                _sign(handle)
            try:
                yield None
            finally:
                if held:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def held_elsewhere(self, folds) -> dict[int, str]:
        """The folds among ``folds`` another process holds now, with who."""
        busy = {}
        for fold in folds:
            if not self.path(fold).exists():
                continue
            with self.fold(fold, sign=False) as holder:
                if holder is not None:
                    busy[fold] = holder
        return busy

    def runs_done(self, fold: int) -> set[int]:
        """The fold's runs the store holds as finished on this data now: a
        process that held the fold before this one may have run them since
        this command read the store."""
        return {
            run
            for config, done_fold, run in ResultsStore(self.store_dir).completed(
                self.data
            )
            if config == self.config_hash and done_fold == fold
        }


def _try_lock(handle, attempts: int = 5) -> bool | None:
    """True: locked; False: another process holds it; None: no lock possible
    here (the fold runs unclaimed). A few tries 20 ms apart: another
    command's :meth:`FoldClaims.held_elsewhere` takes the lock for a moment
    to look, and must not make this one leave a fold nobody runs."""
    for attempt in range(attempts):
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as exc:
            if exc.errno not in _HELD:
                return None
        if attempt + 1 < attempts:
            time.sleep(0.02)
    return False


def _sign(handle) -> None:
    """Write who holds the claim, for the message of a process that finds it
    held; best effort (the lock, not this text, is the claim)."""
    now = utc_now()
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {now}")
        handle.flush()
    except OSError:
        pass
