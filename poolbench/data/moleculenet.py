"""MoleculeNet regression sets (ESOL, FreeSolv): SMILES to graphs, offline mirror.

The raw CSV files are the ones PyG's ``MoleculeNet`` downloads. A mirror holds
them at ``<mirror>/MoleculeNet/<name>/raw/`` (or ``<mirror>/<name>/raw/``);
they are copied into ``<root>/MoleculeNet/<name>/raw/`` and parsed here with
the csv module (quoted names with commas included). Each SMILES becomes a graph
through PyG's ``from_smiles`` (RDKit): 9 categorical atom features, which are
one-hot encoded against PyG's own vocabularies (``features: onehot``), and
3 bond features kept as ``edge_attr`` (no poolbench MP layer reads them: the
layers take scalar edge weights). Nothing is unpickled: the CSV is the source.
"""

from __future__ import annotations

import csv
import hashlib
import math
import shutil
from pathlib import Path

import torch

from poolbench.data.cache import load_or_generate, params_digest
from poolbench.data.dataset import GraphDataset
from poolbench.errors import PoolbenchError

# name -> (display name, raw file, SMILES column, target column, unit)
SETS = {
    "esol": (
        "ESOL",
        "delaney-processed.csv",
        "smiles",
        "measured log solubility in mols per litre",
        "log mol/L",
    ),
    "freesolv": ("FreeSolv", "SAMPL.csv", "smiles", "expt", "kcal/mol"),
}
FEATURES = ("onehot",)
INSTALL = "pip install 'poolbench[chem]' (or pip install rdkit)"


def _rdkit():
    try:
        from rdkit import Chem, RDLogger
        from rdkit.Chem.Scaffolds import MurckoScaffold
    except ImportError:
        raise PoolbenchError(
            f"molecular datasets need RDKit to read SMILES: {INSTALL}"
        ) from None
    RDLogger.DisableLog("rdApp.*")  # parse errors are reported by us, per row
    return Chem, MurckoScaffold


def _mirror_source(name: str, mirror: str) -> Path:
    """The mirror's copy of the set's CSV, or one line saying where to put it."""
    filename = SETS[name][1]
    base = Path(mirror).expanduser()
    for folder in (base / "MoleculeNet" / name / "raw", base / name / "raw"):
        if (folder / filename).is_file():
            return folder / filename
    raise PoolbenchError(
        f"dataset {name} is not in the mirror {mirror}: add "
        f"{mirror}/MoleculeNet/{name}/raw/{filename}, or unset data.mirror to "
        "download it"
    )


def _fetch_raw(name: str, root: Path, mirror: str | None) -> Path:
    """``<root>/MoleculeNet/<name>/raw/<file>``, copied from the mirror when one
    is set (never the network then), else downloaded from MoleculeNet's host."""
    filename = SETS[name][1]
    target = root / "MoleculeNet" / name / "raw" / filename
    if mirror:
        source = _mirror_source(name, mirror)
        if not target.is_file() or _digest(target) != _digest(source):
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".partial")
            shutil.copyfile(source, tmp)
            tmp.replace(target)
        return target
    if not target.is_file():
        from torch_geometric.data import download_url
        from torch_geometric.datasets import MoleculeNet

        try:
            download_url(MoleculeNet.url.format(filename), str(target.parent))
        except Exception as exc:
            raise PoolbenchError(
                f"could not download {name} ({type(exc).__name__}): put "
                f"{filename} in a mirror and set data.mirror=PATH"
            ) from None
    return target


def _digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _onehot(x: torch.Tensor) -> torch.Tensor:
    """PyG's 9 categorical atom features, each one-hot over its vocabulary."""
    from torch_geometric.utils.smiles import x_map

    sizes = [len(values) for values in x_map.values()]
    parts = [
        torch.nn.functional.one_hot(x[:, i].long(), size).float()
        for i, size in enumerate(sizes)
    ]
    return torch.cat(parts, dim=1)


def _molecules(path: Path, name: str):
    """Each row of the CSV as ``(smiles, target, RDKit molecule)``; the first
    row that is not one (no header, a target that is no number, a SMILES RDKit
    cannot parse) stops it with one line naming the file and line."""
    Chem, _ = _rdkit()
    _, _, smiles_col, target_col, _ = SETS[name]
    count = 0
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {smiles_col, target_col} - set(reader.fieldnames or [])
        if missing:
            raise PoolbenchError(
                f"{path}: header lacks {', '.join(sorted(missing))}; is this the "
                f"MoleculeNet {name} file?"
            )
        for line, record in enumerate(reader, start=2):
            smiles = (record[smiles_col] or "").strip()
            try:
                y = float(record[target_col])
                if not math.isfinite(y):  # float() takes "nan" and "inf"
                    raise ValueError
            except (TypeError, ValueError):
                raise PoolbenchError(
                    f"{path}, line {line}: target {record[target_col]!r} is not a "
                    "number; fix or remove that row"
                ) from None
            mol = Chem.MolFromSmiles(smiles) if smiles else None
            if mol is None or mol.GetNumAtoms() == 0:
                raise PoolbenchError(
                    f"{path}, line {line}: cannot parse SMILES {smiles!r}; fix or "
                    "remove that row"
                )
            count += 1
            yield smiles, y, mol
    if not count:
        raise PoolbenchError(f"{path} holds no molecules")


