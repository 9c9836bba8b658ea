"""Point-cloud graphs for the preservation evaluations, generated and seeded.

Grattarola et al. (2022) test what a pooler keeps on graphs whose node
features are their coordinates, so a reconstruction can be seen. Five graphs:

- ``grid``: a 2-D lattice, 4-neighbour edges;
- ``ring``: a cycle on the unit circle;
- ``sensor``: a random geometric graph in the unit square (sensor network):
  points closer than ``radius`` are joined;
- ``torus`` and ``sphere``: points sampled uniformly in the parameters of a
  3-D parametric surface, joined to their ``k`` nearest neighbours in space.

Coordinates are centred and scaled into ``[-1, 1]``; they are both ``x`` and
``pos`` of the returned ``Data``. Edges are undirected (both directions).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.neighbors import kneighbors_graph, radius_neighbors_graph
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, to_undirected

from poolbench.errors import PoolbenchError

GRAPHS = ("grid", "ring", "sensor", "torus", "sphere")


def _data(pos: np.ndarray, pairs: np.ndarray, name: str) -> Data:
    pos = pos - pos.mean(axis=0)
    pos = pos / np.abs(pos).max()
    n = len(pos)
    edge_index = to_undirected(torch.as_tensor(pairs.T, dtype=torch.long), num_nodes=n)
    edge_index = coalesce(edge_index, num_nodes=n)
    x = torch.as_tensor(pos, dtype=torch.float)
    return Data(x=x, pos=x.clone(), edge_index=edge_index, name=name)


def _pairs(adjacency) -> np.ndarray:
    coo = adjacency.tocoo()
    return np.stack([coo.row, coo.col], axis=1)


def grid(rows: int = 12, cols: int = 12) -> Data:
    ids = np.arange(rows * cols).reshape(rows, cols)
    right = np.stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()], axis=1)
    down = np.stack([ids[:-1, :].ravel(), ids[1:, :].ravel()], axis=1)
    r, c = np.divmod(np.arange(rows * cols), cols)
    return _data(
        np.stack([c, r], axis=1).astype(float), np.concatenate([right, down]), "grid"
    )


def ring(nodes: int = 64) -> Data:
    angle = 2 * np.pi * np.arange(nodes) / nodes
    pos = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    pairs = np.stack([np.arange(nodes), (np.arange(nodes) + 1) % nodes], axis=1)
    return _data(pos, pairs, "ring")


def sensor(nodes: int = 128, radius: float = 0.16, seed: int = 0) -> Data:
    pos = np.random.RandomState(seed).rand(nodes, 2)
    adj = radius_neighbors_graph(pos, radius, mode="connectivity", include_self=False)
    return _data(pos, _pairs(adj), "sensor")


def torus(nodes: int = 200, k: int = 6, seed: int = 1) -> Data:
    rng = np.random.RandomState(seed)
    u, v = rng.rand(2, nodes) * 2 * np.pi
    major, minor = 1.0, 0.4
    pos = np.stack(
        [
            (major + minor * np.cos(v)) * np.cos(u),
            (major + minor * np.cos(v)) * np.sin(u),
            minor * np.sin(v),
        ],
        axis=1,
    )
    return _data(pos, _pairs(kneighbors_graph(pos, k, include_self=False)), "torus")


def sphere(nodes: int = 160, k: int = 6, seed: int = 2) -> Data:
    rng = np.random.RandomState(seed)
    # Uniform on the sphere: azimuth uniform, cosine of the polar angle uniform.
    azimuth = rng.rand(nodes) * 2 * np.pi
    polar = np.arccos(rng.uniform(-1, 1, nodes))
    pos = np.stack(
        [
            np.sin(polar) * np.cos(azimuth),
            np.sin(polar) * np.sin(azimuth),
            np.cos(polar),
        ],
        axis=1,
    )
    return _data(pos, _pairs(kneighbors_graph(pos, k, include_self=False)), "sphere")


BUILDERS = {
    "grid": grid,
    "ring": ring,
    "sensor": sensor,
    "torus": torus,
    "sphere": sphere,
}


def point_cloud(name: str) -> Data:
    if name not in BUILDERS:
        raise PoolbenchError(
            f"unknown point-cloud graph {name!r}; use some of {', '.join(GRAPHS)}"
        )
    return BUILDERS[name]()
