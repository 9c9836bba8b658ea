"""Clustering metrics by hand on small graphs, and against the libraries."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from poolbench.tasks.clustering_metrics import (
    clustering_scores,
    conductance,
    modularity,
    pairwise_f1,
)


def edges(pairs):
    src, dst = zip(*pairs)
    return torch.tensor([src + dst, dst + src])


# two triangles joined by one edge: 0-1-2 and 3-4-5, bridge 2-3
TWO_TRIANGLES = edges([(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)])


def test_pairwise_f1_by_hand():
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert pairwise_f1(labels, labels) == 1.0
    # {0,1}, {2,3,4,5}: placed-together pairs 1 + 6 = 7, of which 1 + 3 share
    # a label (TP 4); label pairs 3 + 3 = 6: precision 4/7, recall 4/6
    p, r = 4 / 7, 4 / 6
    f1 = pairwise_f1(labels, np.array([0, 0, 1, 1, 1, 1]))
    assert f1 == pytest.approx(2 * p * r / (p + r))
    assert pairwise_f1(labels, np.arange(6)) == 0.0  # no pair placed together


def test_modularity_and_conductance_by_hand_and_against_networkx():
    split = torch.tensor([0, 0, 0, 1, 1, 1])
    # 7 edges, 2m = 14; each triangle holds 3 edges and degree sum 7
    q = 2 * (3 / 7 - (7 / 14) ** 2)
    assert modularity(TWO_TRIANGLES, None, split) == pytest.approx(q)
    g = nx.Graph(TWO_TRIANGLES.t().tolist())
    assert q == pytest.approx(nx.community.modularity(g, [{0, 1, 2}, {3, 4, 5}]))
    # one of 7 edges crosses: 2 of 14 edge ends leave their cluster
    assert conductance(TWO_TRIANGLES, None, split) == pytest.approx(2 / 14)
    assert conductance(TWO_TRIANGLES, None, torch.zeros(6).long()) == 0.0
    weights = torch.ones(TWO_TRIANGLES.size(1))
    weights[TWO_TRIANGLES[0] + TWO_TRIANGLES[1] == 5] = 3.0  # the bridge weighs 3
    assert conductance(TWO_TRIANGLES, weights, split) == pytest.approx(6 / 18)


def test_scores_ignore_cluster_names():
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    a = clustering_scores(labels, torch.tensor([0, 0, 0, 1, 1, 1]), TWO_TRIANGLES, None)
    b = clustering_scores(labels, torch.tensor([7, 7, 7, 2, 2, 2]), TWO_TRIANGLES, None)
    assert a == pytest.approx(b)
    assert a["nmi"] == pytest.approx(1.0) and a["ari"] == pytest.approx(1.0)
    assert a["f1"] == 1.0
