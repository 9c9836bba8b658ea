"""Tables of the evaluation rows (rich, Markdown, CSV); figures live in figures.py.

``render_eval_tables`` is what ``poolbench table --kind eval`` calls; each eval
command prints its own kind's table with :func:`print_kind`.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from poolbench.evaluation.rows import KINDS, EvalStore
from poolbench.results.files import replace_atomically

TOLERANCES = "row sums constant within 1e-3, RED = SᵀX within 1e-4 (relative)"


def _num(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(value, fmt)


def expressiveness_table(rows: pd.DataFrame) -> pd.DataFrame:
    ok = rows[rows["kind"] == "expressiveness"].sort_values("pooler")
    return pd.DataFrame(
        {
            "pooler": ok["pooler"],
            "test acc %": [_num(100 * v, ".1f") for v in ok["test_acc"]],
            "WL MP": ok["wl_mp"],
            "row-sum spread": [_num(v, ".2g") for v in ok["rowsum_spread"]],
            "RED err": [_num(v, ".2g") for v in ok["red_error"]],
            "verdict": ok["verdict"],
            "params": ok["params"].astype(str),
            "K/N": [_num(v, ".3f") for v in ok["k_over_n"]],
            "edges kept": [_num(v, ".3f") for v in ok["edges_kept"]],
            "components in→out": _components(ok),
            "epochs": ok["epochs"].astype(str),
            "sec": [_num(v, ".0f") for v in ok["total_sec"]],
            "status": ok["status"],
        }
    )


def preservation_table(rows: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Pooler × graph pivot of the score, then the cost profile averaged over graphs."""
    metric = "mse" if kind == "autoencoder" else "spectral_loss"
    part = rows[(rows["kind"] == kind) & (rows["graph"] != "")]
    if part.empty:
        return pd.DataFrame()
    pivot = part.pivot_table(index="pooler", columns="graph", values=metric)
    graphs = list(pivot.columns)
    cost = part.groupby("pooler")[
        ["params", "k_over_n", "edges_kept", "components_in", "components_pooled"]
    ].mean()
    failed = rows[(rows["kind"] == kind) & (rows["status"] != "ok")]
    table = pd.DataFrame(
        {"pooler": sorted(set(part["pooler"]) | set(failed["pooler"]))}
    )
    for g in graphs:
        table[g] = [_num(pivot[g].get(p, float("nan")), ".3g") for p in table["pooler"]]
    table["mean"] = [
        _num(pivot.loc[p].mean() if p in pivot.index else float("nan"), ".3g")
        for p in table["pooler"]
    ]
    for col, fmt in (("params", ".0f"), ("k_over_n", ".3f"), ("edges_kept", ".3f")):
        table[col.replace("k_over_n", "K/N").replace("edges_kept", "edges kept")] = [
            _num(cost[col].get(p, float("nan")), fmt) for p in table["pooler"]
        ]
    table["components in→out"] = _components(cost.reindex(table["pooler"]))
    table["status"] = [
        "failed" if p in set(failed["pooler"]) else "ok" for p in table["pooler"]
    ]
    return table


def _components(frame: pd.DataFrame) -> list[str]:
    """Mean connected components per graph before → after pooling."""
    return [
        f"{_num(a, '.2f')}→{_num(b, '.2f')}"
        for a, b in zip(frame["components_in"], frame["components_pooled"])
    ]


TITLES = {
    "expressiveness": "Expressiveness: test accuracy and the three conditions "
    f"({TOLERANCES})",
    "autoencoder": "Node-information preservation: reconstruction MSE (lower is "
    "better)",
    "spectral": "Topology preservation: spectral loss Σ(xᵀLx − x'ᵀL'x')² (lower is "
    "better)",
}


def kind_table(rows: pd.DataFrame, kind: str) -> pd.DataFrame:
    if rows.empty:
        return pd.DataFrame()
    if kind == "expressiveness":
        return expressiveness_table(rows)
    return preservation_table(rows, kind)


def print_kind(rows: pd.DataFrame, kind: str, console: Console) -> pd.DataFrame:
    frame = kind_table(rows, kind)
    if frame.empty:
        console.print(f"no {kind} rows yet")
        return frame
    table = Table(title=TITLES[kind])
    for col in frame.columns:
        table.add_column(
            col, no_wrap=True, justify="left" if col == "pooler" else "right"
        )
    for values in frame.itertuples(index=False):
        table.add_row(*(str(v) for v in values))
    console.print(table)
    return frame


def to_markdown(frame: pd.DataFrame, title: str) -> str:
    cols = list(frame.columns)
    lines = [f"**{title}**", "", "| " + " | ".join(cols) + " |"]
    lines.append("|" + "|".join("---" if c == "pooler" else "---:" for c in cols) + "|")
    for values in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in values) + " |")
    return "\n".join(lines) + "\n"


def render_eval_tables(results_dir, out_dir, console: Console) -> list[Path]:
    """Print every evaluation's table; write ``eval_<kind>.md`` and ``.csv``."""
    rows = EvalStore(results_dir).latest()
    out = Path(out_dir)
    written = []
    for kind in KINDS:
        frame = print_kind(rows, kind, console)
        if frame.empty:
            continue
        out.mkdir(parents=True, exist_ok=True)
        md, csv = out / f"eval_{kind}.md", out / f"eval_{kind}.csv"
        # whole or not at all, as the run tables
        replace_atomically(md, to_markdown(frame, TITLES[kind]).encode())
        replace_atomically(csv, frame.to_csv(index=False).encode())
        written += [md, csv]
    return written


def render_figures(
    results_dir: Path, kind: str, graphs: set[str] | None = None
) -> list[Path]:
    """The figures of ``kind``; with ``graphs``, only those of these graphs (the
    ones a command just evaluated), each still showing every pooler stored."""
    from poolbench.evaluation.figures import (
        draw_autoencoder,
        draw_expressiveness,
        draw_spectral,
    )

    if kind == "expressiveness":
        return draw_expressiveness(Path(results_dir))
    if kind == "autoencoder":
        return draw_autoencoder(Path(results_dir), graphs)
    if kind == "spectral":
        return draw_spectral(Path(results_dir), graphs)
    return []  # pragma: no cover - kinds are checked by the CLI
