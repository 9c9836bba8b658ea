"""The expressiveness dataset: EXPWL1-style SAT/UNSAT CNF graph pairs, verified.

Source of the idea: Bianchi & Lachi 2023, "The expressive power of pooling in
graph neural networks" (https://arxiv.org/abs/2304.01575), whose EXPWL1 set
holds pairs of 1-WL-distinguishable CNF graphs, one satisfiable (SAT) and one
not (UNSAT). The code here is an independent construction on that principle,
built so that **no small set of kept nodes reveals the class**: the two graphs
of a pair differ only in how many nodes of each kind they hold, never in which
kinds they hold, and every kind whose count differs fills at least
``keep_ratio`` of the graph. A pooler that keeps the ``keep_ratio`` top-scored
nodes, scoring from the nodes' neighbourhoods, then keeps the same kinds in
the same numbers in both graphs; a pooler that keeps every node's information
(sum readout over all nodes) sees the counts and can tell them apart.

One pair ``(G, H)``:

1. A shared random part: ``n`` variables (uniform in ``[vars_min, vars_max]``)
   with a planted truth assignment and ``round(clause_ratio * n)`` random
   3-clauses it satisfies (so the random part is SAT).
2. Cores, each on two fresh variables ``u, w`` with four clauses (8 nodes):
   *odd* (all four ``(±u ∨ ±w)``: UNSAT), *even* (``(¬u ∨ w)`` and
   ``(u ∨ ¬w)`` twice: ``u = w``, SAT) and *open* (the four clauses of the odd
   core each widened by the complement of its ``u`` literal: always true). As
   graphs, odd and even cores have the same neighbourhoods at every depth
   (1-WL cannot tell them apart); open cores differ from both.
3. ``H`` (UNSAT): one odd core, ``a`` even, ``b`` open. ``G`` (SAT): ``a``
   even and ``b + 1`` open. Same node count; the kinds of node are the same
   in both; the counts differ by one core's worth. ``a`` and ``b = 2a`` are
   the smallest for which every differing kind holds ``≥ ceil(keep_ratio N)``
   nodes at ``vars_max``, fixed for the whole set.
4. The graph of a formula: one node per literal (``x`` and ``¬x``) joined by
   an edge, one node per clause joined to its literals; the node feature is
   the one-hot node type ``[literal, clause]``. Node order is shuffled.

Each pair is checked: ``G`` and ``H`` are non-isomorphic (networkx, node types
matched), their 1-WL hashes differ (``weisfeiler_lehman_graph_hash`` over the
node type), each label is confirmed by a DPLL solver, and the non-locality
property holds (:func:`check_non_local`: same WL colours at depth
``wl_depth``, every colour whose count differs held by ``≥ ceil(keep_ratio
N)`` nodes in both). Graphs are seeded and cached under
``<root>/expressiveness/`` as plain tensors. The original ``EXPWL1.pkl`` (a
pickled list of PyG ``Data``) loads with ``source=original`` from the mirror
or root, at ``EXPWL1/raw/EXPWL1.pkl``, through an unpickler that allows only
the classes a list of PyG graphs needs (anything else is refused, not run).
"""

from __future__ import annotations

import math
import pickle
import shutil
from collections import Counter
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
GENERATOR_VERSION = 2
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


def odd_core(u: int, w: int) -> list[Clause]:
    """All four 2-clauses on ``u, w``: unsatisfiable."""
    return [(su * u, sw * w) for su in (1, -1) for sw in (1, -1)]


def even_core(u: int, w: int) -> list[Clause]:
    """``u = w`` written twice: satisfiable, and as a graph 1-WL-equal to odd."""
    return [(-u, w), (u, -w), (-u, w), (u, -w)]


def open_core(u: int, w: int) -> list[Clause]:
    """The odd core with each clause widened by the complement of its u literal:
    every clause is a tautology, so the core is satisfied by anything."""
    return [(*c, -c[0]) for c in odd_core(u, w)]


def core_counts(params: dict) -> tuple[int, int]:
    """``(a, b)``: even and open cores beside the odd one, ``b = 2a``.

    The smallest ``a`` such that, at ``vars_max`` (the largest graphs, the
    largest ``k``), every kind of node whose count differs within a pair holds
    at least ``k = ceil(keep_ratio * N)`` nodes in both graphs: the 4 literal
    and 4 clause nodes of the ``a`` (in G) even cores, and the 2 nodes of each
    literal kind of the ``b`` (in H) open cores.
    """
    n = int(params["vars_max"])
    ratio = float(params["keep_ratio"])
    for a in range(1, 1000):
        b = 2 * a
        nodes = 2 * n + round(params["clause_ratio"] * n) + 8 * (a + b + 1)
        k = math.ceil(ratio * nodes)
        if 4 * a >= k and 2 * b >= k:
            return a, b
    raise PoolbenchError("dataset.keep_ratio too large for non-local pairs")


