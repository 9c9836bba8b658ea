"""The CSV results store: safe for many concurrent writers, and resumable.

Each row is appended as one ``write`` of a complete line while holding an
exclusive ``flock`` on a sidecar lock file, so rows from parallel jobs never
interleave. A line cut short by a killed process cannot parse into the full set
of columns and is dropped on read, so it is never taken as a result.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from poolbench.results.row import COLUMNS, RUN_KEY, STATUSES, ResultRow


class ResultsStore:
    """``<dir>/results.csv`` with one row per final run."""

    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)
        self.path = self.dir / "results.csv"
        self.lock_path = self.dir / ".results.lock"

    @contextmanager
    def _locked(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, row: ResultRow) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        writer.writerow(row.as_dict())
        line = buf.getvalue().encode()
        with self._locked():
            new = not self.path.exists() or self.path.stat().st_size == 0
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if new:
                    os.write(fd, (",".join(COLUMNS) + "\n").encode())
                else:
                    self._terminate_torn_line(fd)
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def append_summary(self, summary: dict) -> None:
        """One JSON line per finished experiment in ``summaries.jsonl``."""
        line = (json.dumps(summary, sort_keys=True, default=str) + "\n").encode()
        with self._locked():
            fd = os.open(
                self.dir / "summaries.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
            )
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def _terminate_torn_line(self, fd: int) -> None:
        """End a line left unfinished by a killed writer, so ours starts clean."""
        size = os.fstat(fd).st_size
        with open(self.path, "rb") as f:
            f.seek(size - 1)
            if f.read(1) != b"\n":
                os.write(fd, b"\n")

    def read(self) -> pd.DataFrame:
        """All complete rows; torn or malformed lines are skipped."""
        if not self.path.exists():
            return pd.DataFrame(columns=COLUMNS)
        rows = []
        with open(self.path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                return pd.DataFrame(columns=COLUMNS)
            for values in reader:
                if len(values) == len(header) and values[-1] in STATUSES:
                    rows.append(values)
        frame = pd.DataFrame(rows, columns=header)
        for col in COLUMNS:
            if col not in frame:
                frame[col] = ""
        return _typed(frame)

    def latest(self) -> pd.DataFrame:
        """One row per run key: the latest attempt (a rerun replaces a failure)."""
        frame = self.read()
        if frame.empty:
            return frame
        return frame.drop_duplicates(subset=list(RUN_KEY), keep="last").reset_index(
            drop=True
        )

    def completed(self) -> set[tuple[str, int, int]]:
        """Keys of runs that finished with status ok: a resumed sweep skips them."""
        frame = self.read()
        ok = frame[frame["status"] == "ok"]
        return {(h, int(f), int(r)) for h, f, r in ok[list(RUN_KEY)].itertuples(index=False)}


_INT = {"fold", "run", "seed", "best_epoch", "epochs", "params"}
_FLOAT = {
    "train_acc", "val_acc", "test_acc", "val_loss", "test_loss", "sec_per_epoch",
    "total_sec", "precompute_sec", "peak_mem_mb", "avg_nodes_in", "avg_nodes_pooled",
}


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for col in _INT:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").fillna(-1).astype(int)
    for col in _FLOAT:
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame
