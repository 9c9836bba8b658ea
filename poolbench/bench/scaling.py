"""Cost scaling: time and memory of one forward+backward of each pooler against N.

One graph of N nodes (Erdős–Rényi with mean degree 4, or Barabási–Albert with
2 edges per new node), features from a linear layer so gradients flow, then the
pooler, then ``sum(x') + aux losses`` backward. For every registered pooler, N
grows by 10x from 10^2 to ``max_nodes``; a point is skipped, and recorded as
skipped, when its estimate passes a cap:

- memory: dense poolers (``is_dense``) hold ``[N, K]`` assignments with
  K = N/2, a dense ``[K, K]`` pooled graph and, unless they declare
  ``needs_dense_adj = False``, ``[N, N]`` adjacencies: estimated as
  4 bytes x 8 x (N^2 + N K + K^2), without the N^2 term for the latter;
  others are extrapolated from the last two measured points with their own
  growth exponent (at least linear). Over ``mem_cap_mb``: ``skip_mem``.
- time: extrapolated the same way (exponent between 1 and 3). Over
  ``time_cap_sec``: ``skip_time``. This keeps the default sweep to minutes on
  two cores; dense and spectral poolers stop around 10^3-10^4 nodes.

A point that still runs out of memory is recorded as ``oom``, never a crash.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from poolbench.pooling.registry import discover
from poolbench.training.device import PeakMemory, _proc_status_kb

FEATURES = 32


@dataclass
class ScalingPoint:
    graph: str
    pooler: str
    family: str
    dense: bool
    nodes: int
    edges: int
    status: str  # ok | skip_mem | skip_time | oom | failed
    sec: float
    peak_mem_mb: float
    est_mem_mb: float
    est_sec: float
    error: str = ""


def erdos_renyi(n: int, mean_degree: float, gen: torch.Generator) -> torch.Tensor:
    """G(N, M) with M = N * mean_degree / 2, undirected, no loops, O(M) memory."""
    m = int(n * mean_degree / 2)
    pairs = torch.randint(0, n, (2, m), generator=gen)
    pairs = pairs[:, pairs[0] != pairs[1]]
    return _undirected(pairs, n)


def barabasi_albert(n: int, per_node: int, gen: torch.Generator) -> torch.Tensor:
    """Preferential attachment: each new node links to ``per_node`` earlier nodes
    drawn with probability proportional to degree (repeated-endpoint list)."""
    targets = torch.arange(per_node).tolist()
    ends: list[int] = []
    src: list[int] = []
    dst: list[int] = []
    rand = torch.rand(n * per_node, generator=gen).tolist()
    r = 0
    for v in range(per_node, n):
        for t in set(targets):
            src.append(v)
            dst.append(t)
        ends.extend(targets)
        ends.extend([v] * per_node)
        targets = [ends[int(rand[r + k] * len(ends))] for k in range(per_node)]
        r += per_node
    return _undirected(torch.tensor([src, dst]), n)


def _undirected(pairs: torch.Tensor, n: int) -> torch.Tensor:
    from torch_geometric.utils import coalesce

    both = torch.cat([pairs, pairs.flip(0)], 1)
    return coalesce(both, num_nodes=n)


def _rss_mb() -> float:
    kb = _proc_status_kb("VmRSS")
    return kb / 1024 if kb is not None else 0.0


def _exact_rss() -> None:
    """Make RSS follow tensor memory (glibc): big blocks always mmapped, so
    freed ones go back to the OS instead of hiding the next point's peak."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD, fixed (not adaptive)
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: peaks are coarser


def one_step(cls, edge_index: torch.Tensor, n: int) -> None:
    """Forward and backward of a linear layer plus the pooler on one graph."""
    torch.manual_seed(0)
    lin = nn.Linear(FEATURES, FEATURES)
    pooler = cls(in_channels=FEATURES, ratio=0.5, avg_nodes=float(n))
    x = lin(torch.randn(n, FEATURES))
    out = pooler(x, edge_index, None, torch.zeros(n, dtype=torch.long))
    loss = out.x.sum() + sum(out.aux_loss.values(), torch.zeros(()))
    if loss.requires_grad:
        loss.backward()


def _grow(prev: list[ScalingPoint], n: int, attr: str, lo: float, hi: float):
    """Extrapolate ``attr`` to ``n`` from the last measured points."""
    done = [p for p in prev if p.status == "ok"]
    if not done:
        return 0.0
    last = done[-1]
    value = max(getattr(last, attr), 1e-3)
    exponent = lo
    if len(done) >= 2:
        a, b = done[-2], done[-1]
        va, vb = max(getattr(a, attr), 1e-3), max(getattr(b, attr), 1e-3)
        exponent = min(hi, max(lo, math.log(vb / va) / math.log(b.nodes / a.nodes)))
    return value * (n / last.nodes) ** exponent


