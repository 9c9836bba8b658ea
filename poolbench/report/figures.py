"""Benchmark figures (PNG and PDF): score vs cost, peak memory, fold scores.

Drawn with matplotlib's Agg backend, so they render on headless machines and
in CI. Inputs are the tidy summary of :func:`poolbench.report.tables.build_tables`
and the per-fold means of :func:`poolbench.report.summary.fold_means`.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display needed
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from poolbench.report.summary import GROUP  # noqa: E402
from poolbench.report.tables import complete, table_suffix  # noqa: E402
from poolbench.results.files import replace_atomically  # noqa: E402
from poolbench.results.row import METRICS, MetricInfo  # noqa: E402

FORMATS = ("png", "pdf")


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both cost (lower) and accuracy.

    ``points`` are ``(seconds, accuracy)``; the front is returned by rising cost.
    A point without a finite cost (an untrained baseline has no epochs) or
    score is on no front: NaN would make the sort order arbitrary.
    """
    finite = [
        i for i, (x, y) in enumerate(points) if math.isfinite(x) and math.isfinite(y)
    ]
    order = sorted(finite, key=lambda i: (points[i][0], -points[i][1]))
    front, best_acc = [], -math.inf
    for i in order:
        if points[i][1] > best_acc + 1e-12:  # equal accuracy at more cost: dominated
            front.append(i)
            best_acc = points[i][1]
    return front


def _grid(n: int, width: float = 4.6, height: float = 3.6):
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(width * cols, height * rows), squeeze=False
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def save_figure(fig, path: Path, **savefig) -> None:
    """``fig`` to ``path`` whole or not at all: rendered in memory, then
    renamed into place, so a full disk never leaves a truncated image.
    ``savefig``: matplotlib's options (default 150 dpi, tight box)."""
    buffer = io.BytesIO()
    options = {"dpi": 150, "bbox_inches": "tight", **savefig}
    fig.savefig(buffer, format=path.suffix[1:], **options)
    replace_atomically(path, buffer.getvalue())


def _save(fig, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    paths = [out_dir / f"{stem}.{ext}" for ext in FORMATS]
    try:
        for path in paths:
            save_figure(fig, path)
    finally:
        plt.close(fig)
    return paths


def _scaled(info: MetricInfo, values):
    return [100 * v for v in values] if info.percent else list(values)


def accuracy_vs_time(
    summary: pd.DataFrame, out_dir: Path, stem: str, metric: str = "acc"
) -> list[Path]:
    """Per dataset: the headline score (± std) against seconds per epoch, with
    the Pareto front (cheaper and better) in red."""
    info = METRICS[metric]
    sign = 1 if info.higher_is_better else -1
    data = summary[summary["folds"] > 0]
    datasets = sorted(data["dataset"].unique())
    fig, axes = _grid(len(datasets))
    for ax, dataset in zip(axes, datasets):
        part = data[data["dataset"] == dataset].reset_index(drop=True)
        timed = part["sec_per_epoch"].map(lambda v: math.isfinite(v) and v > 0)
        untrained, part = part[~timed], part[timed].reset_index(drop=True)
        xs, ys = part["sec_per_epoch"].tolist(), _scaled(info, part["mean"])
        whole = [complete(r) for r in part.itertuples()]
        for full, face in ((True, "tab:blue"), (False, "none")):
            idx = [i for i, w in enumerate(whole) if w == full]
            if idx:
                ax.errorbar(
                    [xs[i] for i in idx], [ys[i] for i in idx],
                    yerr=[_scaled(info, part["std"])[i] for i in idx], fmt="o",
                    color="tab:blue", alpha=0.7, markerfacecolor=face,
                )  # fmt: skip
        # as the tables: a cell short of its protocol (hollow) is no winner
        front = [
            i
            for i in pareto_front(
                [(x, sign * y) if w else (math.inf, -math.inf)
                 for x, y, w in zip(xs, ys, whole)]
            )
            if whole[i]
        ]  # fmt: skip
        ax.plot(
            [xs[i] for i in front],
            [ys[i] for i in front],
            "s-",
            color="tab:red",
            drawstyle="steps-post",
            label="Pareto front",
        )
        for x, y, label, w, r in zip(xs, ys, part["label"], whole, part.itertuples()):
            text = label if w else f"{label} ({r.runs}/{r.expected})"
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4))
        # A baseline that trains nothing (k-means, spectral) has no time per
        # epoch to place it by: a dashed line at its score, outside the front.
        for y, label in zip(_scaled(info, untrained["mean"]), untrained["label"]):
            ax.axhline(y, color="tab:gray", linestyle="--", linewidth=1)
            ax.annotate(
                f"{label} (untrained)", (0.01, y), xycoords=("axes fraction", "data"),
                textcoords="offset points", xytext=(0, 3), color="tab:gray",
                fontsize="small",
            )  # fmt: skip
        if len(xs) > 1 and max(xs) / max(min(xs), 1e-9) > 20:
            ax.set_xscale("log")
        ax.set_title(dataset)
        ax.set_xlabel("seconds per epoch")
        ax.set_ylabel(info.label)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    name = "accuracy" if metric == "acc" else metric
    return _save(fig, out_dir, f"{name}-vs-time-{stem}")


