"""The spectral-similarity loss: zero for the identity, a hand value on a path."""

from __future__ import annotations

import math

import torch

from poolbench.data.point_clouds import point_cloud
from poolbench.evaluation.spectral import (
    laplacian,
    low_eigenvectors,
    pooled_loss,
    spectral_loss,
)
from poolbench.pooling.base import PoolOutput
from poolbench.pooling.registry import get_pooler


def test_identity_pooler_has_zero_loss():
    graph = point_cloud("ring")
    n = graph.num_nodes
    batch = torch.zeros(n, dtype=torch.long)
    lap = laplacian(graph.edge_index, None, n)
    u = low_eigenvectors(lap, 10)
    out = get_pooler("none")(in_channels=2)(graph.x, graph.edge_index, None, batch)
    assert pooled_loss(out, lap, u, batch).item() < 1e-10


def test_four_node_path_matches_the_hand_computation():
    # Path 0-1-2-3; L has eigenvalues 0, 2-√2, 2, 2+√2. D = 2 eigenvectors:
    # u1 = (1,1,1,1)/2 and the Fiedler vector (c1, c3, -c3, -c1)/√2 with
    # c1 = cos(π/8), c3 = cos(3π/8). Pool {0,1} and {2,3} by sum; the pooled
    # graph is one edge of weight 1, L' = [[1,-1],[-1,1]].
    #   u1' = (1, 1):            u1'ᵀL'u1' = 0 = u1ᵀLu1
    #   u2' = (s, -s), s = (c1 + c3)/√2 = cos(π/8):  u2'ᵀL'u2' = 4s² = 2 + √2
    # loss = (0 - 0)² + ((2 - √2) - (2 + √2))² = (2√2)² = 8.
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    lap = laplacian(edge_index, None, 4)
    u = low_eigenvectors(lap, 2)
    out = PoolOutput(
        x=torch.zeros(2, 1),
        edge_index=torch.tensor([[0, 1], [1, 0]]),
        edge_weight=torch.ones(2),
        batch=torch.zeros(2, dtype=torch.long),
        info={"cluster": torch.tensor([0, 0, 1, 1])},
    )
    loss = pooled_loss(out, lap, u, torch.zeros(4, dtype=torch.long))
    assert math.isclose(loss.item(), 8.0, rel_tol=1e-5)


def test_loss_counts_each_eigenvector_once():
    lap = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
    u = torch.eye(2)
    assert spectral_loss(lap, u, lap, u).item() == 0.0
    assert spectral_loss(lap, u, 2 * lap, u).item() == 2.0  # (1 - 2)² twice
