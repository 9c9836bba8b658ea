"""TU raw files: checked before PyG parses them, copied from the mirror, kept fresh.

PyG's reader stops with a traceback on a malformed line and silently loses what
it cannot place (the last line of a file without a final newline). So every raw
file is read here first, and a fault names the file and the line. The check is
numpy-fast (REDDIT-BINARY's 4 M edges in about a second) and runs once per
version of the files: ``<data.root>/TUDataset/<NAME>/poolbench_raw.json``
records the size and mtime of the files checked, and what they hold.

With a mirror the files are copied into ``data.root`` (the mirror may be
read-only; PyG writes ``processed/`` beside ``raw/``). When the mirror's files
change, the copy is made again and PyG's ``processed/`` cache dropped, so a
repaired mirror is never shadowed by a stale copy.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from poolbench.errors import PoolbenchError
from poolbench.validation.values import check_plain_name

REQUIRED = ("A", "graph_indicator", "graph_labels")
MANIFEST = "poolbench_raw.json"


@dataclass
class RawSummary:
    """What a TU dataset's raw files hold, known before PyG processes them."""

    name: str
    labels: list[int]  # class index per graph, numbered as PyG does (sorted)
    node_counts: list[int]  # nodes per graph
    parts: list[str]  # the files present: A, graph_indicator, node_labels, …

    @property
    def num_graphs(self) -> int:
        return len(self.labels)

    def has(self, part: str) -> bool:
        return part in self.parts


def _fail(shown: Path, line: int | None, problem: str) -> PoolbenchError:
    where = f"{shown} line {line}" if line is not None else str(shown)
    return PoolbenchError(f"{where}: {problem}")


def _slow_scan(data: bytes, shown: Path, kind: type, width: int) -> PoolbenchError:
    """The first line that the fast read could not take, as an error."""
    what = "an integer" if kind is int else "a number"
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if number == len(lines) and not raw:
            break  # the final newline
        try:
            line = raw.decode("ascii")
        except UnicodeDecodeError:
            return _fail(shown, number, "not plain text; repair or restore the file")
        if not line.strip():
            return _fail(shown, number, "blank line; remove it")
        fields = line.split(",")
        if len(fields) != width or any(not f.strip() for f in fields):
            return _fail(
                shown,
                number,
                f"expected {width} comma-separated values, got {line.strip()!r} "
                "(a line cut short?); repair the line",
            )
        for token in (f.strip() for f in fields):
            try:
                value = kind(token)
            except ValueError:
                return _fail(shown, number, f"{token!r} is not {what}; repair the line")
            if kind is float and not np.isfinite(value):
                return _fail(
                    shown, number, f"{token!r} is not a finite number; repair it"
                )
    return _fail(shown, None, "could not be read; repair or restore the file")


def read_table(path: Path, shown: Path, kind: type, width: int | None = None):
    """Rows of comma-separated numbers as an array ``[lines, width]``."""
    data = path.read_bytes()
    if not data.strip():
        raise _fail(shown, None, "the file is empty; restore it")
    if not data.endswith(b"\n"):
        data += b"\n"
    if width is None:
        width = data[: data.index(b"\n")].count(b",") + 1
    lines = data.count(b"\n")
    buf = np.frombuffer(data, dtype=np.uint8)
    seps = buf[(buf == ord(",")) | (buf == ord("\n"))]
    values = None
    if seps.size == lines * width:
        seps = seps.reshape(lines, width)
        if (seps[:, :-1] == ord(",")).all() and (seps[:, -1] == ord("\n")).all():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    text = data.decode("ascii").replace(",", " ")
                    dtype = np.int64 if kind is int else np.float64
                    values = np.fromstring(text, dtype=dtype, sep=" ")
            except ValueError:  # also UnicodeDecodeError
                values = None
    ok = values is not None and values.size == lines * width
    if ok and kind is float and not np.isfinite(values).all():
        ok = False
    if not ok:
        raise _slow_scan(data, shown, kind, width)
    return values.reshape(lines, width)


