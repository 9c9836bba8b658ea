"""The expressiveness dataset: EXPWL1-style SAT/UNSAT CNF graph pairs, verified.

Source of the idea: Bianchi & Lachi 2023, "The expressive power of pooling in
graph neural networks" (https://arxiv.org/abs/2304.01575), whose EXPWL1 set
holds pairs of 1-WL-distinguishable CNF graphs, one satisfiable (SAT) and one
not (UNSAT). The code here is an independent construction on that principle.

One pair ``(G, H)``:

1. A shared random part: ``n`` variables (uniform in ``[vars_min, vars_max]``)
   with a planted truth assignment, and ``round(clause_ratio * n)`` random
   3-literal clauses over distinct variables, each redrawn until the planted
   assignment satisfies it (so the random part is SAT).
2. A small core on two variables ``a, b`` of the random part, so it sits inside
   it. ``H`` (UNSAT) gets all four 2-literal clauses ``(±a ∨ ±b)``: no
   assignment satisfies them. ``G`` (SAT) gets the three that the planted
   assignment satisfies.
3. The graph of a formula: one node per literal (``x`` and ``¬x``) joined by
   an edge, one node per clause joined to its literals; the node feature is
   the one-hot node type ``[literal, clause]``. Node order is shuffled.

Each pair is checked: ``G`` and ``H`` are non-isomorphic (networkx, node types
matched), their 1-WL hashes differ (``weisfeiler_lehman_graph_hash`` over the
node type), and each label is confirmed by a DPLL solver. Graphs are seeded and
cached under ``<root>/expressiveness/`` as plain tensors. The original
``EXPWL1.pkl`` (a pickled list of PyG ``Data``) loads with ``source=original``
from the mirror or root, at ``EXPWL1/raw/EXPWL1.pkl``: unpickling can run code,
so it is read only on that explicit request and never otherwise.
"""

from __future__ import annotations

import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import torch
from torch_geometric.data import Data

from poolbench.data.cache import load_or_generate, params_digest
from poolbench.data.dataset import GraphDataset
from poolbench.errors import PoolbenchError

# Bump when the construction changes so old cache files are never reused.
GENERATOR_VERSION = 1
SAT, UNSAT = 1, 0
LITERAL, CLAUSE = 0, 1

Clause = tuple[int, ...]  # DIMACS literals: +v is variable v true, -v false (v ≥ 1)


def dpll(clauses: list[Clause]) -> bool:
    """True when the CNF is satisfiable: unit propagation, then branching."""
    clauses = [set(c) for c in clauses]
    while True:
        if any(not c for c in clauses):
            return False
        units = [next(iter(c)) for c in clauses if len(c) == 1]
        if not units:
            break
        lit = units[0]
        clauses = [c - {-lit} for c in clauses if lit not in c]
    if not clauses:
        return True
    lit = next(iter(clauses[0]))
    for choice in (lit, -lit):
        reduced = [c - {-choice} for c in clauses if choice not in c]
        if dpll([tuple(c) for c in reduced]):
            return True
    return False


@dataclass
class Formula:
    num_vars: int
    clauses: list[Clause]


def _random_part(rng: np.random.RandomState, num_vars: int, num_clauses: int):
    """Random 3-clauses all satisfied by a planted assignment, and that assignment."""
    planted = rng.randint(0, 2, size=num_vars + 1).astype(bool)  # index 0 unused
    clauses = []
    while len(clauses) < num_clauses:
        variables = rng.choice(np.arange(1, num_vars + 1), size=3, replace=False)
        signs = rng.randint(0, 2, size=3).astype(bool)
        if any(planted[v] == s for v, s in zip(variables, signs)):
            clauses.append(
                tuple(int(v) if s else -int(v) for v, s in zip(variables, signs))
            )
    return planted, clauses


def make_pair(rng: np.random.RandomState, params: dict) -> tuple[Formula, Formula]:
    """``(sat, unsat)`` formulas that share the random part and differ in the core."""
    n = int(rng.randint(params["vars_min"], params["vars_max"] + 1))
    planted, shared = _random_part(rng, n, round(params["clause_ratio"] * n))
    a, b = (int(v) for v in rng.choice(np.arange(1, n + 1), size=2, replace=False))
    core = [(sa * a, sb * b) for sa in (1, -1) for sb in (1, -1)]

    def satisfied(clause: Clause) -> bool:
        return any(planted[abs(lit)] == (lit > 0) for lit in clause)

    sat_core = [c for c in core if satisfied(c)]  # drops the one clause it falsifies
    return Formula(n, shared + sat_core), Formula(n, shared + core)


def formula_graph(formula: Formula) -> nx.Graph:
    """Literal nodes ``0..2n-1`` (``2(v-1)`` is ``v``, +1 ``¬v``), then clauses."""
    g = nx.Graph()
    n = formula.num_vars
    for v in range(n):
        g.add_node(2 * v, type=LITERAL)
        g.add_node(2 * v + 1, type=LITERAL)
        g.add_edge(2 * v, 2 * v + 1)
    for i, clause in enumerate(formula.clauses):
        node = 2 * n + i
        g.add_node(node, type=CLAUSE)
        for lit in clause:
            g.add_edge(node, 2 * (abs(lit) - 1) + (lit < 0))
    return g


