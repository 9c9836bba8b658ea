"""The side-by-side table (terminal) and ``docs/reproductions/<name>.md``."""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import torch
import torch_geometric
from rich.console import Console
from rich.table import Table

from poolbench.report.statistics import (
    RankComparison,
    compare_over_datasets,
    compare_per_dataset,
    draw_cd_diagram,
    rank_lines,
)
from poolbench.report.summary import mean_std_text
from poolbench.reproduce.run import CellRun, tidy_scores
from poolbench.reproduce.spec import Budget, Reproduction
from poolbench.reproduce.verdict import ALPHA, MIN_STD, Verdict, judge

OURS_DECIMALS = 2  # our scores (in %) as the report prints them

HEADER = (
    "method",
    "dataset",
    "paper",
    "ours",
    "n",
    "Δ",
    "in ±std",
    "Welch p",
    "verdict",
)


@dataclass
class Outcome:
    """Everything the table and the report show."""

    spec: Reproduction
    budget: Budget
    runs: list[CellRun]
    verdicts: list[Verdict]
    ours_ranks: RankComparison
    paper_ranks: RankComparison
    ties: list


def evaluate(spec: Reproduction, budget: Budget, runs: list[CellRun]) -> Outcome:
    verdicts = [
        judge(
            r.values,
            r.cell.published_mean,
            r.cell.published_std,
            spec.published_n,
            r.expected,
            runs=(r.ok_runs, r.expected_runs),
            stand_in=r.stand_in,
        )
        for r in runs
    ]
    scores = tidy_scores(runs)
    paper = pd.DataFrame(  # the paper's means, one "fold" each
        [
            {
                "pooler": r.cell.method,
                # the paper ran on its own set, not on a budget's stand-in
                "dataset": r.cell.dataset,
                "fold": 0,
                "score": r.cell.published_mean,
                "higher_is_better": True,
            }
            for r in runs
        ],
        columns=scores.columns,
    )
    return Outcome(
        spec,
        budget,
        runs,
        verdicts,
        # ranked on the 2 decimals the report prints (in %), as the tables do
        compare_over_datasets(scores, ALPHA, OURS_DECIMALS),
        compare_over_datasets(paper, ALPHA),
        compare_per_dataset(scores, ALPHA, OURS_DECIMALS) if len(scores) else [],
    )


def _span(runs: list[CellRun]) -> str:
    """First start to last finish over every cell's rows, across invocations."""
    starts = [r.span[0] for r in runs if r.span[0]]
    ends = [r.span[1] for r in runs if r.span[1]]
    if not starts:
        return "nothing (no rows)"
    first, last = min(starts), max(ends)
    sec = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
    return f"{first} to {last} ({sec:.0f} s)"


def _p(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.3f}"


def _tied(t) -> str:
    if t.tied_with_best:
        return "yes"
    return "no" if t.tested else "untested (under 2 shared folds)"


def cells_text(out: Outcome) -> list[list[str]]:
    rows = []
    for run, v in zip(out.runs, out.verdicts):
        ours = mean_std_text(v.ours_mean, v.ours_std, OURS_DECIMALS) if v.n else "—"
        rows.append(
            [
                run.cell.method,
                run.dataset_name or run.dataset_config,
                f"{v.paper_mean:.1f} ± {v.paper_std:.1f}",
                ours,
                f"{v.n}/{v.expected}",
                f"{v.delta:+.2f}" if v.n else "—",
                "yes" if v.inside else "no",
                _p(v.welch_p),
                v.label,
            ]
        )
    return rows


def print_outcome(out: Outcome, console: Console, extra: list[str] = ()) -> None:
    table = Table(
        title=f"{out.spec.name}, budget {out.budget.name}: ours vs the paper "
        f"(test accuracy %, ± = std over {out.spec.spread})",
        title_justify="left",
    )
    for col in HEADER:
        table.add_column(
            col,
            no_wrap=col != "verdict",
            justify="left" if col in ("method", "verdict") else "right",
        )
    for row in cells_text(out):
        table.add_row(*row)
    console.print(table)
    console.print(f"budget {out.budget.name}: {out.budget.note}", markup=False)
    if extra:  # the user's --set changed every cell: said next to the numbers
        console.print(f"every cell also ran with: {' '.join(extra)}", markup=False)
    for line in ["ours: " + s for s in rank_lines(out.ours_ranks)] + [
        "paper: " + s for s in rank_lines(out.paper_ranks)
    ]:
        console.print(line, markup=False)


def machine_line() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    return (
        f"{platform.platform()}, {os.cpu_count()} CPU(s), Python "
        f"{platform.python_version()}, torch {torch.__version__}, PyG "
        f"{torch_geometric.__version__}; load average {load:.1f} when the report "
        "was written (a shared machine: timings are not benchmarks)"
    )


