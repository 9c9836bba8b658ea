"""Write docs/poolers.md from the registry, or measure the costs it shows first.

    python scripts/catalogue.py            # render docs/poolers.md (make catalogue)
    python scripts/catalogue.py --measure  # poolbench bench on MUTAG and PROTEINS,
                                           # write docs/pooler_costs.csv, render
                                           # (make catalogue-costs)

--measure times poolbench's training path exactly as `poolbench bench` does
for its "poolbench" column (the same function: packed data, precomputed
pooling, one thread, fold-0 train split, validation pass per epoch, first
epoch a warm-up), without the plain-PyG comparison loops that bench adds (NMF
alone would take 20 minutes there on PROTEINS). A few minutes on 2 CPU cores;
timings depend on what else runs, so each row records the load average.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from poolbench.pooling.catalogue import (  # noqa: E402
    COST_DATASETS,
    COST_FIELDS,
    read_costs,
    render_catalogue,
)
from poolbench.pooling.registry import discover  # noqa: E402

DOC = REPO / "docs" / "poolers.md"
COSTS = REPO / "docs" / "pooler_costs.csv"


def measure(poolers: list[str], epochs: int) -> None:
    from poolbench.bench.epochs import poolbench_loop
    from poolbench.bench.setup import build_experiment
    from poolbench.training.device import PeakMemory, set_threads

    set_threads(1)
    memory = PeakMemory(torch.device("cpu"))
    rows = []
    stamp = time.strftime("%Y-%m-%d")
    for dataset in COST_DATASETS:
        for pooler in poolers:
            load = f"{os.getloadavg()[0]:.1f}"
            exp = build_experiment(dataset.lower(), pooler, ["seed=0"])
            memory.reset()
            sec, _ = poolbench_loop(exp, exp.splits()[0], epochs, seed=0)
            rows.append({
                "dataset": exp.dataset.name, "pooler": pooler,
                "sec_per_epoch": f"{sec:.4f}", "peak_mem_mb": f"{memory.peak_mb():.0f}",
                "epochs": epochs, "measured_at": stamp, "load_avg": load,
            })  # fmt: skip
            print(
                f"{dataset} {pooler}: {sec:.4f} s/epoch (load {load})", file=sys.stderr
            )
    # Keep earlier measurements of poolers not measured this time.
    old = {}
    if COSTS.is_file():
        with COSTS.open() as f:
            old = {(r["pooler"], r["dataset"]): r for r in csv.DictReader(f)}
    for r in rows:
        old[(r["pooler"], r["dataset"])] = r
    with COSTS.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COST_FIELDS)
        writer.writeheader()
        writer.writerows(
            sorted(old.values(), key=lambda r: (r["pooler"], r["dataset"]))
        )
    print(f"wrote {COSTS}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--measure", action="store_true", help="run the bench first")
    parser.add_argument("--poolers", default="", help="comma list (default: all)")
    parser.add_argument("--epochs", type=int, default=4, help="bench epochs (≥ 2)")
    args = parser.parse_args()
    registry = discover()
    if args.measure:
        names = [p for p in args.poolers.split(",") if p] or list(registry)
        measure(names, args.epochs)
    DOC.write_text(render_catalogue(registry, read_costs(COSTS)))
    print(f"wrote {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