def check_raw(raw: Path, name: str) -> RawSummary:
    """Every raw file of ``name`` in ``raw``, against itself and the others."""
    parts = sorted(
        p.name[len(name) + 1 : -4] for p in raw.glob(f"{name}_*.txt") if p.is_file()
    )
    missing = [p for p in REQUIRED if p not in parts]
    if missing:
        raise PoolbenchError(
            f"{raw} lacks {name}_{missing[0]}.txt; a TU dataset needs "
            + ", ".join(f"{name}_{p}.txt" for p in REQUIRED)
        )
    if "graph_attributes" in parts:
        raise PoolbenchError(
            f"{raw / f'{name}_graph_attributes.txt'} holds regression targets, "
            "which PyG reads instead of the graph labels; poolbench classifies "
            "graphs: remove that file"
        )

    def path(part: str) -> Path:
        return raw / f"{name}_{part}.txt"

    indicator = read_table(path("graph_indicator"), path("graph_indicator"), int, 1)
    graph_of = indicator[:, 0]
    _check_indicator(graph_of, path("graph_indicator"))
    nodes, graphs = len(graph_of), int(graph_of[-1])
    labels = read_table(path("graph_labels"), path("graph_labels"), int, 1)[:, 0]
    if len(labels) != graphs:
        raise PoolbenchError(
            f"{path('graph_labels')} has {len(labels)} lines but "
            f"{path('graph_indicator')} numbers {graphs} graphs; give one label "
            "per graph"
        )
    classes, index = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise _fail(
            path("graph_labels"),
            None,
            f"every graph has label {classes[0]}; classification needs 2 classes",
        )
    _check_rows(raw, name, parts, ("node_labels", "node_attributes"), nodes)
    edges = read_table(path("A"), path("A"), int, 2)
    _check_edges(edges, graph_of, path("A"), path("graph_indicator"))
    _check_rows(raw, name, parts, ("edge_labels", "edge_attributes"), len(edges))
    counts = np.bincount(graph_of)[1:]
    return RawSummary(name, index.tolist(), counts.tolist(), parts)


def _check_rows(raw: Path, name: str, parts, which, rows: int) -> None:
    """One line per node (or per edge) in each per-node (per-edge) file."""
    owner, unit = ("graph_indicator", "node") if "node" in which[0] else ("A", "edge")
    for part in which:
        if part in parts:
            path = raw / f"{name}_{part}.txt"
            table = read_table(path, path, int if part.endswith("labels") else float)
            if len(table) != rows:
                raise PoolbenchError(
                    f"{path} has {len(table)} lines but {name}_{owner}.txt has "
                    f"{rows}; give one line per {unit}"
                )


def _check_indicator(graph_of: np.ndarray, shown: Path) -> None:
    if graph_of[0] != 1:
        raise _fail(shown, 1, f"graph ids start at 1, got {graph_of[0]}")
    step = np.diff(graph_of)
    back = np.flatnonzero(step < 0)
    if back.size:
        i = back[0]
        raise _fail(
            shown,
            i + 2,
            f"graph {graph_of[i + 1]} after graph {graph_of[i]}; list the nodes "
            "graph by graph in increasing order",
        )
    gap = np.flatnonzero(step > 1)
    if gap.size:
        i = gap[0]
        raise _fail(
            shown,
            i + 2,
            f"ids jump from graph {graph_of[i]} to {graph_of[i + 1]}, so graph "
            f"{graph_of[i] + 1} has no nodes; number the graphs without gaps",
        )