def wl_hash(g: nx.Graph) -> str:
    # As many rounds as nodes: 1-WL has surely converged by then.
    return nx.weisfeiler_lehman_graph_hash(
        g, node_attr="type", iterations=g.number_of_nodes()
    )


def verify_pair(sat: Formula, unsat: Formula) -> None:
    """Raise ``AssertionError`` unless labels and pair guarantees hold."""
    if not dpll(sat.clauses) or dpll(unsat.clauses):
        raise AssertionError("a generated formula has the wrong SAT label")
    g, h = formula_graph(sat), formula_graph(unsat)
    same_type = nx.algorithms.isomorphism.categorical_node_match("type", None)
    if nx.is_isomorphic(g, h, node_match=same_type):
        raise AssertionError("a generated pair is isomorphic")
    if wl_hash(g) == wl_hash(h):
        raise AssertionError("a generated pair is not 1-WL distinguishable")


def to_data(g: nx.Graph, label: int, rng: np.random.RandomState) -> Data:
    """PyG graph with shuffled node ids, one-hot node type, both edge directions."""
    order = rng.permutation(g.number_of_nodes())  # new id of old node i
    types = torch.tensor([g.nodes[i]["type"] for i in range(len(order))])
    x = torch.zeros(len(order), 2)
    x[torch.from_numpy(order), types] = 1.0
    edges = np.array([[order[u], order[v]] for u, v in g.edges()]).T
    both = np.concatenate([edges, edges[::-1]], axis=1)
    sorted_ = both[:, np.lexsort((both[1], both[0]))]
    return Data(
        x=x,
        edge_index=torch.from_numpy(sorted_.astype(np.int64)),
        y=torch.tensor([label], dtype=torch.long),
    )


def generate(params: dict) -> list[Data]:
    """Verified pairs, ``[G_0, H_0, G_1, H_1, ...]`` (class 1 = SAT, 0 = UNSAT)."""
    rng = np.random.RandomState(params["seed"])
    graphs = []
    for _ in range(params["pairs"]):
        sat, unsat = make_pair(rng, params)
        verify_pair(sat, unsat)
        graphs.append(to_data(formula_graph(sat), SAT, rng))
        graphs.append(to_data(formula_graph(unsat), UNSAT, rng))
    return graphs


def _as_float_features(g: Data) -> Data:
    """The original file's ``x`` may hold integer node types: one-hot them."""
    x = g.x
    if x.dim() == 1 or x.size(-1) == 1 and not torch.is_floating_point(x):
        x = torch.nn.functional.one_hot(x.view(-1).long(), 2)
    y = torch.as_tensor(g.y).view(-1)[:1].long()
    return Data(x=x.float(), edge_index=g.edge_index.long(), y=y)


def load_original(root: str, mirror: str | None) -> list[Data]:
    """The published ``EXPWL1.pkl``, copied from the mirror into the root once."""
    target = Path(root).expanduser() / "EXPWL1" / "raw" / "EXPWL1.pkl"
    source = (
        Path(mirror).expanduser() / "EXPWL1" / "raw" / "EXPWL1.pkl" if mirror else None
    )
    if not target.is_file() and source is not None and source.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    if not target.is_file():
        raise PoolbenchError(
            "EXPWL1.pkl not found; put it in <data.mirror>/EXPWL1/raw/ or use "
            "dataset.source=generated"
        )
    # The published file is a pickle (as the authors saved it), and unpickling
    # can run code: this runs only when the user asked for source=original,
    # and the README says so. Everything poolbench writes itself is tensors.
    with open(target, "rb") as f:
        graphs = pickle.load(f)
    return [_as_float_features(g) for g in graphs]


def load_expwl1(
    root: str,
    mirror: str | None = None,
    source: str = "generated",
    pairs: int = 600,
    vars_min: int = 8,
    vars_max: int = 14,
    clause_ratio: float = 2.0,
    seed: int = 0,
) -> GraphDataset:
    """The expressiveness set: generated here (cached), or the original file.

    Args:
        root: writable data root; generated sets are cached in
            ``<root>/expressiveness/``.
        mirror: folder that may hold ``EXPWL1/raw/EXPWL1.pkl``.
        source: ``generated`` or ``original``.
        pairs: number of (SAT, UNSAT) pairs generated.
        vars_min, vars_max: range of the random part's variable count.
        clause_ratio: random 3-clauses per variable.
        seed: seeds every random draw.
    """
    if source == "original":
        return GraphDataset(
            "EXPWL1", load_original(root, mirror), 2, {"source": source}
        )
    if source != "generated":
        raise PoolbenchError(
            f"dataset.source must be generated or original, not {source!r}"
        )
    if pairs < 1 or not 2 <= vars_min <= vars_max:
        raise PoolbenchError("dataset.pairs must be ≥ 1 and 2 ≤ vars_min ≤ vars_max")
    params = {
        "pairs": int(pairs),
        "vars_min": int(vars_min),
        "vars_max": int(vars_max),
        "clause_ratio": float(clause_ratio),
        "seed": int(seed),
        "generator_version": GENERATOR_VERSION,
    }
    digest = params_digest(params)
    folder = Path(root).expanduser() / "expressiveness"
    path = folder / f"expwl1_seed{seed}_{digest}.pt"
    graphs = load_or_generate(path, lambda: generate(params))
    return GraphDataset("EXPWL1-GEN", graphs, 2, params)
