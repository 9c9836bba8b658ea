"""CSV stores that are safe for many concurrent writers, and resumable.

Each row is appended as one ``write`` of a complete line while holding an
exclusive ``flock`` on a sidecar lock file, so rows from parallel jobs never
interleave. The last column is ``status``: a line cut short by a killed
process cannot end in a full status value, so it is dropped on read and never
taken as a result.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path

import pandas as pd

from poolbench.results.row import RUN_KEY, STATUSES, ResultRow


class CsvStore:
    """Rows of one dataclass type in ``<dir>/<filename>``; ``status`` comes last."""

    def __init__(self, directory: str | os.PathLike, filename: str, row_type: type):
        self.dir = Path(directory)
        self.path = self.dir / filename
        self.lock_path = self.dir / f".{filename}.lock"
        self.columns = [f.name for f in fields(row_type)]
        if self.columns[-1] != "status":
            raise TypeError(f"{row_type.__name__} must end with a status field")

    @contextmanager
    def locked(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, row) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n")
        writer.writerow(asdict(row))
        line = buf.getvalue().encode()
        with self.locked():
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size == 0:
                    os.write(fd, (",".join(self.columns) + "\n").encode())
                elif self._last_byte() != b"\n":
                    os.write(fd, b"\n")  # end a line left unfinished by a killed writer
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def _last_byte(self) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1)

    def read(self) -> pd.DataFrame:
        """All complete rows; torn or malformed lines are skipped."""
        rows = []
        header = None
        if self.path.exists():
            with open(self.path, newline="") as f:
                reader = csv.reader(f)
                header = next(reader, None)
                for values in reader:
                    if header and len(values) == len(header) and values[-1] in STATUSES:
                        rows.append(values)
        frame = pd.DataFrame(rows, columns=header or self.columns)
        for col in self.columns:
            if col not in frame:
                frame[col] = ""
        return self._typed(frame)

    def _typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame


class ResultsStore(CsvStore):
    """``<dir>/results.csv``: one :class:`ResultRow` per final run."""

    def __init__(self, directory: str | os.PathLike):
        super().__init__(directory, "results.csv", ResultRow)

    def append_summary(self, summary: dict) -> None:
        """One JSON line per finished experiment in ``summaries.jsonl``."""
        line = (json.dumps(summary, sort_keys=True, default=str) + "\n").encode()
        with self.locked():
            path = self.dir / "summaries.jsonl"
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def latest(self) -> pd.DataFrame:
        """One row per run key: the latest attempt (a rerun replaces a failure)."""
        frame = self.read()
        if frame.empty:
            return frame
        keep = frame.drop_duplicates(subset=list(RUN_KEY), keep="last")
        return keep.reset_index(drop=True)

    def completed(self) -> set[tuple[str, int, int]]:
        """Keys of runs that finished with status ok: a resumed sweep skips them."""
        frame = self.read()
        ok = frame[frame["status"] == "ok"]
        return {
            (h, int(f), int(r)) for h, f, r in ok[list(RUN_KEY)].itertuples(index=False)
        }

    def _typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        for col in _INT:
            frame[col] = (
                pd.to_numeric(frame[col], errors="coerce").fillna(-1).astype(int)
            )
        for col in _FLOAT:
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
        return frame


_INT = {"fold", "run", "seed", "best_epoch", "epochs", "params"}
_FLOAT = {
    "train_acc",
    "val_acc",
    "test_acc",
    "val_loss",
    "test_loss",
    "sec_per_epoch",
    "total_sec",
    "precompute_sec",
    "peak_mem_mb",
    "avg_nodes_in",
    "avg_nodes_pooled",
}
