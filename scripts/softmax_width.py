"""Microseconds for a soft assignment's softmax, forward and backward, plain
against poolbench's ``softmax_last`` (padded to 16 columns on the CPU).

torch's CPU softmax over a last dimension under 16 runs a scalar loop; the
soft-clustering poolers' K is often that small (MUTAG: 9). Rows are a batch's
nodes; one thread; best of ``--repeats`` rounds of 200 calls.

    python scripts/softmax_width.py [--rows 576] [--widths 5,9,15,16,20]
"""

from __future__ import annotations

import argparse
import time

import torch

from poolbench.pooling.select import softmax_last
from poolbench.training.device import set_threads


def best_us(fn, logits: torch.Tensor, upstream: torch.Tensor, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(200):
            x = logits.detach().requires_grad_()
            fn(x).backward(upstream)
        best = min(best, (time.perf_counter() - start) / 200)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=576)
    parser.add_argument("--widths", default="5,9,15,16,20")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    set_threads(1)
    gen = torch.Generator().manual_seed(0)
    print(f"{args.rows} rows, forward + backward, us: plain / padded (x faster)")
    for k in (int(w) for w in args.widths.split(",")):
        logits = torch.randn(args.rows, k, generator=gen)
        upstream = torch.randn(args.rows, k, generator=gen)
        plain = best_us(lambda x: torch.softmax(x, -1), logits, upstream, args.repeats)
        padded = best_us(softmax_last, logits, upstream, args.repeats)
        print(f"K = {k:3d}: {plain:7.1f} / {padded:7.1f} ({plain / padded:.2f}x)")


if __name__ == "__main__":
    main()
