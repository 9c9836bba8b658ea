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
    dpll,
    formula_graph,
    load_expwl1,
    make_pair,
    verify_pair,
    wl_hash,
)
from poolbench.errors import PoolbenchError

PARAMS = {"vars_min": 8, "vars_max": 14, "clause_ratio": 2.0}


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
    for _ in range(25):
        sat, unsat = make_pair(rng, PARAMS)
        verify_pair(sat, unsat)  # raises on any broken guarantee
        g, h = formula_graph(sat), formula_graph(unsat)
        same = nx.algorithms.isomorphism.categorical_node_match("type", None)
        assert not nx.is_isomorphic(g, h, node_match=same)
        assert wl_hash(g) != wl_hash(h)
        assert dpll(sat.clauses) and not dpll(unsat.clauses)
        # The pair shares its random part: only the core differs.
        assert set(sat.clauses) < set(unsat.clauses)
        assert len(set(unsat.clauses) - set(sat.clauses)) == 1


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
