"""The pooler catalogue, ``docs/poolers.md``: the registry as a cheat-sheet.

Everything in it comes from the registry (each class's metadata, ``paper`` and
``reference``; the names of its aux losses from one forward pass on a small
graph) except the measured costs, which are machine-dependent and live in a
checked-in CSV written by ``make catalogue-costs`` (``poolbench bench`` on
MUTAG and PROTEINS). ``make catalogue`` regenerates the markdown from both; a
test fails when the checked-in file is stale.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from poolbench.pooling.base import Pooler

COST_DATASETS = ("MUTAG", "PROTEINS")
COST_FIELDS = (
    "dataset", "pooler", "sec_per_epoch", "peak_mem_mb", "epochs", "measured_at",
    "load_avg",
)  # fmt: skip
FAMILIES = {
    "soft_clustering": "soft clustering: dense learned S, K = ceil(ratio x avg nodes)",
    "one_over_k": "one-over-K / topology clustering: S from the graph alone, no "
    "parameters, precomputed",
    "score": "score-based: keep the top-scored nodes (or edges)",
    "control": "controls (Mesquita et al. 2020; Bianchi & Lachi 2023)",
    "none": "no pooling",
}


@dataclass
class Cost:
    sec_per_epoch: float
    peak_mem_mb: float
    epochs: int
    measured_at: str
    load_avg: str


def read_costs(path: Path) -> dict[tuple[str, str], Cost]:
    """``(pooler, dataset) -> Cost`` from the checked-in CSV (empty if absent)."""
    if not path.is_file():
        return {}
    out = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            out[(row["pooler"], row["dataset"])] = Cost(
                float(row["sec_per_epoch"]),
                float(row["peak_mem_mb"]),
                int(row["epochs"]),
                row["measured_at"],
                row["load_avg"],
            )
    return out


def aux_loss_names(cls: type[Pooler]) -> list[str]:
    """The named aux losses of one forward pass on a 6-node ring."""
    if not cls.has_aux_loss:
        return []
    torch.manual_seed(0)
    pooler = cls(in_channels=4, ratio=0.5, avg_nodes=6.0)
    ring = torch.arange(6)
    edge_index = torch.stack(
        [torch.cat([ring, (ring + 1) % 6]), torch.cat([(ring + 1) % 6, ring])]
    )
    out = pooler(torch.randn(6, 4), edge_index, None, torch.zeros(6, dtype=torch.long))
    return sorted(out.aux_loss)


def _paper(text: str) -> str:
    match = re.search(r"(https?://\S+)$", text)
    if not match:
        return text
    return f"[{text[: match.start()].rstrip(', ')}]({match.group(1)})"


def _yes(flag: bool) -> str:
    return "yes" if flag else "–"


def _cost(cost: Cost | None) -> str:
    if cost is None:
        return "not measured"
    return f"{cost.sec_per_epoch:.3f} s · {cost.peak_mem_mb:.0f} MiB"


LEGEND = """\
# Pooler catalogue

Every pooler registered in poolbench, generated from the registry by
`make catalogue` (do not edit by hand: `tests/test_catalogue.py` fails when this
file is stale). Train any of them with `poolbench train pooler=<name>`; the
constructor arguments are in `conf/pooler/<name>.yaml`.

Columns:

- **family**: how S is built (see the sections of the README); **dense**: a
  padded `[B, N, K]` assignment (memory grows with `B N K`, and `B N^2` where
  the adjacency is made dense) or a sparse/hard one.
- **trainable**: has parameters; **aux losses**: the named auxiliary losses it
  adds to the training loss (each logged per term); **precomputable**: SEL and
  CON read only the graph, so poolbench computes them once per dataset and
  caches them (`trainer.precompute`).
- **expressive**: meets the sufficient conditions of Bianchi & Lachi (NeurIPS
  2023) for preserving the expressiveness of the MP layers before it: every
  node assigned, constant row sums of S, RED = `S^T X`.
- **can cluster**: a learned S trained by a clustering objective of its own, so
  it can detect communities without labels; **can lift**: maps pooled features
  back to the input nodes (`Pooler.lift`, used by Graph U-Nets).
- **reference**: how the operator was checked, with the test file under
  `tests/pooling/reference/` or `tests/pooling/poolers/`.
- **MUTAG / PROTEINS**: seconds per training epoch and peak memory (CPU RSS)
  on poolbench's training path, timed as the "poolbench" column of
  `poolbench bench` (default config: GIN, blocks [2, 1], hidden 64, batch 32,
  one thread, precomputed pooling). Machine-dependent: see the note under the
  table.
"""


def render_catalogue(
    registry: dict[str, type[Pooler]], costs: dict[tuple[str, str], Cost]
) -> str:
    """The markdown of ``docs/poolers.md``."""
    head = (
        "| pooler | family | paper | dense | trainable | aux losses | "
        "precomputable | expressive | can cluster | can lift | reference | "
        + " | ".join(COST_DATASETS)
        + " |"
    )
    lines = [LEGEND, head, "|" + "---|" * (12 + len(COST_DATASETS) - 1)]
    order = {family: i for i, family in enumerate(FAMILIES)}
    names = sorted(registry, key=lambda n: (order[registry[n].family], n))
    for name in names:
        cls = registry[name]
        meta = cls.metadata()
        cells = [
            f"`{name}`",
            meta["family"],
            _paper(cls.paper),
            "dense" if meta["dense"] else "sparse",
            _yes(meta["trainable"]),
            ", ".join(aux_loss_names(cls)) or "–",
            _yes(meta["precomputable"]),
            _yes(meta["expressive"]),
            _yes(meta["can_cluster"]),
            _yes(meta["can_lift"]),
            cls.reference,
        ] + [_cost(costs.get((name, d))) for d in COST_DATASETS]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Families: " + "; ".join(f"`{k}`: {v}" for k, v in FAMILIES.items()))
    lines.append("")
    lines.append(
        f"{len(registry)} registered: "
        f"{sum(c.family != 'control' for c in registry.values())} poolers "
        f"(including `none`) and "
        f"{sum(c.family == 'control' for c in registry.values())} controls. "
        f"Can cluster: {', '.join(n for n in names if registry[n].can_cluster)}."
    )
    lines.append("")
    if costs:
        dates = ", ".join(sorted({c.measured_at for c in costs.values()}))
        loads = sorted(float(c.load_avg) for c in costs.values())
        epochs = ", ".join(str(e) for e in sorted({c.epochs for c in costs.values()}))
        lines.append(
            f"Costs measured with `make catalogue-costs` ({epochs} epochs, the first "
            f"a warm-up) on {dates}, on a 2-core CPU machine shared with other "
            f"jobs (load average {loads[0]:g} to {loads[-1]:g}); peak memory "
            f"includes the process's ~0.45 GB baseline. Treat them as relative "
            f"figures; `poolbench bench --datasets mutag --poolers <name>` "
            f"measures your own."
        )
    else:
        lines.append("Costs not measured yet: run `make catalogue-costs`.")
    return "\n".join(lines) + "\n"
