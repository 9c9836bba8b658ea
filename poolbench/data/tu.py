"""TU Dortmund datasets through PyG's TUDataset, with an offline mirror.

A mirror is a folder holding datasets in TUDataset's raw layout, either
``<mirror>/<NAME>/raw/`` or ``<mirror>/TUDataset/<NAME>/raw/``; its files are
checked and copied into the writable root by :mod:`poolbench.data.tu_raw`.
With a mirror set, the network is never touched.

torch and PyG are imported inside :func:`load_tu`: the pre-flight checks of
``poolbench train`` read this module's signatures and raw files without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from poolbench.data.tu_raw import RawSummary, prepare_raw
from poolbench.errors import PoolbenchError

if TYPE_CHECKING:
    from poolbench.data.dataset import GraphDataset

Features = Literal["auto", "node_labels", "degree", "constant"]
FEATURES = ("auto", "node_labels", "degree", "constant")


def choose_features(
    summary: RawSummary, features: str, use_node_attr: bool | None
) -> tuple[str, bool]:
    """The literature's choice from what the files hold, unless told otherwise.

    ``auto``: node labels one-hot and node attributes when the files have
    them, a one-hot degree when they have neither. ``use_node_attr=None``
    takes the attributes when there are some.
    """
    name, has_attr = summary.name, summary.has("node_attributes")
    if use_node_attr is None:
        use_node_attr = has_attr
    if use_node_attr and not has_attr:
        raise PoolbenchError(
            f"dataset {name} has no {name}_node_attributes.txt; set "
            "dataset.use_node_attr=false"
        )
    has_labels = summary.has("node_labels")
    if features == "auto":
        features = "node_labels" if has_labels or use_node_attr else "degree"
    if features == "node_labels" and not (has_labels or use_node_attr):
        raise PoolbenchError(
            f"dataset {name} has no node labels or attributes; set "
            "dataset.features=degree or dataset.features=constant"
        )
    return features, bool(use_node_attr)


def preflight_tu(
    name: str,
    root: str,
    mirror: str | None = None,
    features: Features = "node_labels",
    use_node_attr: bool | None = False,
    max_degree: int = 64,
) -> RawSummary | None:
    """Check (and copy from the mirror) the raw files and the feature choice
    before any work; None when PyG still has to download them."""
    if features not in FEATURES:
        raise PoolbenchError(
            f"unknown dataset.features {features!r}; use one of {', '.join(FEATURES)}"
        )
    summary = prepare_raw(name, Path(root).expanduser(), mirror)
    if summary is not None:
        choose_features(summary, features, use_node_attr)
    return summary


def load_tu(
    name: str,
    root: str,
    mirror: str | None = None,
    features: Features = "node_labels",
    use_node_attr: bool | None = False,
    max_degree: int = 64,
) -> GraphDataset:
    """Load a TU dataset as a GraphDataset.

    Args:
        name: TU name, e.g. ``MUTAG``.
        root: writable data root; files land in ``<root>/TUDataset/<name>``.
        mirror: optional offline mirror (see module docstring).
        features: ``node_labels`` (one-hot labels, plus attributes when
            ``use_node_attr``), ``degree`` (one-hot of the degree clipped at
            ``max_degree``), ``constant`` (a single 1), or ``auto``: node labels
            and attributes when the files have them, else the degree.
        use_node_attr: append continuous node attributes (ENZYMES: PyG 1646);
            None: when the files have them.
    """
    import torch

    from poolbench.data.dataset import GraphDataset

    summary = preflight_tu(name, root, mirror, features, use_node_attr, max_degree)
    root_path = Path(root).expanduser()
    try:
        ds = _tu_dataset(root_path, name, mirror)
    except PoolbenchError:
        raise
    except Exception as exc:  # network errors come in many types
        raise PoolbenchError(
            f"could not load dataset {name} ({type(exc).__name__}): put its raw "
            f"files in a mirror and set data.mirror=PATH (or POOLBENCH_DATA_MIRROR), "
            "or allow network access so PyG can download it"
        ) from None
    summary = summary or prepare_raw(name, root_path, None)
    features, use_node_attr = choose_features(summary, features, use_node_attr)
    graphs = _all_graphs(ds, summary, use_node_attr)
    for g in graphs:
        g.edge_attr = None
    if features == "degree":
        _degree_features(graphs, max_degree)
    elif features == "constant":
        for g in graphs:
            g.x = torch.ones(g.num_nodes, 1)
    for g in graphs:
        g.x = g.x.float()
    params = {
        "features": features,
        "use_node_attr": use_node_attr,
        "max_degree": max_degree if features == "degree" else None,
    }
    return GraphDataset(name, graphs, len(set(summary.labels)), params)


load_tu.preflight = preflight_tu  # what the pre-flight calls with the same keys


def _weights_only_load(path, map_location=None):
    """PyG's loader, without its fallback to an unrestricted ``torch.load``.

    When a weights-only load fails, PyG retries it as a full unpickle, which
    runs whatever a pickle under ``processed/`` says; files under data.root can
    come from anyone, so here only plain data loads, and anything else is an
    error (the caller deletes that file and rebuilds it from the raw files).
    """
    import torch

    with open(path, "rb") as f:
        return torch.load(f, map_location=map_location, weights_only=True)


def _tu_dataset(root: Path, name: str, mirror: str | None):
    """PyG's TUDataset loaded safely: its processed files only as plain data (a
    foreign one is deleted and rebuilt from the checked raw files).

    PyG reads ``processed/data.pt`` through ``fs.torch_load`` but
    ``pre_transform.pt`` and ``pre_filter.pt`` through an unrestricted
    ``torch.load`` call of its own, so both loaders are held to weights-only
    while the set loads (a planted pickle there ran at every load).
    """
    import pickle
    import shutil

    import torch
    from torch_geometric.io import fs

    original_fs, fs.torch_load = fs.torch_load, _weights_only_load
    original_torch = torch.load

    def weights_only(f, *args, weights_only=None, **kwargs):
        return original_torch(f, *args, weights_only=True, **kwargs)

    torch.load = weights_only
    try:
        try:
            return _checked_tu_dataset(root, name, mirror)
        except pickle.UnpicklingError:
            shutil.rmtree(root / "TUDataset" / name / "processed", ignore_errors=True)
            return _checked_tu_dataset(root, name, mirror)
    finally:
        fs.torch_load = original_fs
        torch.load = original_torch


def _checked_tu_dataset(root: Path, name: str, mirror: str | None):
    """PyG's TUDataset that never downloads with a mirror set, and checks what
    it downloads before processing it."""
    from torch_geometric.datasets import TUDataset

    class CheckedTUDataset(TUDataset):
        def download(self) -> None:
            if mirror:
                raise PoolbenchError(
                    f"dataset {name} is incomplete in the mirror {mirror}; "
                    "restore its raw files there (with a mirror set poolbench "
                    "never downloads)"
                )
            super().download()
            prepare_raw(name, root, None)

    # Attributes are sliced per run (use_node_attr), not at load.
    return CheckedTUDataset(str(root / "TUDataset"), name, use_node_attr=True)


def _all_graphs(ds, summary: RawSummary, use_node_attr: bool) -> list:
    """Every graph of the raw files, without the attributes unless asked.

    PyG 2.8 drops trailing graphs that have no edges (its edge slices end at
    the last graph with one); they are rebuilt here from its node rows, so a
    graph is never lost silently.
    """
    import torch
    from torch_geometric.data import Data

    graphs = [ds[i] for i in range(len(ds))]
    data = ds._data
    starts = [0]
    for count in summary.node_counts:
        starts.append(starts[-1] + count)
    for g in range(len(graphs), summary.num_graphs):
        graphs.append(
            Data(
                x=data.x[starts[g] : starts[g + 1]] if data.x is not None else None,
                edge_index=torch.empty(2, 0, dtype=torch.long),
                y=data.y[g : g + 1],
                num_nodes=summary.node_counts[g],
            )
        )
    attrs = ds.num_node_attributes
    for g in graphs:
        if g.x is not None and not use_node_attr:
            g.x = g.x[:, attrs:].contiguous()
        if g.x is not None and g.x.size(1) == 0:
            g.x = None
    return graphs


def _degree_features(graphs, max_degree: int) -> None:
    import torch
    from torch_geometric.utils import degree

    for g in graphs:
        deg = degree(g.edge_index[0], g.num_nodes, dtype=torch.long).clamp(
            max=max_degree
        )
        g.x = torch.nn.functional.one_hot(deg, max_degree + 1).float()
