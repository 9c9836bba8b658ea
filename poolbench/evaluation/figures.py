"""Figures of the preservation evaluations, drawn from the saved artifacts.

Every eval run saves its graph-level outputs under
``<results>/eval_artifacts/<kind>/<graph>/<pooler>.pt``. A command redraws
the figures of the graphs it evaluated, each from every pooler's artifacts of
that graph, so poolers evaluated in separate commands end up side by side.
PNGs go to ``<results>/figures/``.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on clusters
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from poolbench.report.figures import save_figure  # noqa: E402

SPECTRAL_GRAPHS = ("grid", "ring")


def _artifacts(
    results_dir: Path, kind: str, graphs: set[str] | None
) -> dict[str, dict[str, dict]]:
    """Per graph (all, or only ``graphs``), every pooler's saved outputs."""
    root = results_dir / "eval_artifacts" / kind
    found: dict[str, dict[str, dict]] = {}
    for graph_dir in sorted(p for p in root.glob("*") if p.is_dir()):
        if graphs is not None and graph_dir.name not in graphs:
            continue
        files = sorted(graph_dir.glob("*.pt"))
        if files:
            found[graph_dir.name] = {
                f.stem: torch.load(f, weights_only=True) for f in files
            }
    return found


def _grid(panels: int, three_d: bool):
    cols = min(6, panels)
    rows = math.ceil(panels / cols)
    fig = plt.figure(figsize=(2.6 * cols, 2.6 * rows))
    axes = [
        fig.add_subplot(rows, cols, i + 1, projection="3d" if three_d else None)
        for i in range(panels)
    ]
    return fig, axes


def _points(ax, pos, colour, three_d: bool, size=6):
    pos = pos.numpy()
    cmap = None if isinstance(colour, str) else "viridis"  # one colour: no map
    if three_d:
        ax.scatter(pos[:, 0], pos[:, 1], pos[:, 2], c=colour, s=size, cmap=cmap)
        ax.set_zticks([])
    else:
        ax.scatter(pos[:, 0], pos[:, 1], c=colour, s=size, cmap=cmap)
        ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])


def _edges(ax, pos, edge_index, weight=None, colour="0.6"):
    pos = pos[:, :2].numpy()
    w = torch.ones(edge_index.size(1)) if weight is None else weight.abs()
    top = float(w.max()) if w.numel() else 1.0
    # Faint dense-pooler edges (below 2% of the largest weight) would bury the rest.
    keep = (edge_index[0] < edge_index[1]) & (w > 0.02 * top)
    src, dst = edge_index[:, keep].numpy()
    alpha = (0.25 + 0.75 * w[keep] / top).clamp(max=1.0).numpy()
    rgba = [(*matplotlib.colors.to_rgb(colour), a) for a in alpha]
    segments = list(zip(pos[src], pos[dst]))
    ax.add_collection(LineCollection(segments, colors=rgba, linewidths=0.6))


def draw_autoencoder(results_dir: Path, graphs: set[str] | None = None) -> list[Path]:
    """Per graph: the original points, then each pooler's reconstruction."""
    out = results_dir / "figures"
    paths = []
    for graph, by_pooler in _artifacts(results_dir, "autoencoder", graphs).items():
        first = next(iter(by_pooler.values()))
        pos = first["pos"]
        three_d = pos.size(1) == 3
        colour = pos[:, 0].numpy()  # each node keeps its original colour
        fig, axes = _grid(len(by_pooler) + 1, three_d)
        _points(axes[0], pos, colour, three_d)
        axes[0].set_title("original", fontsize=9)
        for ax, (pooler, art) in zip(axes[1:], sorted(by_pooler.items())):
            _points(ax, art["x_hat"], colour, three_d)
            if not three_d:  # the original's frame: a collapse shows as one
                ax.set_xlim(axes[0].get_xlim())
                ax.set_ylim(axes[0].get_ylim())
            mse = float(((art["x_hat"] - art["pos"]) ** 2).mean())
            ax.set_title(f"{pooler}\nMSE {mse:.3g}", fontsize=9)
        fig.suptitle(f"autoencoder reconstruction: {graph}")
        fig.tight_layout()
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"autoencoder_{graph}.png"
        save_figure(fig, path, dpi=110, bbox_inches=None)
        plt.close(fig)
        paths.append(path)
    return paths


def draw_spectral(results_dir: Path, graphs: set[str] | None = None) -> list[Path]:
    """Per graph (grid, ring): A, then A' of each pooler at its supernodes' mean."""
    out = results_dir / "figures"
    paths = []
    for graph, by_pooler in _artifacts(results_dir, "spectral", graphs).items():
        if graph not in SPECTRAL_GRAPHS:
            continue
        first = next(iter(by_pooler.values()))
        fig, axes = _grid(len(by_pooler) + 1, three_d=False)
        _edges(axes[0], first["pos"], first["edge_index"])
        _points(axes[0], first["pos"], "tab:blue", False)
        axes[0].set_title(f"A ({first['pos'].size(0)} nodes)", fontsize=9)
        for ax, (pooler, art) in zip(axes[1:], sorted(by_pooler.items())):
            _edges(ax, first["pos"], first["edge_index"], colour="0.9")
            pooled = art["pooled_pos"]
            _edges(ax, pooled, art["pooled_edge_index"], art["pooled_edge_weight"], "k")
            _points(ax, pooled, "tab:red", False, size=10)
            ax.set_title(f"{pooler}: A' ({pooled.size(0)} nodes)", fontsize=9)
        fig.suptitle(f"A vs A' per pooler: {graph} (grey: A; black: A')")
        fig.tight_layout()
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"spectral_{graph}.png"
        save_figure(fig, path, dpi=110, bbox_inches=None)
        plt.close(fig)
        paths.append(path)
    return paths


def draw_expressiveness(results_dir: Path) -> list[Path]:
    """Test accuracy per pooler, coloured by the measured verdict."""
    from poolbench.evaluation.rows import EvalStore

    rows = EvalStore(results_dir).latest()
    rows = rows[(rows["kind"] == "expressiveness") & (rows["status"] == "ok")]
    if rows.empty:
        return []
    rows = rows.sort_values("test_acc")
    colours = ["tab:green" if v == "expressive" else "tab:red" for v in rows["verdict"]]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(rows) + 1.2))
    ax.barh(rows["pooler"], 100 * rows["test_acc"], color=colours)
    ax.axvline(50, color="0.5", ls=":", lw=1)
    ax.set_xlim(0, 100)
    ax.set_xlabel("test accuracy % (green: conditions hold, red: some fail)")
    ax.set_title(f"expressiveness: {rows['graph'].iloc[0]}")
    fig.tight_layout()
    out = results_dir / "figures"
    out.mkdir(parents=True, exist_ok=True)
    path = out / "expressiveness_accuracy.png"
    save_figure(fig, path, dpi=110, bbox_inches=None)
    plt.close(fig)
    return [path]