def write_report(
    out: Outcome,
    path: Path,
    command: str,
    commit: str,
    wall_sec: float | None,
    extra: list[str],
) -> Path:
    spec, budget = out.spec, out.budget
    lines = [
        f"# Reproduction: {spec.name} (budget `{budget.name}`)",
        "",
        "Generated by `poolbench reproduce`; rerun the command to update it "
        "(finished runs are skipped).",
        "",
        f"- **Paper:** {spec.paper}",
        f"- **Published numbers:** {spec.source} (`conf/reproduce/{spec.name}.yaml`)",
        f"- **Command:** `{command}`",
        f"- **Machine:** {machine_line()}",
        f"- **Commit:** {commit or 'unknown'} (this report); the runs were made "
        f"at {', '.join(sorted(set().union(*(r.commits for r in out.runs)))) or '—'}",
        "- **Wall time:** "
        + (
            "none for this invocation (--no-run: tabulated only)"
            if wall_sec is None
            else f"{wall_sec:.0f} s for this invocation"
        )
        + "; the cells' "
        f"runs span {_span(out.runs)}; "
        f"{sum(r.compute_sec for r in out.runs):.0f} s of training recorded in "
        "the rows and selection candidates of these cells (over all invocations)",
        f"- **What was reduced and why ({budget.name}):** {budget.note}",
    ]
    if extra:
        lines.append(f"- **Extra overrides:** `{' '.join(extra)}`")
    lines += [
        "",
        "## Ours vs the paper",
        "",
        f"Test accuracy (%), mean ± std (ddof=0) over {spec.spread} "
        f"(n ours / expected; the paper's n = {spec.published_n}). "
        "`in ±std`: our mean lies within the paper's ± std. Welch p: Welch's "
        "t-test of the two means from their stds and n. Verdict: `reproduced` "
        f"(inside ±std, p ≥ {ALPHA}), `differs` (p < {ALPHA}), `outside ±std` "
        f"(outside, p ≥ {ALPHA}); `partial` when folds or runs are missing; "
        "`reference only` on a stand-in set (no verdict: the paper never ran on "
        f"it); a published ± 0.0 counts as ± {MIN_STD} (below its last digit).",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join([":---", ":---"] + ["---:"] * 6 + [":---"]) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in cells_text(out)]
    lines += ["", "## Ranks (critical difference, Demšar 2006)", ""]
    lines += [f"- ours: {s}" for s in rank_lines(out.ours_ranks)]
    lines += [f"- paper: {s}" for s in rank_lines(out.paper_ranks)]
    if out.ours_ranks.pairs:
        lines += [
            "",
            "Pairwise Wilcoxon signed-rank over datasets, Holm-corrected:",
            "",
            "| a | b | p | p (Holm) |",
            "|:---|:---|---:|---:|",
        ]
        lines += [
            f"| {a} | {b} | {_p(p)} | {_p(q)} |" for a, b, p, q in out.ours_ranks.pairs
        ]
    figure = draw_cd_diagram(out.ours_ranks, path.with_name(f"{path.stem}-cd.png"))
    if figure is not None:
        lines += ["", f"![critical-difference diagram]({figure.name})"]
    if out.ties:
        lines += [
            "",
            "## Per dataset: inside the noise of the best",
            "",
            "Paired t-test over the folds (runs) each method shares with the "
            "best, Holm-corrected per dataset; `tied`: not significantly "
            f"worse at {ALPHA}.",
            "",
            "| dataset | method | mean | rank | n | p vs best | tied |",
            "|:---|:---|---:|---:|---:|---:|:---|",
        ]
        lines += [
            f"| {t.dataset} | {t.pooler} | {t.mean:.{OURS_DECIMALS}f} | {t.rank:.1f} | "
            f"{t.folds} | {_p(t.p_vs_best)} | {_tied(t)} |"
            for t in out.ties
        ]
    chosen = [(r, k, c) for r in out.runs for k, c in sorted(r.selected.items())]
    if chosen:
        lines += [
            "",
            "## What model selection chose (folds per value)",
            "",
            "| method | dataset | key | chosen |",
            "|:---|:---|:---|:---|",
        ]
        lines += [
            f"| {r.cell.method} | {r.dataset_name} | {k} | "
            + ", ".join(f"{v} ×{n}" for v, n in sorted(c.items()))
            + " |"
            for r, k, c in chosen
        ]
    lines += ["", "## Each cell as a `poolbench train` command", ""]
    lines += [
        f"- {r.cell.method} / {r.dataset_name}: `poolbench train "
        f"{' '.join(r.overrides)}` (config {r.config_hash}, "
        f"{r.ok_runs}/{r.expected_runs} ok runs, {r.failed} failed)"
        for r in out.runs
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