def peak_memory(summary: pd.DataFrame, out_dir: Path, stem: str) -> list[Path]:
    """Peak memory per pooler, one bar per dataset."""
    data = summary[summary["runs"] > 0]
    table = data.pivot_table(
        index="label", columns="dataset", values="peak_mem_mb", aggfunc="max"
    )
    kinds = ", ".join(sorted(set(data["mem_kind"]) - {""})) or "n/a"
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(table) + 2), 4))
    table.plot.bar(ax=ax, rot=45, width=0.8)
    plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    ax.set_ylabel(f"peak memory (MiB, {kinds})")
    ax.set_xlabel("pooler")
    ax.grid(axis="y", alpha=0.3)
    # Beside the plot, not on it: inside it covered the tallest bars.
    ax.legend(
        fontsize="small", title="dataset", loc="upper left", bbox_to_anchor=(1.01, 1)
    )
    return _save(fig, out_dir, f"peak-memory-{stem}")


def fold_boxplots(
    summary: pd.DataFrame,
    folds: pd.DataFrame,
    out_dir: Path,
    stem: str,
    metric: str = "acc",
) -> list[Path]:
    """Per dataset: a box of each pooler's values its std is over: the
    per-fold means, or the runs of a one-split protocol (one box of one line
    each, before: the std the table printed was not to be seen)."""
    info = METRICS[metric]
    labelled = folds.merge(summary[GROUP + ["label"]], on=GROUP)
    datasets = sorted(labelled["dataset"].unique())
    fig, axes = _grid(len(datasets), width=max(4.6, 0.5 * labelled.label.nunique()))
    for ax, dataset in zip(axes, datasets):
        part = labelled[labelled["dataset"] == dataset]
        labels = sorted(part["label"].unique())
        values = [_scaled(info, part.loc[part.label == lb, "score"]) for lb in labels]
        ax.boxplot(values, tick_labels=labels)
        # Anchored at the label's end, so long labels do not run into each other.
        ax.tick_params(axis="x", rotation=45)
        plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
        ax.set_title(dataset)
        over = set(summary.loc[summary["dataset"] == dataset, "spread"])
        ax.set_ylabel(f"per {'run' if over == {'runs'} else 'fold'}: {info.label}")
        ax.grid(axis="y", alpha=0.3)
    name = "accuracy" if metric == "acc" else metric
    return _save(fig, out_dir, f"fold-{name}-{stem}")


def draw_figures(
    summary: pd.DataFrame, folds: pd.DataFrame, out_dir: Path
) -> list[Path]:
    """Every figure, per protocol, task and metric; returns the files written."""
    paths: list[Path] = []
    for (protocol, task, metric), part in summary.groupby(
        ["table_protocol", "task", "metric"], sort=True
    ):
        # the tables' own suffix: accuracy-vs-time-cv10-regression beside
        # rmse-cv10-regression (it said -graph)
        stem = table_suffix(protocol, task, metric)
        part_folds = folds.merge(part[GROUP], on=GROUP)
        if (part["folds"] > 0).any():
            paths += accuracy_vs_time(part, out_dir, stem, metric)
            paths += fold_boxplots(part, part_folds, out_dir, stem, metric)
        if (part["runs"] > 0).any():
            paths += peak_memory(part, out_dir, stem)
    return paths
