"""The synthetic easy/hard graph-classification benchmark, generated, seeded, cached.

After Bianchi et al. 2022 ("Pyramidal Reservoir Graph Neural Network"). Each
graph is a symmetric k-nearest-neighbour graph over a 2-D point cloud made of
three groups: two moons (``make_moons``), two Gaussian quantile shells
(``make_gaussian_quantiles``) and a blob (``make_blobs``). A node's feature is
a one-hot of 5 colours: moon 0, moon 1, quantile 0, quantile 1, blob.

The groups sit side by side on a line; the class decides which group is in the
middle (class 0: moons, 1: quantiles, 2: blob). The coordinates are dropped, so
the class shows only in which colours touch: the middle group borders both
others while the outer two never meet. The hard version has fewer neighbours
(k=3) and a tighter quantile group (cov=0.2), hence fewer, weaker contacts.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_blobs, make_gaussian_quantiles, make_moons
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from poolbench.data.dataset import GraphDataset
from poolbench.errors import PoolbenchError

# Bump when the construction changes so old cache files are never reused.
GENERATOR_VERSION = 1

NUM_COLOURS = 5
NUM_CLASSES = 3
MOONS, QUANTILES, BLOB = 0, 1, 2

VERSIONS = {
    "easy": {"k": 5, "cov": 0.4},
    "hard": {"k": 3, "cov": 0.2},
}
SIZES = {
    True: {"n_nodes": 80, "graphs_per_class": 100},
    False: {"n_nodes": 200, "graphs_per_class": 600},
}
# Shape settings shared by both versions; kept in params so the fingerprint and
# the cache file follow them.
SHAPE = {"moon_noise": 0.1, "blob_std": 0.5, "spacing": 2.2}


def _group_points(
    group: int, n: int, params: dict, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``n`` points of one group, centred at the origin, with their colour."""
    if group == MOONS:
        pts, lab = make_moons(n_samples=n, noise=params["moon_noise"], random_state=rng)
        colour = lab
    elif group == QUANTILES:
        pts, lab = make_gaussian_quantiles(
            cov=params["cov"], n_samples=n, n_features=2, n_classes=2, random_state=rng
        )
        colour = lab + 2
    else:
        pts, _ = make_blobs(
            n_samples=n,
            centers=[[0.0, 0.0]],
            cluster_std=params["blob_std"],
            random_state=rng,
        )
        colour = np.full(n, 4)
    # Centre on the mean so the slot a group is put in is its centre of mass.
    pts = pts - pts.mean(0)
    return pts, colour


def _knn_edges(pts: np.ndarray, k: int) -> torch.Tensor:
    """Symmetric kNN graph: every node keeps its k nearest and gains their reverse."""
    pos = torch.from_numpy(pts)
    dist = torch.cdist(pos, pos)
    dist.fill_diagonal_(float("inf"))
    nbr = dist.topk(k, dim=1, largest=False).indices
    src = torch.arange(pos.size(0)).repeat_interleave(k)
    edge_index = torch.stack([src, nbr.reshape(-1)])
    return to_undirected(edge_index, num_nodes=pos.size(0))


def _make_graph(label: int, params: dict, rng: np.random.RandomState) -> Data:
    n_nodes = params["n_nodes"]
    n = int(rng.randint(n_nodes // 2, n_nodes + 1))
    sizes = [n // 3, n // 3, n - 2 * (n // 3)]
    groups = [_group_points(g, s, params, rng) for g, s in enumerate(sizes)]
    # Line order with the class's group in the middle; which outer group goes
    # left is random since only the contacts carry the label.
    outer = [g for g in (MOONS, QUANTILES, BLOB) if g != label]
    if rng.rand() < 0.5:
        outer.reverse()
    order = [outer[0], label, outer[1]]
    # Fixed slots on the x axis: the spread of each group (cov for the
    # quantiles) sets how often neighbouring groups come close enough to share
    # kNN edges, which is what makes the hard version hard.
    placed = []
    for slot, g in enumerate(order):
        pts = groups[g][0].copy()
        pts[:, 0] += (slot - 1) * params["spacing"]
        placed.append(pts)
    pts = np.concatenate(placed)
    colour = np.concatenate([groups[g][1] for g in order])
    # Shuffle nodes so the colour blocks' order cannot leak through node ids.
    perm = rng.permutation(n)
    pts, colour = pts[perm], colour[perm]
    x = torch.nn.functional.one_hot(torch.from_numpy(colour).long(), NUM_COLOURS)
    return Data(
        x=x.float(),
        edge_index=_knn_edges(pts, params["k"]),
        y=torch.tensor([label], dtype=torch.long),
    )


def _generate(params: dict) -> list[Data]:
    """All graphs for ``params``, in a seeded shuffled class order."""
    rng = np.random.RandomState(params["seed"])
    labels = np.repeat(np.arange(NUM_CLASSES), params["graphs_per_class"])
    labels = labels[rng.permutation(labels.size)]
    return [_make_graph(int(c), params, rng) for c in labels]


def _params_hash(params: dict) -> str:
    return hashlib.sha1(repr(sorted(params.items())).encode()).hexdigest()[:10]


def _save_atomic(graphs: list[Data], path: Path) -> None:
    # A temp file in the same folder makes os.replace atomic, so a crash or a
    # concurrent run never leaves a half-written cache behind.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(graphs, tmp)
        # mkstemp makes the file private; the cache is meant to be shared.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_synthetic(
    name: str, root: str, seed: int = 0, small: bool = True
) -> GraphDataset:
    """Load (generating and caching on first use) the easy or hard synthetic set.

    Args:
        name: ``easy`` or ``hard``.
        root: writable data root; the cache lands in ``<root>/synthetic/``.
        seed: seeds every random draw; the same seed gives identical graphs.
        small: 100 graphs per class with up to 80 nodes, else 600 with up to 200.
    """
    version = name.lower()
    if version not in VERSIONS:
        raise PoolbenchError(
            f"unknown synthetic dataset {name!r}; use one of {', '.join(VERSIONS)}"
        )
    params = {
        **VERSIONS[version],
        **SIZES[bool(small)],
        **SHAPE,
        "seed": int(seed),
        "generator_version": GENERATOR_VERSION,
    }
    size = "small" if small else "full"
    folder = Path(root).expanduser() / "synthetic"
    path = folder / f"{version}_{size}_seed{seed}_{_params_hash(params)}.pt"
    graphs = None
    if path.is_file():
        # A damaged or truncated cache is rebuilt rather than fatal.
        try:
            graphs = torch.load(path, weights_only=False)
        except (OSError, EOFError, RuntimeError, pickle.UnpicklingError):
            graphs = None
    if graphs is None:
        graphs = _generate(params)
        folder.mkdir(parents=True, exist_ok=True)
        _save_atomic(graphs, path)
    display = f"SYNTH-{version.upper()}" + ("-SMALL" if small else "")
    return GraphDataset(display, graphs, NUM_CLASSES, params)