def read_molecules(path: Path, name: str):
    """Graphs, targets and Bemis-Murcko scaffolds of every row of the CSV."""
    from torch_geometric.utils import from_smiles

    _, MurckoScaffold = _rdkit()
    graphs, scaffolds = [], []
    for smiles, y, mol in _molecules(path, name):
        g = from_smiles(smiles)
        g.x = _onehot(g.x)
        g.y = torch.tensor([[y]], dtype=torch.float)
        del g.smiles  # strings do not batch; the scaffold keeps the group
        graphs.append(g)
        scaffolds.append(
            MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)
        )
    return graphs, scaffolds


def _with_groups(graphs, scaffolds):
    """Each graph carries its scaffold's number, so the cache keeps groups."""
    ids = {name: i for i, name in enumerate(sorted(set(scaffolds)))}
    for g, name in zip(graphs, scaffolds):
        g.scaffold_id = torch.tensor(ids[name])
    return graphs


def _checked_name(name: str, features: str) -> str:
    key = name.lower()
    if key not in SETS:
        raise PoolbenchError(
            f"unknown MoleculeNet set {name!r}; use one of {', '.join(SETS)}"
        )
    if features not in FEATURES:
        raise PoolbenchError(
            f"unknown dataset.features {features!r}; use one of {', '.join(FEATURES)}"
        )
    _rdkit()  # before any copying: a missing RDKit is said first
    return key


def _cache_path(root: Path, key: str, csv_path: Path, features: str) -> Path:
    # RDKit takes seconds per thousand molecules: the graphs are cached as
    # plain tensors, keyed by the CSV's bytes and the feature encoding.
    digest = params_digest({"csv": _digest(csv_path), "features": features, "v": 1})
    return root / "MoleculeNet" / key / "cache" / f"{digest}.pt"


def preflight_moleculenet(
    name: str, root: str, mirror: str | None = None, features: str = "onehot"
) -> None:
    """Before any work: the name, the features, RDKit, the CSV copied from the
    mirror and, unless these exact bytes were read before, every row parsed
    (about 0.1 s for ESOL's 1,128 molecules), so that a broken SMILES stops
    the command before Hydra starts a job. With no mirror and no local copy
    the rows are read after the download, when the data is loaded."""
    key = _checked_name(name, features)
    root_path = Path(root).expanduser()
    local = root_path / "MoleculeNet" / key / "raw" / SETS[key][1]
    if not mirror and not local.is_file():
        return  # a download is work: it waits for the run itself
    path = _fetch_raw(key, root_path, mirror)
    if not _cache_path(root_path, key, path, features).is_file():
        # the same bytes; a message names the mirror's file, the one to fix
        # (the local copy is overwritten from it at every run)
        for _ in _molecules(_mirror_source(key, mirror) if mirror else path, key):
            pass


def load_moleculenet(
    name: str, root: str, mirror: str | None = None, features: str = "onehot"
) -> GraphDataset:
    """A MoleculeNet regression set as a :class:`GraphDataset` with real targets.

    Args:
        name: ``esol`` or ``freesolv``.
        root: writable data root; the CSV lands in ``<root>/MoleculeNet/<name>``.
        mirror: optional offline mirror (see the module docstring).
        features: ``onehot``: the 9 atom features one-hot, 177 columns.
    """
    key = _checked_name(name, features)
    root_path = Path(root).expanduser()
    path = _fetch_raw(key, root_path, mirror)
    cache = _cache_path(root_path, key, path, features)
    graphs = load_or_generate(
        cache, lambda: _with_groups(*read_molecules(path, key)), f"{key} graphs"
    )
    scaffolds = [str(int(g.scaffold_id)) for g in graphs]
    for g in graphs:
        del g.scaffold_id
    display, _, _, _, unit = SETS[key]
    params = {"features": features, "unit": unit}
    return GraphDataset(
        display, graphs, 0, params, target="regression", groups=scaffolds
    )


# Checked before loading: many graphs with real targets (graph regression).
load_moleculenet.target = "regression"
load_moleculenet.preflight = preflight_moleculenet  # called with the same keys
load_moleculenet.molecules = True  # the only loader whose graphs have scaffolds


# Molecules per set (rows of its CSV, checked against the mirror in a test).
MOLECULES = {"esol": 1128, "freesolv": 642}


def graph_count(name: str = "", **_) -> int | None:
    return MOLECULES.get(str(name).lower())


def feature_count(features: str = "onehot", **_) -> int:
    """Width of the one-hot atom features: PyG's 9 vocabularies, 177 columns."""
    from torch_geometric.utils.smiles import x_map

    return sum(len(values) for values in x_map.values())


load_moleculenet.feature_count = feature_count
load_moleculenet.graph_count = graph_count
