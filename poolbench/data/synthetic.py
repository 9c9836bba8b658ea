"""The synthetic easy/hard graph-classification benchmark, generated, seeded, cached.

Source: Bianchi et al. 2022, "Pyramidal Reservoir Graph Neural Network"
(F. M. Bianchi, C. Gallicchio, A. Micheli; Neurocomputing), whose generator is
published at
https://github.com/FilippoMB/Benchmark_dataset_for_graph_classification
(``make_dataset.py``). The constants below (centres, noise, cov, k, sizes)
follow that generator; the code here is an independent implementation.

Construction of one graph of class ``c`` with size setting ``n_nodes``:

1. Draw ``n`` uniformly from ``[n_nodes // 2, n_nodes)`` and put
   ``m = n // 3`` points in each of three groups, so the graph has ``3 * m``
   nodes.
2. Moons: ``make_moons(m, noise=0.1)`` shifted by the class's moon centre,
   colours 0/1. Gaussian quantiles: ``make_gaussian_quantiles(m,
   mean=centre, cov=cov, n_classes=2)``, colours 2/3. Blob:
   ``make_blobs(m, centers=[centre], cluster_std=2 * cov)``, colour 4.
3. Concatenate the coordinates and divide each column by its maximum.
4. Build the k-nearest-neighbour graph on those points (connectivity, no
   self-neighbour) and symmetrise it with ``max(A, A^T)``; edges are unweighted.
5. The node feature is the one-hot of the 5 colours; the coordinates are
   dropped, so the class shows only through which colours are adjacent.

The three centres ``(0, 0)``, ``(2, -2)`` and ``(4, 0)`` are shared out among
the groups per class as listed in ``CENTRES``; each class puts a different
group at ``(2, -2)``. easy: ``k=5, cov=0.4``; hard: ``k=3, cov=0.2`` (fewer
neighbours and tighter groups, hence fewer contacts). small: ``n_nodes=80`` and
100 graphs per class; full: ``n_nodes=200`` and 600 graphs per class. The paper
reports, for the small sets, 58.25 nodes / 358.8 edges (easy) and 58.64 nodes /
224.94 edges (hard) on average, the edges apparently counted as PyG's
``num_edges`` (both directions); seed 0 here gives 59.37 / 365.54 and
59.37 / 226.84, i.e. the same edges per node (6.16 and 3.82 vs 3.84).

Every draw comes from one ``numpy.random.RandomState(seed)`` (passed to
sklearn as ``random_state``); nodes are shuffled within each graph so the group
order cannot leak through node ids. Graphs are cached per parameter set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_blobs, make_gaussian_quantiles, make_moons
from sklearn.neighbors import kneighbors_graph
from torch_geometric.data import Data

from poolbench.data.cache import load_or_generate, params_digest
from poolbench.data.dataset import GraphDataset
from poolbench.errors import PoolbenchError

# Bump when the construction changes so old cache files are never reused.
# 2: constants and construction aligned with the original generator.
GENERATOR_VERSION = 2

NUM_COLOURS = 5
NUM_CLASSES = 3

VERSIONS = {
    "easy": {"k": 5, "cov": 0.4},
    "hard": {"k": 3, "cov": 0.2},
}
SIZES = {
    True: {"n_nodes": 80, "graphs_per_class": 100},
    False: {"n_nodes": 200, "graphs_per_class": 600},
}
# Settings shared by both versions; kept in params so the fingerprint and the
# cache file follow them.
SHAPE = {"moon_noise": 0.1}
# Per class: the (moons, quantiles, blob) centres, before the column scaling.
CENTRES = (
    ((4.0, 0.0), (0.0, 0.0), (2.0, -2.0)),
    ((2.0, -2.0), (4.0, 0.0), (0.0, 0.0)),
    ((0.0, 0.0), (2.0, -2.0), (4.0, 0.0)),
)


def _points(
    label: int, m: int, params: dict, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """The ``3 * m`` scaled points of one graph of class ``label``, with colours."""
    moon_c, quant_c, blob_c = (np.asarray(c) for c in CENTRES[label])
    cov = params["cov"]
    moons, moon_col = make_moons(
        n_samples=m, noise=params["moon_noise"], random_state=rng
    )
    moons = moons + moon_c
    quant, quant_col = make_gaussian_quantiles(
        mean=quant_c, cov=cov, n_samples=m, n_features=2, n_classes=2, random_state=rng
    )
    blob, _ = make_blobs(
        n_samples=m, centers=[blob_c], cluster_std=2 * cov, random_state=rng
    )
    pts = np.concatenate([moons, quant, blob])
    # Column-wise scaling by the maximum, before the kNN graph (it changes who
    # is whose neighbour). Every class puts groups at (0, 0) and (4, 0), so
    # both column maxima are positive.
    pts = pts / pts.max(axis=0)
    colour = np.concatenate([moon_col, quant_col + 2, np.full(m, 4)])
    return pts, colour


def _knn_edges(pts: np.ndarray, k: int) -> torch.Tensor:
    """Unweighted kNN graph (self excluded) symmetrised with max(A, A^T)."""
    adj = kneighbors_graph(pts, n_neighbors=k, mode="connectivity", include_self=False)
    adj = adj.maximum(adj.T).tocoo()
    # Row-major order without duplicates, as PyG's coalesce would give.
    order = np.lexsort((adj.col, adj.row))
    edge_index = np.stack([adj.row[order], adj.col[order]]).astype(np.int64)
    return torch.from_numpy(edge_index)


def _make_graph(label: int, params: dict, rng: np.random.RandomState) -> Data:
    n_nodes = params["n_nodes"]
    # numpy's randint excludes ``high``, as in the original generator.
    n = int(rng.randint(n_nodes // 2, n_nodes))
    pts, colour = _points(label, n // 3, params, rng)
    # Shuffle nodes so the colour blocks' order cannot leak through node ids.
    perm = rng.permutation(colour.size)
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
    path = folder / f"{version}_{size}_seed{seed}_{params_digest(params)}.pt"
    display = f"SYNTH-{version.upper()}" + ("-SMALL" if small else "")
    graphs = load_or_generate(path, lambda: _generate(params), display)
    return GraphDataset(display, graphs, NUM_CLASSES, params)


def graph_count(small: bool = True, **_) -> int:
    return NUM_CLASSES * SIZES[bool(small)]["graphs_per_class"]


# What `poolbench list datasets` shows without generating anything.
load_synthetic.class_count = lambda **_: NUM_CLASSES
load_synthetic.graph_count = graph_count
load_synthetic.feature_count = lambda **_: NUM_COLOURS  # one-hot node colours
