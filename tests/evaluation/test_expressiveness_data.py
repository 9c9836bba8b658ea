"""The generated expressiveness set keeps its promises, checked on a sample."""

from __future__ import annotations

import pickle

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from poolbench.data.expressiveness import (
    SAT,
    UNSAT,
    Formula,
    check_non_local,
    core_counts,
    dpll,
    even_core,
    formula_graph,
    load_expwl1,
    make_pair,
    odd_core,
    verify_pair,
    wl_colours,
    wl_hash,
)
from poolbench.errors import PoolbenchError

PARAMS = {
    "vars_min": 8,
    "vars_max": 14,
    "clause_ratio": 2.0,
    "keep_ratio": 0.1,
    "wl_depth": 3,
}


def test_dpll_on_known_formulas():
    assert dpll([(1, 2), (-1, 2), (1, -2)])
    assert not dpll([(1, 2), (-1, 2), (1, -2), (-1, -2)])
    assert not dpll([(1,), (-1,)])
    assert dpll([])


def to_nx(g: Data) -> nx.Graph:
    out = nx.Graph()
    for i, t in enumerate(g.x.argmax(dim=1).tolist()):
        out.add_node(i, type=t)
    out.add_edges_from(g.edge_index.T.tolist())
    return out


def test_sampled_pairs_are_distinct_wl_separable_and_correctly_labelled():
    rng = np.random.RandomState(7)
    for _ in range(10):
        sat, unsat = make_pair(rng, PARAMS)
        verify_pair(sat, unsat)  # raises on any broken guarantee
        g, h = formula_graph(sat), formula_graph(unsat)
        same = nx.algorithms.isomorphism.categorical_node_match("type", None)
        assert not nx.is_isomorphic(g, h, node_match=same)
        assert wl_hash(g) != wl_hash(h)
        assert dpll(sat.clauses) and not dpll(unsat.clauses)
        assert g.number_of_nodes() == h.number_of_nodes()


def test_no_kept_tenth_of_the_nodes_tells_the_pair_apart():
    """The property the construction exists for, checked as a pooler meets it:
    any score that is a function of a node's depth-3 neighbourhood (a random
    one per colour here), top-k with k = ceil(0.1 N): the kept nodes' colours
    and their numbers are the same in G and H."""
    rng = np.random.RandomState(3)
    for _ in range(5):
        sat, unsat = make_pair(rng, PARAMS)
        g, h = formula_graph(sat), formula_graph(unsat)
        k = int(np.ceil(0.1 * g.number_of_nodes()))
        colours_g, colours_h = wl_colours(g, 3), wl_colours(h, 3)
        for _ in range(50):
            score = {c: rng.rand() for c in colours_g}
            order = sorted(score, key=score.get, reverse=True)

            def kept(counts, order=order, k=k):
                left, out = k, {}
                for colour in order:
                    out[colour] = min(left, counts[colour])
                    left -= out[colour]
                return out

            assert kept(colours_g) == kept(colours_h)
        # while the whole graphs differ in counts: a sum over all nodes sees it
        assert colours_g != colours_h


def test_the_old_one_clause_core_fails_the_non_locality_check():
    # poolbench's first generator: the UNSAT graph had one more 2-clause node,
    # a kind of node few enough for a top-k pooler to keep and count
    shared = [(1, 2, 3), (-1, 4, 5), (2, -4, 6), (-3, 5, -6)]
    g = formula_graph(Formula(6, shared + odd_core(1, 2)[:3]))
    h = formula_graph(Formula(6, shared + odd_core(1, 2)))
    with pytest.raises(AssertionError, match="node count"):
        check_non_local(g, h, 0.1, 3)
    # an odd core against an even one: same kinds, same counts, so 1-WL twins
    g = formula_graph(Formula(8, shared + odd_core(7, 8)))
    h = formula_graph(Formula(8, shared + even_core(7, 8)))
    assert wl_hash(g) == wl_hash(h)


def test_core_counts_are_the_smallest_that_satisfy_the_bound():
    a, b = core_counts(PARAMS)
    assert (a, b) == (4, 8)
    # at a = 3: N = 28 + 28 + 8 * 10 = 136, k = 14 > 4 * 3 = 12
    assert core_counts({**PARAMS, "vars_max": 3, "clause_ratio": 1.0}) == (2, 4)


def test_verify_pair_rejects_wl_twins_and_wrong_labels():
    unsat = Formula(2, [(1, 2), (-1, 2), (1, -2), (-1, -2)])
    # EXP-style twin: SAT, same degrees everywhere, so 1-WL cannot tell them apart.
    sat_twin = Formula(2, [(1, 2), (1, 2), (-1, -2), (-1, -2)])
    assert dpll(sat_twin.clauses)
    with pytest.raises(AssertionError, match="1-WL"):
        verify_pair(sat_twin, unsat)
    with pytest.raises(AssertionError, match="label"):
        verify_pair(unsat, unsat)


def test_loaded_graphs_keep_labels_types_and_pair_guarantees(tmp_path):
    data = load_expwl1(str(tmp_path), pairs=8, seed=3)
    assert len(data) == 16 and data.num_features == 2 and data.num_classes == 2
    for k in range(0, 16, 2):
        g, h = data.graphs[k], data.graphs[k + 1]
        assert int(g.y) == SAT and int(h.y) == UNSAT
        assert wl_hash(to_nx(g)) != wl_hash(to_nx(h))
        assert torch.equal(g.x.sum(dim=1), torch.ones(g.num_nodes))  # one-hot type
    again = load_expwl1(str(tmp_path), pairs=8, seed=3)  # from the cache
    assert again.fingerprint == data.fingerprint
    assert list((tmp_path / "expressiveness").glob("*.pt"))
    other = load_expwl1(str(tmp_path), pairs=8, seed=4)
    assert other.fingerprint != data.fingerprint


def test_original_file_loads_from_the_mirror(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "EXPWL1" / "raw").mkdir(parents=True)
    graphs = [
        Data(
            x=torch.tensor([0, 1, 1]),  # integer node types, as in a raw file
            edge_index=torch.tensor([[0, 1], [1, 0]]),
            y=torch.tensor([label]),
        )
        for label in (0, 1)
    ]
    with open(mirror / "EXPWL1" / "raw" / "EXPWL1.pkl", "wb") as f:
        pickle.dump(graphs, f)
    data = load_expwl1(str(tmp_path / "root"), str(mirror), source="original")
    assert data.name == "EXPWL1" and len(data) == 2
    assert data.graphs[0].x.shape == (3, 2) and data.graphs[0].x.dtype == torch.float


def test_missing_original_file_is_a_one_line_error(tmp_path):
    with pytest.raises(PoolbenchError, match="EXPWL1.pkl not found"):
        load_expwl1(str(tmp_path), None, source="original")