def measure_pooler(
    name: str, cls, graphs: dict[str, dict[int, torch.Tensor]], caps: dict
) -> list[ScalingPoint]:
    points: list[ScalingPoint] = []
    memory = PeakMemory(torch.device("cpu"))
    for graph, by_n in graphs.items():
        prev: list[ScalingPoint] = []
        for n, edge_index in by_n.items():
            if cls.is_dense:
                k = math.ceil(n / 2)
                square = n * n if getattr(cls, "needs_dense_adj", True) else 0
                per_k, per_pair = getattr(cls, "pair_floats", (0, 0))
                square += n * n * (per_k * k + per_pair)
                # S is N x K and the pooled graph K x K (dense, K^2 edges)
                est_mem = 4 * 8 * (square + n * k + k * k) / 2**20
            else:
                est_mem = _grow(prev, n, "peak_mem_mb", 1.0, 2.0)
            est_sec = _grow(prev, n, "sec", 1.0, 3.0)
            point = ScalingPoint(
                graph, name, cls.family, cls.is_dense, n, edge_index.size(1) // 2,
                "ok", float("nan"), float("nan"), est_mem, est_sec,
            )  # fmt: skip
            stopped = any(p.status != "ok" for p in prev)
            if stopped or est_mem > caps["mem_cap_mb"]:
                point.status = "skip_mem" if not stopped else prev[-1].status
            elif est_sec > caps["time_cap_sec"]:
                point.status = "skip_time"
            else:
                try:
                    _exact_rss()
                    base = _rss_mb()
                    memory.reset()
                    start = time.perf_counter()
                    one_step(cls, edge_index, n)
                    point.sec = time.perf_counter() - start
                    point.peak_mem_mb = max(memory.peak_mb() - base, 0.0)
                    if point.sec < 0.2:  # quick points: best of three
                        for _ in range(2):
                            start = time.perf_counter()
                            one_step(cls, edge_index, n)
                            point.sec = min(point.sec, time.perf_counter() - start)
                except (MemoryError, RuntimeError) as exc:
                    oom = isinstance(exc, MemoryError) or "memory" in str(exc).lower()
                    point.status = "oom" if oom else "failed"
                    point.error = str(exc).replace("\n", " ")[:200]
            prev.append(point)
            points.append(point)
    return points


def sizes(max_nodes: int) -> list[int]:
    out, n = [], 100
    while n <= max_nodes:
        out.append(n)
        n *= 10
    return out


def measure_scaling(
    max_nodes: int = 100_000,
    mem_cap_mb: float = 2048,
    time_cap_sec: float = 5.0,
    poolers: list[str] | None = None,
    on_point=None,
) -> list[ScalingPoint]:
    gen = torch.Generator().manual_seed(0)
    graphs = {
        "erdos_renyi": {n: erdos_renyi(n, 4.0, gen) for n in sizes(max_nodes)},
        "barabasi_albert": {n: barabasi_albert(n, 2, gen) for n in sizes(max_nodes)},
    }
    caps = {"mem_cap_mb": mem_cap_mb, "time_cap_sec": time_cap_sec}
    registry = discover()
    points = []
    for name in poolers or sorted(registry):
        found = measure_pooler(name, registry[name], graphs, caps)
        points += found
        if on_point is not None:
            on_point(name, found)
    return points


def save_scaling(points: list[ScalingPoint], out_dir: Path) -> tuple[Path, Path]:
    """``scaling.csv`` and ``scaling.png`` (time and memory, log-log) in out_dir."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out_dir / "scaling.csv", out_dir / "scaling.png"
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(points[0])))
        writer.writeheader()
        writer.writerows(asdict(p) for p in points)
    graphs = list(dict.fromkeys(p.graph for p in points))
    names = sorted({p.pooler for p in points})
    colors = plt.get_cmap("tab20")
    fig, axes = plt.subplots(2, len(graphs), figsize=(6 * len(graphs), 9))
    for col, graph in enumerate(graphs):
        for row, (attr, label) in enumerate(
            [("sec", "seconds per forward+backward"), ("peak_mem_mb", "peak MiB")]
        ):
            ax = axes[row][col]
            floor = 1e-4 if attr == "sec" else 1e-2  # log axes: no zeros
            for i, name in enumerate(names):
                ok = [
                    p for p in points
                    if p.graph == graph and p.pooler == name and p.status == "ok"
                ]  # fmt: skip
                if ok:
                    style = "--" if ok[0].dense else "-"
                    ax.plot(
                        [p.nodes for p in ok],
                        [max(getattr(p, attr), floor) for p in ok],
                        style, marker="o", color=colors(i % 20), label=name,
                    )  # fmt: skip
            ax.set(xscale="log", yscale="log", xlabel="nodes N", ylabel=label)
            ax.set_title(f"{graph.replace('_', '-')}: {label}")
            ax.grid(True, which="both", alpha=0.3)
    axes[0][-1].legend(fontsize=7, ncol=2, title="dashed: dense")
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return csv_path, png_path
