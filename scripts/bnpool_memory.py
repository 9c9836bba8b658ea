"""Peak host memory of one BN-Pool forward and backward on big graphs.

Eight random graphs of ``n`` nodes (8 n undirected edge slots each, 64
features, K = 20) in one batch: BN-Pool's quality loss reads every node pair
of each graph, so its memory grows with ``8 n^2``. Prints the growth of the
process's peak resident memory over the pass, against 4 bytes per pair. Run
it in a fresh process per size (the peak never goes down).

    python scripts/bnpool_memory.py 2000
"""

from __future__ import annotations

import argparse
import resource

import torch
from torch_geometric.data import Batch, Data

from poolbench.pooling import discover


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nodes", type=int)
    args = parser.parse_args()
    n, graphs, k = args.nodes, 8, 20
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    data = []
    for _ in range(graphs):
        edges = torch.randint(0, n, (2, 4 * n), generator=gen)
        edge_index = torch.cat([edges, edges.flip(0)], 1)
        data.append(Data(x=torch.randn(n, 64, generator=gen), edge_index=edge_index))
    batch = Batch.from_data_list(data)
    pooler = discover()["bnpool"](in_channels=64, ratio=1.0, avg_nodes=k)
    x = batch.x.requires_grad_()
    before = peak_mb()
    out = pooler(x, batch.edge_index, None, batch.batch)
    sum(out.aux_loss.values()).backward()
    grown = peak_mb() - before
    pairs = graphs * n * n
    print(
        f"{graphs} graphs x {n} nodes: peak memory +{grown:.0f} MiB "
        f"({grown * 2**20 / (4 * pairs):.1f} floats per node pair)"
    )


if __name__ == "__main__":
    main()
