"""How many rows dense pooling pads per real node, one block against size groups.

For each dataset, one epoch of fold-0 training batches (the runner's batch
size and seeded shuffle): padded rows / real rows when every graph of a batch
pads to its largest one (``[B, N_max]``), and with the batch's graphs grouped
by size (:class:`poolbench.pooling.dense.SizeGroups`, what the soft-clustering
poolers use for ``S^T S``, ``S^T A S`` and ``S^T X``).

    python scripts/padding_rows.py proteins dd mutag
"""

from __future__ import annotations

import argparse

from poolbench.bench.setup import build_experiment
from poolbench.pooling.dense import SizeGroups
from poolbench.training.seeding import seed_everything


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+")
    args = parser.parse_args()
    print("dataset  real rows  one block  size groups")
    for name in args.datasets:
        exp = build_experiment(name, "mincut", ["seed=0"])
        split = exp.splits()[0]
        loader = exp.loader(split.train, shuffle=True, generator=seed_everything(0))
        real = one = grouped = 0
        for batch in loader:
            counts = batch.batch.bincount()
            real += int(counts.sum())
            one += counts.numel() * int(counts.max())
            grouped += SizeGroups.of(batch.batch).rows
        ratios = f"{one / real:8.2f}x  {grouped / real:10.2f}x"
        print(f"{exp.dataset.name:8s} {real:9d}  {ratios}")


if __name__ == "__main__":
    main()