def _check_edges(edges, graph_of, shown: Path, indicator: Path) -> None:
    nodes = len(graph_of)
    bad = np.flatnonzero((edges < 1).any(1) | (edges > nodes).any(1))
    if bad.size:
        i = bad[0]
        node = next(int(v) for v in edges[i] if not 1 <= v <= nodes)
        problem = (
            f"node {node}: TU node ids start at 1"
            if node < 1
            else f"node {node} is past the {nodes} nodes of {indicator.name}"
        )
        raise _fail(shown, i + 1, f"{problem}; repair the edge")
    ends = graph_of[edges - 1]
    cross = np.flatnonzero(ends[:, 0] != ends[:, 1])
    if cross.size:
        i = cross[0]
        raise _fail(
            shown,
            i + 1,
            f"edge {edges[i, 0]}, {edges[i, 1]} joins graph {ends[i, 0]} and graph "
            f"{ends[i, 1]}; an edge must stay inside one graph",
        )


def mirror_raw(mirror: Path, name: str) -> Path | None:
    """``<mirror>/<NAME>/raw`` or ``<mirror>/TUDataset/<NAME>/raw``, if present."""
    for candidate in (mirror / name / "raw", mirror / "TUDataset" / name / "raw"):
        if candidate.is_dir() and any(candidate.glob(f"{name}_*.txt")):
            return candidate
    return None


def _stat(raw: Path, name: str) -> dict[str, list[int]]:
    files = sorted(raw.glob(f"{name}_*.txt"))
    return {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in files}


def _copy(source: Path, raw: Path, name: str) -> None:
    """Replace ``raw`` with the source's files, each ending in a newline (PyG
    drops a last line without one)."""
    tmp = raw.with_name(f"raw.{os.getpid()}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for path in sorted(source.glob(f"{name}_*.txt")):
        data = path.read_bytes()
        (tmp / path.name).write_bytes(data if data.endswith(b"\n") else data + b"\n")
    old = raw.with_name(f"raw.{os.getpid()}.old")
    if raw.exists():
        raw.rename(old)
    try:
        tmp.rename(raw)
    except OSError:  # another process put a fresh copy there first
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)


def _end_lines(raw: Path, name: str) -> None:
    """A last line without a newline is lost by PyG: add the newline."""
    for path in raw.glob(f"{name}_*.txt"):
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            with path.open("ab") as f:
                f.write(b"\n")


def _read_manifest(home: Path) -> dict | None:
    try:
        return json.loads((home / MANIFEST).read_text())
    except (OSError, ValueError, RecursionError):  # unreadable: checked afresh
        return None


def prepare_raw(name: str, root: Path, mirror: str | None) -> RawSummary | None:
    """Make ``<root>/TUDataset/<name>/raw`` hold checked, current raw files.

    Returns what they hold, or None when there is nothing local and no mirror:
    PyG then downloads, and calling this again checks what it fetched.
    """
    check_plain_name("dataset.name", name)
    home = root / "TUDataset" / name
    raw = home / "raw"
    source = mirror_raw(Path(mirror), name) if mirror else None
    if source is None and not (raw / f"{name}_A.txt").is_file():
        if mirror:
            raise PoolbenchError(
                f"dataset {name} is not in the mirror {mirror}: add "
                f"{mirror}/{name}/raw/{name}_*.txt there, or unset data.mirror "
                "to download it from TU Dortmund"
            )
        return None
    origin = source or raw
    manifest = _read_manifest(home)
    fresh = (
        manifest is not None
        and manifest.get("source") == str(origin)
        and manifest.get("source_files") == _stat(origin, name)
        and manifest.get("copy_files") == _stat(raw, name)
    )
    if fresh:
        return RawSummary(**manifest["summary"])
    summary = check_raw(origin, name)
    if source is not None:
        _copy(source, raw, name)
    else:
        _end_lines(raw, name)
    # processed/ was made from other files (or by a poolbench that kept no record)
    shutil.rmtree(home / "processed", ignore_errors=True)
    record = {
        "source": str(origin),
        "source_files": _stat(origin, name),
        "copy_files": _stat(raw, name),
        "summary": asdict(summary),
    }
    tmp = home / f"{MANIFEST}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(record))
    os.replace(tmp, home / MANIFEST)
    return summary
