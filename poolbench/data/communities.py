"""Graphs with planted communities, generated in code: SBM and LFR (networkx).

The community-level task is scored against known communities, so the data
plants them. Structure comes from networkx's generators: the stochastic block
model (``K`` equal blocks, edge probability ``p_in`` inside a block and
``p_out`` between blocks) or the LFR benchmark (power-law degrees and
community sizes, a share ``mu`` of each node's edges leaving its community).
Node features are a Gaussian mixture in ``feature_dim`` dimensions: one centre
per component, drawn with norm ``feature_signal`` (the signal-to-noise ratio
against unit noise). With ``aligned`` the components are the communities;
without it they are drawn independently of them, so the features say nothing
about the communities and only the graph does. Everything is seeded.
"""

from __future__ import annotations

import inspect

import networkx as nx
import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, to_undirected

from poolbench.data.dataset import NodeDataset
from poolbench.errors import PoolbenchError


def _features(
    communities: np.ndarray, dim: int, signal: float, aligned: bool, rng
) -> torch.Tensor:
    k = int(communities.max()) + 1
    centres = rng.normal(size=(k, dim))
    centres *= signal / np.linalg.norm(centres, axis=1, keepdims=True)
    component = communities if aligned else rng.integers(0, k, size=communities.size)
    x = centres[component] + rng.normal(size=(communities.size, dim))
    return torch.tensor(x, dtype=torch.float32)


def variant_name(base: str, loader, params: dict) -> str:
    """``base`` plus each setting that differs from the loader's default, in
    the loader's argument order (``SBM-nodes200-p_out0.05``): other settings
    make another graph, and tables, ranks and split files tell datasets apart
    by name (two p_out values under one name were ranked as one dataset)."""
    parts = [base]
    for key, arg in inspect.signature(loader).parameters.items():
        if key not in params or params[key] == arg.default:
            continue
        value = params[key]
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, float):
            value = repr(value)  # every digit: 'g' merged 0.1234561 and 0.1234564
        parts.append(f"{key}{value}")
    return "-".join(parts)


def _graph(g: nx.Graph, n: int) -> torch.Tensor:
    edges = torch.tensor(list(g.edges()), dtype=torch.long).t()
    if edges.numel() == 0:
        return torch.empty(2, 0, dtype=torch.long)
    return coalesce(to_undirected(edges, num_nodes=n), num_nodes=n)


def load_sbm(
    root: str,
    nodes: int = 1000,
    blocks: int = 5,
    p_in: float = 0.05,
    p_out: float = 0.002,
    feature_dim: int = 16,
    feature_signal: float = 3.0,
    aligned: bool = True,
    seed: int = 0,
) -> NodeDataset:
    """A stochastic block model with ``blocks`` equal blocks of ``nodes``.

    The defaults plant clear communities: about 10 neighbours inside a node's
    block against 1.6 outside it, and aligned features 3 noise-widths apart.
    """
    if blocks < 2 or nodes < 2 * blocks:
        raise PoolbenchError("dataset.blocks must be ≥ 2, with ≥ 2 nodes per block")
    if not 0 <= p_out <= 1 or not 0 < p_in <= 1:
        raise PoolbenchError("dataset.p_in must lie in (0, 1] and p_out in [0, 1]")
    sizes = [nodes // blocks + (i < nodes % blocks) for i in range(blocks)]
    probs = np.full((blocks, blocks), p_out)
    np.fill_diagonal(probs, p_in)
    g = nx.stochastic_block_model(sizes, probs.tolist(), seed=seed)
    communities = np.repeat(np.arange(blocks), sizes)
    rng = np.random.default_rng(seed)
    x = _features(communities, feature_dim, feature_signal, aligned, rng)
    graph = Data(x=x, edge_index=_graph(g, nodes), y=torch.from_numpy(communities))
    params = dict(
        generator="sbm", nodes=nodes, blocks=blocks, p_in=p_in, p_out=p_out,
        feature_dim=feature_dim, feature_signal=feature_signal, aligned=aligned,
        seed=seed,
    )  # fmt: skip
    return NodeDataset(variant_name("SBM", load_sbm, params), graph, blocks, params)


def load_lfr(
    root: str,
    nodes: int = 1000,
    tau1: float = 2.5,
    tau2: float = 1.5,
    mu: float = 0.1,
    average_degree: float = 10.0,
    max_degree: int = 50,
    min_community: int = 20,
    max_community: int = 100,
    feature_dim: int = 16,
    feature_signal: float = 3.0,
    aligned: bool = True,
    seed: int = 0,
) -> NodeDataset:
    """The LFR benchmark (Lancichinetti, Fortunato & Radicchi 2008).

    ``mu`` is the mixing: the share of a node's edges that leave its
    community (0.1 clear, 0.5 hard). ``tau1`` and ``tau2`` are the power-law
    exponents of degrees and community sizes; networkx's generator converges
    for the defaults (about 20 communities of 20 to 100 nodes).
    """
    if not 0 <= mu <= 1:
        raise PoolbenchError(f"dataset.mu must lie in [0, 1], got {mu}")
    try:
        g = nx.LFR_benchmark_graph(
            nodes, tau1, tau2, mu, average_degree=average_degree,
            max_degree=max_degree, min_community=min_community,
            max_community=max_community, seed=seed, max_iters=500,
        )  # fmt: skip
    except nx.ExceededMaxIterations:
        raise PoolbenchError(
            "networkx's LFR generator did not converge for these settings; try "
            "another dataset.seed or a larger dataset.min_community"
        ) from None
    g.remove_edges_from(nx.selfloop_edges(g))
    groups = {frozenset(g.nodes[v]["community"]) for v in g}
    ordered = sorted(groups, key=min)
    communities = np.empty(nodes, dtype=np.int64)
    for i, members in enumerate(ordered):
        communities[list(members)] = i
    rng = np.random.default_rng(seed)
    x = _features(communities, feature_dim, feature_signal, aligned, rng)
    graph = Data(x=x, edge_index=_graph(g, nodes), y=torch.from_numpy(communities))
    params = dict(
        generator="lfr", nodes=nodes, tau1=tau1, tau2=tau2, mu=mu,
        average_degree=average_degree, max_degree=max_degree,
        min_community=min_community, max_community=max_community,
        feature_dim=feature_dim, feature_signal=feature_signal, aligned=aligned,
        seed=seed,
    )  # fmt: skip
    name = variant_name("LFR", load_lfr, params)
    return NodeDataset(name, graph, len(ordered), params)


def node_count(nodes: int = 1000, **_) -> int:
    """The generated graph's node count, read from its settings before any
    generation (task=community checks its K against it)."""
    return nodes


def feature_count(feature_dim: int = 16, **_) -> int:
    return feature_dim


def block_count(blocks: int = 5, **_) -> int:
    return blocks


# Checked before loading: one graph with node labels (node, community tasks).
load_sbm.dataset_kind = "nodes"
load_lfr.dataset_kind = "nodes"
# What `poolbench list datasets` shows without generating anything; LFR's
# community count is drawn, so it has none.
load_sbm.class_count = block_count
load_sbm.feature_count = load_lfr.feature_count = feature_count
load_sbm.node_count = node_count
load_lfr.node_count = node_count
# Generated graphs have no published split: task=node needs protocol=random.
load_sbm.public_split = False
load_lfr.public_split = False
