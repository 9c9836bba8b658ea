"""TU Dortmund datasets through PyG's TUDataset, with an offline mirror.

A mirror is a folder holding datasets in TUDataset's raw layout, either
``<mirror>/<NAME>/raw/`` or ``<mirror>/TUDataset/<NAME>/raw/``. Mirrors may be
read-only while PyG writes ``processed/`` beside ``raw/``, so the raw files are
copied into the writable root first.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from torch_geometric.datasets import TUDataset
from torch_geometric.utils import degree

from poolbench.data.dataset import GraphDataset
from poolbench.errors import PoolbenchError

FEATURES = ("node_labels", "degree", "constant")


def _mirror_raw(mirror: Path, name: str) -> Path | None:
    for candidate in (mirror / name / "raw", mirror / "TUDataset" / name / "raw"):
        if (candidate / f"{name}_A.txt").is_file():
            return candidate
    return None


def _fetch_raw(name: str, root: Path, mirror: str | None) -> None:
    """Make ``<root>/TUDataset/<name>/raw`` hold the raw files, or fail clearly."""
    raw = root / "TUDataset" / name / "raw"
    if (raw / f"{name}_A.txt").is_file():
        return
    if mirror:
        source = _mirror_raw(Path(mirror), name)
        if source is None:
            raise PoolbenchError(
                f"dataset {name} is not in the mirror {mirror}: add "
                f"{mirror}/{name}/raw/{name}_*.txt there, or unset data.mirror "
                "to download it from TU Dortmund"
            )
        raw.parent.mkdir(parents=True, exist_ok=True)
        tmp = raw.with_name("raw.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp)
        tmp.replace(raw)


def _degree_features(graphs, max_degree: int) -> None:
    for g in graphs:
        deg = degree(g.edge_index[0], g.num_nodes, dtype=torch.long).clamp(
            max=max_degree
        )
        g.x = torch.nn.functional.one_hot(deg, max_degree + 1).float()


def load_tu(
    name: str,
    root: str,
    mirror: str | None = None,
    features: str = "node_labels",
    use_node_attr: bool = False,
    max_degree: int = 64,
) -> GraphDataset:
    """Load a TU dataset as a GraphDataset.

    Args:
        name: TU name, e.g. ``MUTAG``.
        root: writable data root; files land in ``<root>/TUDataset/<name>``.
        mirror: optional offline mirror (see module docstring).
        features: ``node_labels`` (one-hot labels, plus attributes when
            ``use_node_attr``), ``degree`` (one-hot of the degree clipped at
            ``max_degree``) or ``constant`` (a single 1); the social sets have no
            node features and need one of the last two.
        use_node_attr: append continuous node attributes (ENZYMES: PyG 1646).
    """
    if features not in FEATURES:
        raise PoolbenchError(
            f"unknown dataset.features {features!r}; use one of {', '.join(FEATURES)}"
        )
    root_path = Path(root).expanduser()
    _fetch_raw(name, root_path, mirror)
    try:
        ds = TUDataset(str(root_path / "TUDataset"), name, use_node_attr=use_node_attr)
    except Exception as exc:  # network errors come in many types
        raise PoolbenchError(
            f"could not load dataset {name} ({type(exc).__name__}): put its raw "
            f"files in a mirror and set data.mirror=PATH (or POOLBENCH_DATA_MIRROR), "
            "or allow network access so PyG can download it"
        ) from None
    graphs = [ds[i] for i in range(len(ds))]
    for g in graphs:
        g.edge_attr = None
    if features == "degree":
        _degree_features(graphs, max_degree)
    elif features == "constant":
        for g in graphs:
            g.x = torch.ones(g.num_nodes, 1)
    for g in graphs:
        if g.x is None:
            raise PoolbenchError(
                f"dataset {name} has no node features; set dataset.features="
                "degree or dataset.features=constant"
            )
        g.x = g.x.float()
    params = {
        "features": features,
        "use_node_attr": use_node_attr,
        "max_degree": max_degree if features == "degree" else None,
    }
    return GraphDataset(name, graphs, int(ds.num_classes), params)