def make_pair(rng: np.random.RandomState, params: dict) -> tuple[Formula, Formula]:
    """``(sat, unsat)``: a shared random part; cores differ in kind counts only."""
    n = int(rng.randint(params["vars_min"], params["vars_max"] + 1))
    _, shared = _random_part(rng, n, round(params["clause_ratio"] * n))
    a, b = core_counts(params)
    kinds_unsat = ["odd"] + ["even"] * a + ["open"] * b
    kinds_sat = ["even"] * a + ["open"] * (b + 1)
    build = {"odd": odd_core, "even": even_core, "open": open_core}

    def formula(kinds: list[str]) -> Formula:
        clauses = list(shared)
        for i, kind in enumerate(kinds):  # fresh variables n+1, n+2, ... per core
            clauses += build[kind](n + 2 * i + 1, n + 2 * i + 2)
        return Formula(n + 2 * len(kinds), clauses)

    return formula(kinds_sat), formula(kinds_unsat)


def wl_colours(g: nx.Graph, depth: int) -> Counter:
    """How many nodes have each 1-WL colour after ``depth`` rounds (node type
    as the start colour); colours are comparable across graphs."""
    hashes = nx.weisfeiler_lehman_subgraph_hashes(g, node_attr="type", iterations=depth)
    return Counter(h[depth - 1] for h in hashes.values())


def check_non_local(g: nx.Graph, h: nx.Graph, keep_ratio: float, depth: int) -> None:
    """Raise ``AssertionError`` unless no kept set of ``k`` nodes reveals the class.

    The property: equal node counts (so equal ``k = ceil(keep_ratio N)``), the
    same set of depth-``depth`` WL colours, and every colour whose count
    differs held by at least ``k`` nodes in both graphs. Why it suffices: a
    pooler that keeps the ``k`` top-scored nodes, with scores that are a
    function of the depth-``depth`` neighbourhood, takes colours in score
    order; colours before the first differing one have equal counts, and the
    first differing one has at least the ``k`` nodes still to fill, so the
    kept colours and their numbers are the same in both graphs.
    """
    if g.number_of_nodes() != h.number_of_nodes():
        raise AssertionError("a pair differs in its node count")
    k = math.ceil(keep_ratio * g.number_of_nodes())
    cg, ch = wl_colours(g, depth), wl_colours(h, depth)
    if set(cg) != set(ch):
        raise AssertionError("a pair has a node kind that only one graph holds")
    for colour in cg:
        if cg[colour] != ch[colour] and min(cg[colour], ch[colour]) < k:
            raise AssertionError(
                f"a node kind differing in count fills fewer than k={k} nodes"
            )


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


def verify_pair(
    sat: Formula, unsat: Formula, keep_ratio: float = 0.1, wl_depth: int = 3
) -> None:
    """Raise ``AssertionError`` unless labels and pair guarantees hold."""
    if not dpll(sat.clauses) or dpll(unsat.clauses):
        raise AssertionError("a generated formula has the wrong SAT label")
    g, h = formula_graph(sat), formula_graph(unsat)
    same_type = nx.algorithms.isomorphism.categorical_node_match("type", None)
    if nx.is_isomorphic(g, h, node_match=same_type):
        raise AssertionError("a generated pair is isomorphic")
    if wl_hash(g) == wl_hash(h):
        raise AssertionError("a generated pair is not 1-WL distinguishable")
    check_non_local(g, h, keep_ratio, wl_depth)


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
        verify_pair(sat, unsat, params["keep_ratio"], params["wl_depth"])
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


MISSING_ORIGINAL = (
    "EXPWL1.pkl not found; put it in <data.mirror>/EXPWL1/raw/ or use "
    "dataset.source=generated"
)


def _original_file(root: str, mirror: str | None) -> Path | None:
    """Where the published ``EXPWL1.pkl`` is: the root's copy, else the mirror's."""
    for base in (root, mirror):
        if base:
            path = Path(base).expanduser() / "EXPWL1" / "raw" / "EXPWL1.pkl"
            if path.is_file():
                return path
    return None


