"""The lift back to the nodes, and the autoencoder built around it."""

from __future__ import annotations

import torch

from poolbench.data.point_clouds import GRAPHS, point_cloud
from poolbench.evaluation.autoencoder import PoolAutoencoder
from poolbench.pooling.lift import lift
from poolbench.pooling.registry import get_pooler


def test_lift_recovers_x_exactly_for_the_identity_pooler():
    graph = point_cloud("sensor")
    batch = torch.zeros(graph.num_nodes, dtype=torch.long)
    out = get_pooler("none")(in_channels=2)(graph.x, graph.edge_index, None, batch)
    assert torch.equal(lift(out.x, out), graph.x)


def test_lift_copies_supernodes_and_zeroes_dropped_nodes():
    graph = point_cloud("ring")
    batch = torch.zeros(graph.num_nodes, dtype=torch.long)
    out = get_pooler("topk")(in_channels=2, ratio=0.5)(
        graph.x, graph.edge_index, None, batch
    )
    lifted = lift(out.x, out)
    kept = out.info["cluster"] >= 0
    assert torch.equal(lifted[kept], out.x[out.info["cluster"][kept]])
    assert torch.all(lifted[~kept] == 0) and int(kept.sum()) == 32


def test_dense_lift_is_s_times_pooled():
    graph = point_cloud("grid")
    batch = torch.zeros(graph.num_nodes, dtype=torch.long)
    pooler = get_pooler("mincut")(in_channels=2, ratio=0.5, avg_nodes=graph.num_nodes)
    out = pooler(graph.x, graph.edge_index, None, batch)
    assert torch.allclose(lift(out.x, out), out.s[0] @ out.x, atol=1e-6)


def test_identity_autoencoder_output_has_the_input_shape():
    graph = point_cloud("torus")
    batch = torch.zeros(graph.num_nodes, dtype=torch.long)
    model = PoolAutoencoder(3, get_pooler("none")(in_channels=16), "gin", 16, [1, 1])
    x_hat, _ = model(graph.x, graph.edge_index, batch)
    assert x_hat.shape == graph.x.shape == (200, 3)


def test_point_clouds_are_undirected_with_coordinates_as_features():
    for name in GRAPHS:
        g = point_cloud(name)
        assert g.x.abs().max() <= 1.0 + 1e-6 and torch.equal(g.x, g.pos)
        flipped = {tuple(e) for e in g.edge_index.flip(0).T.tolist()}
        assert flipped == {tuple(e) for e in g.edge_index.T.tolist()}
        assert (g.edge_index[0] != g.edge_index[1]).all()
