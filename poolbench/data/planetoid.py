"""Planetoid citation graphs (Cora, CiteSeer) from their raw files, offline.

The eight ``ind.<name>.*`` files are Python pickles (SciPy sparse matrices,
NumPy arrays, a dict of adjacency lists), as Planetoid published them.
Unpickling can run code, so they are read with an unpickler that builds only
those few types and refuses every other global: a planted file fails with one
line instead of running. The graph is then assembled as Planetoid's loader
does (PyG's ``read_planetoid_data``): features of the labelled and test nodes
stacked, the test nodes put back in their index order, CiteSeer's isolated
test nodes given zero rows, edges from the adjacency lists made undirected
without duplicates, and the public split (20 labelled nodes per class, the
next 500 for validation, 1,000 test nodes). A test checks it equals PyG's.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import shutil
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

from poolbench.data.dataset import NodeDataset
from poolbench.data.splits import Split
from poolbench.errors import PoolbenchError

NAMES = {"cora": "Cora", "citeseer": "CiteSeer"}
NODES = {"cora": 2708, "citeseer": 3327}  # checked against the files in a test
CLASSES = {"cora": 7, "citeseer": 6}  # likewise; `poolbench list datasets`
FEATURES = {"cora": 1433, "citeseer": 3703}  # bag-of-words width, likewise
PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph")


def _allowed() -> dict[tuple[str, str], object]:
    """The globals Planetoid's pickles name, each mapped to the one object it
    may build; nothing else resolves."""
    import collections

    import scipy.sparse

    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's _reconstruct
    return {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): reconstruct,
        ("scipy.sparse.csr", "csr_matrix"): scipy.sparse.csr_matrix,
        ("scipy.sparse._csr", "csr_matrix"): scipy.sparse.csr_matrix,
        ("collections", "defaultdict"): collections.defaultdict,
        ("__builtin__", "list"): list,
        ("builtins", "list"): list,
    }


class _PlanetoidUnpickler(pickle.Unpickler):
    allowed: dict = {}

    def find_class(self, module: str, name: str):
        found = self.allowed.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return found


def safe_unpickle(path: Path):
    """Unpickle ``path`` allowing only the types Planetoid's files hold."""
    data = path.read_bytes()
    unpickler = _PlanetoidUnpickler(io.BytesIO(data), encoding="latin1")
    unpickler.allowed = _allowed()
    try:
        return unpickler.load()
    except Exception as exc:
        raise PoolbenchError(
            f"{path} is not a Planetoid file poolbench can read safely "
            f"({type(exc).__name__}: {exc}); replace it with the published file"
        ) from None


def _dense(matrix) -> torch.Tensor:
    if hasattr(matrix, "toarray"):
        matrix = matrix.toarray()
    return torch.from_numpy(np.asarray(matrix, dtype=np.float32))


def _fetch_raw(key: str, root: Path, mirror: str | None) -> Path:
    """``<root>/Planetoid/<Name>/raw``, copied from the mirror when one is set
    (refreshed when the mirror's files change), else downloaded by PyG."""
    name = NAMES[key]
    raw = root / "Planetoid" / name / "raw"
    files = [f"ind.{key}.{part}" for part in (*PARTS, "test.index")]
    if mirror:
        base = Path(mirror).expanduser()
        for folder in (base / "Planetoid" / name / "raw", base / name / "raw"):
            if all((folder / f).is_file() for f in files):
                raw.mkdir(parents=True, exist_ok=True)
                for f in files:
                    if not (raw / f).is_file() or _digest(raw / f) != _digest(
                        folder / f
                    ):
                        shutil.copyfile(folder / f, raw / f)
                return raw
        raise PoolbenchError(
            f"dataset {name} is not in the mirror {mirror}: add "
            f"{mirror}/Planetoid/{name}/raw/ind.{key}.* there, or unset data.mirror "
            "to download it"
        )
    if not all((raw / f).is_file() for f in files):
        from torch_geometric.data import download_url
        from torch_geometric.datasets import Planetoid

        try:
            for f in files:
                download_url(f"{Planetoid.url}/{f}", str(raw))
        except Exception as exc:
            raise PoolbenchError(
                f"could not download {name} ({type(exc).__name__}): put its raw "
                "files in a mirror and set data.mirror=PATH"
            ) from None
    return raw


