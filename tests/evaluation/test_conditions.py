"""The expressiveness conditions, measured on poolers over a tiny hand-built graph."""

from __future__ import annotations

import torch

from poolbench.evaluation.assignment import membership, red_error, row_sums
from poolbench.evaluation.expressiveness import ConditionReport, verdict
from poolbench.pooling.registry import get_pooler

# Two triangles joined by the edge 2-3, then a 4-cycle: two graphs in one batch.
EDGES = [
    (0, 1),
    (1, 2),
    (0, 2),
    (2, 3),
    (3, 4),
    (4, 5),
    (3, 5),
    (6, 7),
    (7, 8),
    (8, 9),
    (9, 6),
]


def tiny_batch():
    torch.manual_seed(0)
    pairs = torch.tensor(EDGES).T
    edge_index = torch.cat([pairs, pairs.flip(0)], dim=1)
    batch = torch.tensor([0] * 6 + [1] * 4)
    return torch.randn(10, 4), edge_index, None, batch


def measured(name: str) -> ConditionReport:
    args = tiny_batch()
    pooler = get_pooler(name)(in_channels=4, ratio=0.5, avg_nodes=5.0).eval()
    report = ConditionReport()
    with torch.no_grad():
        report.add(args, pooler(*args))
    return report


def test_topk_is_flagged_for_dropping_nodes_and_gating_red():
    report = measured("topk")
    assert report.rowsum_spread == 1.0  # kept rows sum to 1, dropped rows to 0
    assert report.red_error > 1e-2  # X[idx] * score is not S^T X
    assert verdict(True, report, 1e-3, 1e-4) == "not: row sums, RED"


def test_mincut_covers_every_node_and_reduces_with_s_transpose_x():
    report = measured("mincut")
    assert report.rowsum_spread < 1e-5
    assert report.red_error < 1e-5
    assert verdict(True, report, 1e-3, 1e-4) == "expressive"
    assert verdict(False, report, 1e-3, 1e-4) == "not: MP"


def test_cost_profile_counts_pooled_nodes_per_graph():
    report = measured("topk")
    assert report.graphs == 2
    assert report.k_over_n == [3 / 6, 2 / 4]  # ceil(0.5 * N) per graph


def test_membership_is_block_diagonal_for_dense_poolers():
    x, edge_index, _, batch = tiny_batch()
    out = get_pooler("mincut")(in_channels=4, ratio=0.5, avg_nodes=5.0)(
        x, edge_index, None, batch
    )
    s = membership(out, x.size(0))
    k = out.s.size(2)
    assert s.shape == (10, 2 * k)
    assert torch.all(s[:6, k:] == 0) and torch.all(s[6:, :k] == 0)
    assert torch.allclose(row_sums(out, 10), torch.ones(10))
    assert red_error(out, x, batch) < 1e-6
