"""MinCut, the flagship, checked by hand: losses, RED and the normalised CON of
the whole pooler under a fixed assignment (no reference library needed)."""

from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.data import Batch, Data

from poolbench.pooling.poolers.mincut import MinCutPool


def weighted(edges: list[tuple[int, int, float]], n: int) -> Data:
    src, dst, w = zip(*edges)
    ei = torch.tensor([src + dst, dst + src])
    return Data(x=torch.arange(n * 2, dtype=torch.float).view(n, 2), edge_index=ei,
                edge_weight=torch.tensor(w + w))  # fmt: skip


def pool(data: Data, clusters: list[int], k: int):
    """MinCut's forward with SEL replaced by the hard assignment ``clusters``."""
    pooler = MinCutPool(in_channels=2, ratio=0.5, avg_nodes=4)
    s = torch.nn.functional.one_hot(torch.tensor(clusters), k).float().unsqueeze(0)
    pooler.assign = lambda x, adj, mask: s
    b = Batch.from_data_list([data])
    out = pooler(b.x, b.edge_index, b.edge_weight, b.batch)
    dense = torch.zeros(k, k)
    dense[out.edge_index[0], out.edge_index[1]] = out.edge_weight
    return out, dense


TWO_EDGES = weighted([(0, 1, 1.0), (2, 3, 1.0)], 4)


@pytest.mark.parametrize(
    "clusters, cut, ortho",
    [
        # each edge inside a cluster: Tr(S^T A S) = Tr(S^T D S) = 4; S^T S = 2 I
        ([0, 0, 1, 1], -1.0, 0.0),
        # both edges cut: Tr(S^T A S) = 0
        ([0, 1, 0, 1], 0.0, 0.0),
        # one cluster holds all: S^T S / ||.|| = diag(1, 0) against I / sqrt(2)
        ([0, 0, 0, 0], -1.0, math.sqrt((1 - 2**-0.5) ** 2 + 0.5)),
    ],
)
def test_losses_on_two_disjoint_edges(clusters, cut, ortho):
    out, _ = pool(TWO_EDGES, clusters, 2)
    assert out.aux_loss["cut"].item() == pytest.approx(cut, abs=1e-6)
    assert out.aux_loss["ortho"].item() == pytest.approx(ortho, abs=1e-6)


def test_weighted_path_losses_red_and_normalised_con():
    path = weighted([(0, 1, 2.0), (1, 2, 8.0)], 3)  # degrees 2, 10, 8
    out, a = pool(path, [0, 0, 1], 2)
    # S^T A S = [[4, 8], [8, 0]]; S^T D S = diag(12, 8): cut = -4 / 20
    assert out.aux_loss["cut"].item() == pytest.approx(-0.2, abs=1e-6)
    # S^T S = diag(2, 1), normalised by sqrt(5), against I / sqrt(2)
    ortho = math.hypot(2 / 5**0.5 - 2**-0.5, 1 / 5**0.5 - 2**-0.5)
    assert out.aux_loss["ortho"].item() == pytest.approx(ortho, abs=1e-6)
    torch.testing.assert_close(out.x, torch.tensor([[2.0, 4.0], [4.0, 5.0]]))
    # loops removed, then D^-1/2 A D^-1/2 with the pooled degrees (8, 8)
    torch.testing.assert_close(a, torch.tensor([[0.0, 1.0], [1.0, 0.0]]), atol=1e-6,
                               rtol=0)  # fmt: skip

    out, a = pool(path, [0, 1, 2], 3)  # S = I: A' is the normalised A itself
    assert out.aux_loss["cut"].item() == pytest.approx(0.0, abs=1e-6)
    want = torch.tensor(
        [[0, 2 / math.sqrt(20), 0], [2 / math.sqrt(20), 0, 8 / math.sqrt(80)],
         [0, 8 / math.sqrt(80), 0]]
    )  # fmt: skip
    torch.testing.assert_close(a, want, atol=1e-6, rtol=0)
    torch.testing.assert_close(out.x, path.x)