def _digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def read_planetoid(raw: Path, key: str) -> tuple[Data, Split]:
    """The graph and its public split from the raw files in ``raw``."""
    parts = {p: safe_unpickle(raw / f"ind.{key}.{p}") for p in PARTS}
    lines = (raw / f"ind.{key}.test.index").read_text().split()
    test_index = torch.tensor([int(v) for v in lines], dtype=torch.long)
    x, tx, allx = (_dense(parts[p]) for p in ("x", "tx", "allx"))
    y, ty, ally = (_dense(parts[p]) for p in ("y", "ty", "ally"))
    order = test_index.sort().values
    if key == "citeseer":
        # Some test nodes are isolated and absent from tx/ty: give them zero rows.
        span = int(test_index.max() - test_index.min()) + 1
        tx_ext, ty_ext = torch.zeros(span, tx.size(1)), torch.zeros(span, ty.size(1))
        tx_ext[order - test_index.min()] = tx
        ty_ext[order - test_index.min()] = ty
        tx, ty = tx_ext, ty_ext
    features = torch.cat([allx, tx])
    labels = torch.cat([ally, ty]).argmax(dim=1)
    features[test_index] = features[order]
    labels[test_index] = labels[order]
    n = labels.numel()
    rows, cols = [], []
    for node, neighbours in parts["graph"].items():
        for other in neighbours:
            rows.append(int(node))
            cols.append(int(other))
    edge_index = torch.tensor([rows, cols], dtype=torch.long)
    edge_index, _ = remove_self_loops(edge_index)
    edge_index = coalesce(to_undirected(edge_index, num_nodes=n), num_nodes=n)
    split = Split(
        train=list(range(y.size(0))),
        val=list(range(y.size(0), y.size(0) + 500)),
        test=sorted(test_index.tolist()),
    )
    return Data(x=features, edge_index=edge_index, y=labels), split


def load_planetoid(
    name: str, root: str, mirror: str | None = None, normalize_features: bool = True
) -> NodeDataset:
    """Cora or CiteSeer as one graph with node labels and the public split.

    Args:
        name: ``cora`` or ``citeseer``.
        root: writable data root; files land in ``<root>/Planetoid/<Name>/raw``.
        mirror: optional offline mirror holding ``Planetoid/<Name>/raw/``.
        normalize_features: divide each node's bag-of-words row by its sum
            (Kipf & Welling 2017; PyG's ``NormalizeFeatures``).
    """
    key = name.lower()
    if key not in NAMES:
        raise PoolbenchError(
            f"unknown Planetoid set {name!r}; use one of {', '.join(NAMES)}"
        )
    raw = _fetch_raw(key, Path(root).expanduser(), mirror)
    graph, public = read_planetoid(raw, key)
    if normalize_features:
        graph.x = graph.x / graph.x.sum(1, keepdim=True).clamp_min(1)
    params = {"normalize_features": bool(normalize_features)}
    num_classes = int(graph.y.max()) + 1
    return NodeDataset(NAMES[key], graph, num_classes, params, public)


def node_count(name: str = "", **_) -> int | None:
    """The citation graph's node count, known before reading its files."""
    return NODES.get(str(name).lower())


def class_count(name: str = "", **_) -> int | None:
    """The citation graph's class count, known before reading its files."""
    return CLASSES.get(str(name).lower())


def feature_count(name: str = "", **_) -> int | None:
    """The citation graph's feature width, known before reading its files."""
    return FEATURES.get(str(name).lower())


# Checked before loading: one graph with node labels (node, community tasks).
load_planetoid.dataset_kind = "nodes"
load_planetoid.node_count = node_count
load_planetoid.class_count = class_count
load_planetoid.feature_count = feature_count