def load_original(root: str, mirror: str | None) -> list[Data]:
    """The published ``EXPWL1.pkl``, copied from the mirror into the root once."""
    target = Path(root).expanduser() / "EXPWL1" / "raw" / "EXPWL1.pkl"
    found = _original_file(root, mirror)
    if found is None:
        raise PoolbenchError(MISSING_ORIGINAL)
    if found != target:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found, target)
    # The published file is a pickle (as the authors saved it): it is read
    # with an allowlist of the classes a list of PyG graphs needs, so a file
    # that names anything else is refused instead of run.
    with open(target, "rb") as f:
        unpickler = _GraphListUnpickler(f)
        try:
            graphs = unpickler.load()
        except Exception as exc:
            raise PoolbenchError(
                f"{target} is not a list of PyG graphs poolbench can read "
                f"safely ({exc}); use dataset.source=generated"
            ) from None
    return [_as_float_features(g) for g in graphs]


def _tensor_from_bytes(data: bytes):
    """torch's storage unpickling hook, as plain data only (torch's own
    version calls ``torch.load`` without ``weights_only``)."""
    import io

    return torch.load(io.BytesIO(data), weights_only=True)


class _GraphListUnpickler(pickle.Unpickler):
    """Unpickles a list of ``torch_geometric.data.Data`` and nothing else."""

    def find_class(self, module: str, name: str):
        from collections import OrderedDict

        from torch_geometric.data import data, storage

        allowed = {
            ("torch_geometric.data.data", "Data"): data.Data,
            ("torch_geometric.data.data", "DataEdgeAttr"): data.DataEdgeAttr,
            ("torch_geometric.data.data", "DataTensorAttr"): data.DataTensorAttr,
            ("torch_geometric.data.storage", "GlobalStorage"): storage.GlobalStorage,
            ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
            ("torch.storage", "_load_from_bytes"): _tensor_from_bytes,
            ("collections", "OrderedDict"): OrderedDict,
        }
        found = allowed.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return found


def preflight_expwl1(
    root: str,
    mirror: str | None = None,
    source: str = "generated",
    pairs: int = 600,
    vars_min: int = 8,
    vars_max: int = 14,
    keep_ratio: float = 0.1,
    wl_depth: int = 3,
    **_,
) -> None:
    """The settings, before any work (generating the set takes about 90 s)."""
    if source == "original":
        if _original_file(root, mirror) is None:  # before any cell or job starts
            raise PoolbenchError(MISSING_ORIGINAL)
        return
    if source != "generated":
        raise PoolbenchError(
            f"dataset.source must be generated or original, not {source!r}"
        )
    if pairs < 1 or not 3 <= vars_min <= vars_max:
        raise PoolbenchError("dataset.pairs must be ≥ 1 and 3 ≤ vars_min ≤ vars_max")
    if not 0 < keep_ratio < 1 or wl_depth < 1:
        raise PoolbenchError("dataset.keep_ratio must lie in (0, 1), wl_depth ≥ 1")


def load_expwl1(
    root: str,
    mirror: str | None = None,
    source: str = "generated",
    pairs: int = 600,
    vars_min: int = 8,
    vars_max: int = 14,
    clause_ratio: float = 2.0,
    keep_ratio: float = 0.1,
    wl_depth: int = 3,
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
        keep_ratio: the share of kept nodes that must not reveal the class.
        wl_depth: the neighbourhood depth (WL rounds) the scores may read.
        seed: seeds every random draw.
    """
    preflight_expwl1(
        root, mirror, source, pairs, vars_min, vars_max, keep_ratio=keep_ratio,
        wl_depth=wl_depth,
    )  # fmt: skip
    if source == "original":
        return GraphDataset(
            "EXPWL1", load_original(root, mirror), 2, {"source": source}
        )
    params = {
        "pairs": int(pairs),
        "vars_min": int(vars_min),
        "vars_max": int(vars_max),
        "clause_ratio": float(clause_ratio),
        "keep_ratio": float(keep_ratio),
        "wl_depth": int(wl_depth),
        "seed": int(seed),
        "generator_version": GENERATOR_VERSION,
    }
    digest = params_digest(params)
    folder = Path(root).expanduser() / "expressiveness"
    path = folder / f"expwl1_seed{seed}_{digest}.pt"
    graphs = load_or_generate(path, lambda: generate(params), "EXPWL1")
    return GraphDataset("EXPWL1-GEN", graphs, 2, params)


load_expwl1.preflight = preflight_expwl1  # called with the same keys


def graph_count(source: str = "generated", pairs: int = 600, **_) -> int:
    """A SAT and an UNSAT graph per pair; the published file has 1,500 pairs."""
    return 3000 if source == "original" else 2 * int(pairs)


# What `poolbench list datasets` shows without generating anything.
load_expwl1.class_count = lambda **_: 2
load_expwl1.graph_count = graph_count
load_expwl1.feature_count = lambda **_: 2  # one-hot node type
