"""Milliseconds per training batch of each edge-form loss piece, with and
without its gradient, on one epoch of fold-0 PROTEINS batches.

What a dense pooler pays on top of MinCut's shared work: HOSC's triangle
listing and motif cut, ACC's total variation and balance, and BN-Pool's
all-pairs cross-entropy. S is a random softmax assignment with the pooler's
K; each piece runs on every batch, best of ``--repeats`` passes, one thread.
Against it, ``pooler=none``'s forward, backward and step on the same batches.

    python scripts/loss_costs.py [dataset]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from poolbench.bench.setup import build_experiment
from poolbench.pooling.dense import SizeGroups, edge_entries
from poolbench.pooling.losses import (
    asym_norm_from,
    cut_loss_pairs,
    motif_pairs,
    totvar_loss_edges,
)
from poolbench.pooling.poolers.bnpool import balanced_bce
from poolbench.tasks.graph import GraphClassification, forward_graphs
from poolbench.training.device import set_threads
from poolbench.training.seeding import seed_everything


def best_ms(batches, fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            fn(batch)
        best = min(best, time.perf_counter() - start)
    return best / len(batches) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", default="proteins")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    set_threads(1)
    exp = build_experiment(args.dataset, "none", ["seed=0"])
    split = exp.splits()[0]
    loader = exp.loader(split.train, shuffle=True, generator=seed_everything(0))
    batches = list(loader)
    k = (
        build_experiment(args.dataset, "mincut", ["seed=0"])
        .make_model(torch.device("cpu"))
        .poolers[0]
        .num_clusters
    )
    gen = torch.Generator().manual_seed(0)
    state = {}
    for b in batches:
        logits = torch.randn(b.num_nodes, k, generator=gen)
        entries = edge_entries(b.edge_index, None, b.batch)
        state[id(b)] = (
            torch.softmax(logits, -1).requires_grad_(),
            entries,
            SizeGroups.of(b.batch),
            motif_pairs(entries),
            torch.randn(k, k, generator=gen),
        )

    def s_of(b):
        return state[id(b)][0]

    pieces = {
        "edge entries (coalesce)": lambda b: edge_entries(b.edge_index, None, b.batch),
        # a copy without the entries' cached lookup table, as each forward has
        "hosc: triangle listing": lambda b: motif_pairs(replace(state[id(b)][1])),
        "hosc: motif cut, f+b": lambda b: cut_loss_pairs(
            state[id(b)][3], s_of(b), b.batch, b.num_graphs
        ).backward(),
        "acc: total variation, f+b": lambda b: totvar_loss_edges(
            state[id(b)][1], s_of(b), b.num_graphs
        ).backward(),
        "acc: balance, f+b": lambda b: asym_norm_from(
            s_of(b), b.batch, state[id(b)][2]
        ).backward(),
        "bnpool: all-pairs BCE, f+b": lambda b: (
            balanced_bce(
                s_of(b) @ state[id(b)][4], s_of(b), state[id(b)][1], state[id(b)][2]
            )
            .sum()
            .backward()
        ),
    }
    model = exp.make_model(torch.device("cpu"))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def none_step(b):
        opt.zero_grad()
        GraphClassification().loss(forward_graphs(model, b), b).backward()
        opt.step()

    nodes = sum(b.num_nodes for b in batches) / len(batches)
    edges = sum(b.edge_index.size(1) for b in batches) / len(batches)
    print(
        f"{exp.dataset.name}: {len(batches)} batches, {nodes:.0f} nodes and "
        f"{edges:.0f} edges each, K = {k}"
    )
    for name, fn in pieces.items():
        print(f"{name:28s} {best_ms(batches, fn, args.repeats):6.2f} ms")
    step = best_ms(batches, none_step, args.repeats)
    print(f"{'none: a training step':28s} {step:6.2f} ms")


if __name__ == "__main__":
    main()
