"""Small TU datasets written in TU Dortmund's raw format, for tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import mirror_path


@dataclass
class ToyGraph:
    """Nodes ``0..nodes-1``; each undirected edge is written both ways."""

    nodes: int
    edges: list[tuple[int, int]]
    label: int
    node_labels: list[int] = field(default_factory=list)
    node_attributes: list[float] = field(default_factory=list)


def toy_graphs(count: int = 40) -> list[ToyGraph]:
    """Paths (label 1) and cycles (label 2) of 4 to 8 nodes, alternating."""
    graphs = []
    for i in range(count):
        n, label = 4 + i % 5, 1 + i % 2
        edges = [(j, j + 1) for j in range(n - 1)] + (
            [(n - 1, 0)] if label == 2 else []
        )
        graphs.append(
            ToyGraph(
                n, edges, label, [j % 3 for j in range(n)], [0.5 * j for j in range(n)]
            )
        )
    return graphs


def write_tu(
    raw: Path,
    name: str,
    graphs: list[ToyGraph],
    node_labels: bool = True,
    node_attributes: bool = False,
) -> Path:
    """``raw/<name>_*.txt`` for ``graphs``; returns ``raw``."""
    files: dict[str, list[str]] = {"A": [], "graph_indicator": [], "graph_labels": []}
    if node_labels:
        files["node_labels"] = []
    if node_attributes:
        files["node_attributes"] = []
    offset = 0
    for number, g in enumerate(graphs, start=1):
        for a, b in g.edges:
            files["A"] += [f"{a + offset + 1}, {b + offset + 1}"]
            files["A"] += [f"{b + offset + 1}, {a + offset + 1}"]
        files["graph_indicator"] += [str(number)] * g.nodes
        files["graph_labels"].append(str(g.label))
        if node_labels:
            files["node_labels"] += [str(v) for v in g.node_labels]
        if node_attributes:
            files["node_attributes"] += [f"{v:.2f}" for v in g.node_attributes]
        offset += g.nodes
    raw.mkdir(parents=True, exist_ok=True)
    for part, lines in files.items():
        (raw / f"{name}_{part}.txt").write_text("\n".join(lines) + "\n")
    return raw


def mutag_copy(mirror: Path) -> Path:
    """A writable mirror holding MUTAG's real raw files; returns its raw folder."""
    raw = mirror / "MUTAG" / "raw"
    raw.mkdir(parents=True)
    for path in (mirror_path() / "TUDataset" / "MUTAG" / "raw").glob("MUTAG_*.txt"):
        shutil.copyfile(path, raw / path.name)
    return raw


def edit_line(path: Path, number: int, text: str | None) -> None:
    """Replace line ``number`` (1-based; -1 the last) of ``path``, or drop it."""
    lines = path.read_text().splitlines()
    index = number - 1 if number > 0 else len(lines) + number
    if text is None:
        del lines[index]
    else:
        lines[index] = text
    path.write_text("\n".join(lines) + "\n")
