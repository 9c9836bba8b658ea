"""CSV stores that are safe for many concurrent writers, resumable, and honest.

Each row is appended as one locked write of a complete line (an exclusive
``flock`` on a sidecar lock file), so rows from parallel jobs never
interleave. Reading parses each physical line on its own
(:mod:`poolbench.results.lines`): a torn or damaged line loses itself only,
and the reader says how many it skipped. A write that fails (disk full, I/O
error, file size limit) is cut back to the previous size, so it leaves no
fragment, and raises :class:`~poolbench.errors.StoreWriteError`. A file with
an older header is migrated to the current one before the first append.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import re
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

import pandas as pd

from poolbench.errors import PoolbenchError, StoreWriteError
from poolbench.results.files import describe_os_error, replace_atomically, write_all
from poolbench.results.lines import ParsedFile, encode_line, parse
from poolbench.results.row import (
    METRIC_FAMILIES,
    OLD_SCHEMAS,
    RUN_KEY,
    STATUSES,
    ResultRow,
)


class CsvStore:
    """Rows of one dataclass type in ``<dir>/<filename>``; ``status`` comes last.

    ``old_schemas``: the headers this file was written with in earlier
    versions, for reading old files and recovering a damaged header.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        filename: str,
        row_type: type,
        old_schemas: list[list[str]] | None = None,
    ):
        self.dir = Path(directory)
        self.path = self.dir / filename
        self.columns = [f.name for f in fields(row_type)]
        # columns whose text must parse as a number (a blank is allowed: a
        # column added after the row was written)
        self.int_columns = {f.name for f in fields(row_type) if f.type in ("int", int)}
        self.float_columns = {
            f.name for f in fields(row_type) if f.type in ("float", float)
        }
        self.schemas = [self.columns, *(old_schemas or [])]
        if self.columns[-1] != "status":
            raise TypeError(f"{row_type.__name__} must end with a status field")
        self.header = encode_line(self.columns)
        self.last_read: ParsedFile | None = None

    @contextmanager
    def locked(self):
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            lock = open(self.lock_file(), "a")
        except OSError as exc:
            raise StoreWriteError(
                f"cannot write to {self.dir}: {describe_os_error(exc)}"
            ) from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def lock_file(self) -> Path:
        """The lock beside the file itself: two results dirs whose file is a
        symlink to one shared file take one lock."""
        real = Path(os.path.realpath(self.path))
        return real.parent / f".{real.name}.lock"

    def append(self, row) -> None:
        """Append one row, or raise StoreWriteError leaving the file as it was."""
        line = encode_line([getattr(row, name) for name in self.columns])
        with self.locked():
            self._migrate_if_needed()
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StoreWriteError(
                    f"cannot write {self.path}: {describe_os_error(exc)}"
                ) from None
            try:
                self._append_locked(fd, line)
            finally:
                os.close(fd)

    def _append_locked(self, fd: int, line: bytes) -> None:
        size = os.fstat(fd).st_size
        if size == 0:
            line = self.header + line
        elif os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # end a line left unfinished by a killed writer
        try:
            write_all(fd, line)
            os.fsync(fd)
        except OSError as exc:
            try:  # leave no fragment: the file ends where it did
                os.ftruncate(fd, size)
                left = "the file is unchanged"
            except OSError:
                left = "a partial line may remain; it is skipped on read"
            why = describe_os_error(exc)
            raise StoreWriteError(
                f"could not write a row to {self.path}: {why}; {left}"
            ) from None

    def _migrate_if_needed(self) -> None:
        """Rewrite a file whose first line is not the current header (an older
        schema, or damaged): rows move to the current columns, old rows with
        empty new fields; other lines that are not rows are kept byte for byte."""
        try:
            with open(self.path, "rb") as f:
                head = f.read(len(self.header))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreWriteError(
                f"cannot read {self.path}: {describe_os_error(exc)}"
            ) from None
        if head in (b"", self.header):
            return
        parsed = self._parse()
        if parsed.header_state == "unknown":
            raise StoreWriteError(self.foreign_header())
        rows = dict(parsed.rows)
        where = {name: i for i, name in enumerate(parsed.columns)}
        out = [self.header]
        for number, raw in enumerate(parsed.lines, 1):
            if number == 1 and number not in rows:
                continue  # the header, old or damaged: replaced by the current one
            values = rows.get(number)
            if values is None:
                out.append(raw + b"\n")
            else:
                out.append(
                    encode_line(
                        [values[where[c]] if c in where else "" for c in self.columns]
                    )
                )
        try:
            replace_atomically(self.path, b"".join(out))
        except OSError as exc:
            raise StoreWriteError(
                f"could not migrate {self.path} to the current columns: "
                f"{describe_os_error(exc)}; the file is unchanged"
            ) from None

    def _parse(self) -> ParsedFile:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            raise PoolbenchError(
                f"cannot read {self.path}: {describe_os_error(exc)}"
            ) from None
        return parse(data, self.schemas, STATUSES)

    def read(self) -> pd.DataFrame:
        """All complete rows; lines that are not rows (torn, or a field that is
        not of its column's type) are skipped and listed in
        ``last_read.damaged`` (see :meth:`read_warning`)."""
        parsed = self._parse()
        bad = [
            number
            for number, values in parsed.rows
            if not self._valid(dict(zip(parsed.columns, values)))
        ]
        if bad:
            skip = set(bad)
            parsed.rows = [(n, v) for n, v in parsed.rows if n not in skip]
            parsed.damaged = sorted(parsed.damaged + bad)
        self.last_read = parsed
        frame = pd.DataFrame(parsed.records(self.columns), columns=self.columns)
        return self._typed(frame)

    def foreign_header(self) -> str:
        """Why rows cannot be added to a file of another version's columns."""
        return (
            f"{self.path} has columns this poolbench does not know (written by "
            "another version); use that version or another results.dir"
        )

    def read_warning(self) -> str:
        """One line on what the last :meth:`read` could not use, or ""."""
        parsed = self.last_read
        if parsed is None:
            return ""
        notes = []
        if parsed.damaged:
            shown = ", ".join(map(str, parsed.damaged[:5]))
            more = ", ..." if len(parsed.damaged) > 5 else ""
            notes.append(
                f"skipped {len(parsed.damaged)} unreadable line(s) "
                f"(line {shown}{more}: torn by a killed writer or damaged)"
            )
        if parsed.header_state in ("repaired", "recovered"):
            notes.append("its header line is damaged: read by the known columns")
        if parsed.header_state == "unknown":
            missing = [c for c in self.columns if c not in parsed.columns]
            extra = [c for c in parsed.columns if c not in self.columns]
            notes.append(
                "its header is not this version's (a later one, or a damaged "
                "name): read by its own names"
                + (f"; columns {', '.join(missing)} read as blank" if missing else "")
                + (f"; columns {', '.join(extra)} not shown" if extra else "")
            )
        if not notes:
            return ""
        return f"poolbench: warning: {self.path}: " + "; ".join(notes)

    def _valid(self, record: dict[str, str]) -> bool:
        """A row whose numbers are numbers: one with ``fold=x`` or ``run=1.7``
        is damaged, never read as fold -1 or a NaN score."""
        for name, value in record.items():
            if value == "":
                continue
            if name in self.int_columns and not _INT_TEXT.fullmatch(value):
                return False
            if name in self.float_columns and not _is_float(value):
                return False
        return True

    # what a blank integer field reads as (a column the row predates); -1
    # where not listed
    blank_int: dict[str, int] = {}

    def _typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Number columns as numbers (rows passed :meth:`_valid`, so only a
        blank or ``nan`` is not one)."""
        for col in self.int_columns:
            blank = self.blank_int.get(col, -1)
            numbers = pd.to_numeric(frame[col], errors="coerce")
            frame[col] = numbers.fillna(blank).astype(int)
        for col in self.float_columns:
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
        return frame


_INT_TEXT = re.compile(r"-?[0-9]+")


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class ResultsStore(CsvStore):
    """``<dir>/results.csv``: one :class:`ResultRow` per final run."""

    def __init__(self, directory: str | os.PathLike):
        super().__init__(directory, "results.csv", ResultRow, OLD_SCHEMAS)

    def _valid(self, record: dict[str, str]) -> bool:
        """Besides numbers that parse: the run's key is whole, its headline
        metric is one this poolbench knows (a later version's metric would
        break every table), and an ok row holds a finite score: an ok row
        without one (blank, ``nan``, ``inf``) would count as a run yet stay
        out of the mean (the runner writes such a run as ``nan``)."""
        if not super()._valid(record):
            return False
        if any(record.get(k, "") == "" for k in ("config_hash", "fold", "run")):
            return False
        metric = record.get("metric", "") or "acc"
        if metric not in METRIC_FAMILIES:
            return False
        if record.get("status") == "ok":
            try:
                return math.isfinite(float(record.get(f"test_{metric}", "")))
            except ValueError:
                return False
        return True

    def record(self, row: ResultRow) -> None:
        """Append a finished run's row; when that fails, the error names the run
        and its result, since nothing else holds them."""
        try:
            self.append(row)
        except StoreWriteError as exc:
            result = row.status
            if row.status == "ok":
                score = f"test_{row.metric}"
                result += f", {score} {getattr(row, score):.4f}"
            raise StoreWriteError(
                f"{exc}. Not recorded: {row.label} ({result}). Nothing more can "
                "be recorded, so poolbench stops; free space or fix the results "
                "dir, then rerun the same command to redo the run"
            ) from None

    def append_summary(self, summary: dict) -> None:
        """``summaries.jsonl``: one JSON line per experiment (config hash and data
        fingerprint), the latest replacing earlier ones, rewritten atomically."""
        path = self.dir / "summaries.jsonl"
        key = _summary_key(summary)
        line = (json.dumps(summary, sort_keys=True, default=str) + "\n").encode()
        with self.locked():
            try:
                old = path.read_bytes().split(b"\n") if path.exists() else []
                kept, seen = [], {key}
                for raw in reversed([r for r in old if r.strip()]):
                    k = _summary_key_of_line(raw)
                    if k is not None and k in seen:
                        continue  # an older line of an experiment already kept
                    if k is not None:
                        seen.add(k)
                    kept.append(raw + b"\n")
                replace_atomically(path, b"".join(reversed(kept)) + line)
            except OSError as exc:
                raise StoreWriteError(
                    f"could not write the summary to {path}: {describe_os_error(exc)}; "
                    "the file is unchanged (results.csv holds the runs)"
                ) from None

    def latest(self) -> pd.DataFrame:
        """One row per run key: its latest ok row, else its latest attempt (a
        rerun replaces a failure). An ok run is never redone by resume, so a
        failure after it comes from a second writer of the same run (a stopped
        duplicate): it must not hide the result that resume counts as done."""
        frame = self.read()
        if frame.empty:
            return frame
        ok_last = frame.assign(_ok=frame["status"] == "ok").sort_values(
            "_ok", kind="stable"
        )
        keep = ok_last.drop_duplicates(subset=list(RUN_KEY), keep="last")
        return keep.sort_index().drop(columns="_ok").reset_index(drop=True)

    def completed(
        self, data_fingerprint: str | None = None
    ) -> set[tuple[str, int, int]]:
        """(config hash, fold, run) of runs that finished ok: a resumed sweep
        skips them. With ``data_fingerprint``, only runs made on that data count:
        after the data changes, every run is to do again."""
        return completed_runs(self.read(), data_fingerprint)

    # protocol_folds and protocol_runs are 0 (unknown) in rows written before
    # they existed
    blank_int = {"protocol_folds": 0, "protocol_runs": 0}

    def _typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame = super()._typed(frame)
        for col, before in _TEXT_BEFORE.items():
            frame[col] = frame[col].replace("", before)
        return frame


def completed_runs(
    frame: pd.DataFrame, data_fingerprint: str | None = None
) -> set[tuple[str, int, int]]:
    """See :meth:`ResultsStore.completed`; for a frame already read."""
    ok = frame[frame["status"] == "ok"]
    if data_fingerprint is not None:
        ok = ok[ok["data_fingerprint"] == data_fingerprint]
    keys = ok[["config_hash", "fold", "run"]].itertuples(index=False)
    return {(h, int(f), int(r)) for h, f, r in keys}


def _summary_key(summary: dict) -> tuple[str, str]:
    return (
        str(summary.get("config_hash", "")),
        str(summary.get("data_fingerprint", "")),
    )


def _summary_key_of_line(raw: bytes) -> tuple[str, str] | None:
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):  # a damaged line is kept, never dropped
        return None
    return _summary_key(record) if isinstance(record, dict) else None


# Text columns that came later, and what rows written before them were: every
# older row is graph classification scored by accuracy.
_TEXT_BEFORE = {"task": "graph", "metric": "acc"}
