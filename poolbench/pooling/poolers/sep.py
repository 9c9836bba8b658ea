"""Structural Entropy guided Pooling, SEP (Wu et al., ICML 2022), precomputable.

Paper: https://proceedings.mlr.press/v162/wu22b/wu22b.pdf

- SEL: the partition of a height-2 coding tree (root -> clusters -> nodes)
  built to lower the graph's structural entropy, per connected component
  (:func:`sep_partition`):

  1. *merge*: start from one leaf per node (volume = weighted degree ``d``,
     cut ``g = d``) and greedily join the two adjacent subtrees whose merge
     lowers the entropy most, ``delta = [(v1 - g1) log2(v12 / v1) + (v2 - g2)
     log2(v12 / v2) - 2 c12 log2(vol / v12)] / vol``, smallest first, until
     one tree is left (a binary tree);
  2. *compress*: while the tree is higher than 2, remove the inner node whose
     removal costs least, ``c_child log(v_parent / v_child)`` (its children
     move to its parent);
  3. *balance*: a node hanging straight under the root gets its own cluster.

  The clusters are the root's children. Isolated nodes are clusters alone.
  ``ratio`` is ignored: SEP sets the number of clusters of each graph.
- RED: ``X' = S^T X`` (sum; S one-hot ``[N, K]``).
- CON: ``A' = D^{-1/2} (S^T A S - diag) D^{-1/2}`` on the edge list.
- No auxiliary loss.

The greedy merge does not always reach the lowest-entropy partition (two
triangles joined by an edge give {0,1,2,3},{4,5}, entropy 2.02, not the two
triangles, 1.70), and among equal merge gains the heap's order decides, so
node order can mirror a split. Matches tgp's SEPPooling (the same greedy
merge, heap tie-breaks and compression, tested partition for partition);
supernodes are numbered by their smallest node, where tgp numbers them by
tree-node id. Each pooling
level builds its own tree on the level's input graph (tgp's ``forward``; the
paper's deeper trees correspond to its multi-level pre-coarsening).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.sparse.csgraph import connected_components
from torch import Tensor

from poolbench.pooling.base import TopologyPooler
from poolbench.pooling.connect import cluster_connect, degree_normalised
from poolbench.pooling.registry import register


@dataclass
class TreeNode:
    partition: list[int]
    vol: float
    g: float
    children: set[int] = field(default_factory=set)
    parent: int | None = None
    height: int = 0
    cut: float = 0.0
    merged: bool = False


class CodingTree:
    """A coding tree of one connected graph, reduced to height 2."""

    def __init__(self, adj: np.ndarray):
        self.adj = adj
        degree = adj.sum(axis=1)
        self.vol = float(degree.sum())
        n = adj.shape[0]
        self.nodes = {
            i: TreeNode([i], float(degree[i]), float(degree[i])) for i in range(n)
        }
        rows, cols = np.nonzero(adj)
        self.adjacent: dict[int, set[int]] = {i: set() for i in range(n)}
        for r, c in zip(rows.tolist(), cols.tolist()):
            self.adjacent[r].add(c)
        self.next_id = n
        self.compress_heap: list[list] = []

    def merge_delta(self, a: int, b: int, cut: float) -> float:
        n1, n2 = self.nodes[a], self.nodes[b]
        v12 = n1.vol + n2.vol
        return (
            (n1.vol - n1.g) * math.log(v12 / n1.vol, 2)
            + (n2.vol - n2.g) * math.log(v12 / n2.vol, 2)
            - 2 * cut * math.log(self.vol / v12, 2)
        ) / self.vol

    def compress_delta(self, node: int, parent: int) -> float:
        n = self.nodes[node]
        return n.cut * math.log(self.nodes[parent].vol / n.vol)

    def cut(self, a: int, b: int) -> float:
        p1, p2 = self.nodes[a].partition, self.nodes[b].partition
        if len(p1) == 1 and len(p2) == 1:
            return float(self.adj[p1[0], p2[0]])
        return float(self.adj[np.ix_(np.array(p1), np.array(p2))].sum())

    def merge_all(self) -> int:
        """Step 1: greedy binary merging; returns the root id."""
        heap = []
        for i in list(self.nodes):
            for j in self.adjacent[i]:
                if j > i:
                    c = float(self.adj[i, j])
                    heapq.heappush(heap, (self.merge_delta(i, j, c), i, j, c))
        root, unmerged = None, len(self.nodes)
        while unmerged > 1 and heap:
            _, a, b, c = heapq.heappop(heap)
            na, nb = self.nodes[a], self.nodes[b]
            if na.merged or nb.merged:
                continue
            na.merged = nb.merged = True
            new = self.next_id
            self.next_id += 1
            self.nodes[new] = TreeNode(
                na.partition + nb.partition,
                na.vol + nb.vol,
                na.g + nb.g - 2 * c,
                {a, b},
                height=max(na.height, nb.height) + 1,
                cut=c,
            )
            na.parent = nb.parent = new
            self.adjacent[new] = self.adjacent[a] | self.adjacent[b]
            for other in self.adjacent[new]:
                self.adjacent[other].add(new)
            for child in (a, b):
                if self.nodes[child].height > 0:
                    entry = [self.compress_delta(child, new), child, new]
                    heapq.heappush(self.compress_heap, entry)
            unmerged -= 1
            for other in self.adjacent[new]:
                if not self.nodes[other].merged:
                    c2 = self.cut(other, new)
                    heapq.heappush(
                        heap, (self.merge_delta(other, new, c2), other, new, c2)
                    )
            root = new
        return root

    def depth_through(self, node: int) -> int:
        """Ancestors of ``node`` plus its own height: the longest root-leaf path."""
        depth, cur = 0, self.nodes[node]
        while cur.parent is not None:
            cur = self.nodes[cur.parent]
            depth += 1
        return depth + self.nodes[node].height

    def remove(self, node: int, parent: int) -> None:
        """Step 2's move: ``node``'s children go to ``parent``; heights follow."""
        n, p = self.nodes[node], self.nodes[parent]
        p.cut += n.cut
        p.children.remove(node)
        p.children |= n.children
        for child in n.children:
            self.nodes[child].parent = parent
        gap = p.height - n.height
        del self.nodes[node]
        cur: int | None = parent
        while gap == 1 and cur is not None:
            top = self.nodes[cur]
            tallest = max(self.nodes[c].height for c in top.children)
            if top.height == tallest + 1:
                break
            top.height = tallest + 1
            cur = top.parent

    def compress(self, root: int, height: int = 2) -> None:
        heap = self.compress_heap
        while self.nodes[root].height > height:
            _, node, parent = heapq.heappop(heap)
            if self.depth_through(node) <= height:
                continue
            children = set(self.nodes[node].children)
            self.remove(node, parent)
            if self.nodes[root].height == height:
                break
            for entry in heap:
                if entry[1] == parent and self.depth_through(parent) > height:
                    entry[0] = self.compress_delta(entry[1], entry[2])
                if entry[1] in children and self.nodes[entry[1]].height > 0:
                    if self.depth_through(entry[1]) > height:
                        entry[2] = parent
                        entry[0] = self.compress_delta(entry[1], parent)
            heapq.heapify(heap)

    def clusters(self) -> list[list[int]]:
        root = self.merge_all()
        self.compress(root)
        # Step 3: a leaf right under the root is a cluster of its own.
        out = []
        for child in self.nodes[root].children:
            c = self.nodes[child]
            out.append(list(c.partition) if c.height > 0 else [c.partition[0]])
        return out


def sep_partition(adj: np.ndarray) -> np.ndarray:
    """SEP cluster of every node ``[N]``, numbered by each cluster's first node."""
    n = adj.shape[0]
    label = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return label
    adj = adj.copy()
    np.fill_diagonal(adj, 0.0)
    count, comp = connected_components(adj, directed=False)
    groups: list[list[int]] = []
    for c in range(count):
        members = np.flatnonzero(comp == c)
        if members.size == 1:
            groups.append([int(members[0])])
            continue
        tree = CodingTree(adj[np.ix_(members, members)])
        groups.extend([int(members[i]) for i in part] for part in tree.clusters())
    for i, group in enumerate(sorted(groups, key=min)):
        label[group] = i
    return label


@register("sep")
class SEPPool(TopologyPooler):
    paper = "Wu et al., ICML 2022, https://proceedings.mlr.press/v162/wu22b.html"
    reference = (
        "tgp: same partition, RED and CON (test_ref_sep_lapool.py); "
        "supernodes numbered by first node"
    )
    family = "one_over_k"
    expressive = True

    def precompute(
        self, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> dict[str, Tensor]:
        n = batch.numel()
        w = torch.ones(edge_index.size(1)) if edge_weight is None else edge_weight
        adj = np.zeros((n, n), dtype=np.float64)
        if edge_index.numel():
            ei = edge_index.cpu().numpy()
            np.add.at(adj, (ei[0], ei[1]), w.detach().cpu().double().numpy())
            # The tree reads an undirected graph: symmetrise one-way edges.
            adj = np.maximum(adj, adj.T)
        graph = batch.cpu().numpy()
        cluster = np.empty(n, dtype=np.int64)
        offset = 0
        for g in range(int(graph.max()) + 1 if n else 0):
            nodes = np.flatnonzero(graph == g)
            local = sep_partition(adj[np.ix_(nodes, nodes)])
            cluster[nodes] = local + offset
            offset += int(local.max()) + 1
        cluster_t = torch.as_tensor(cluster, device=edge_index.device)
        pooled_batch = batch.new_zeros(offset).scatter_(0, cluster_t, batch)
        ei, ew = cluster_connect(edge_index, edge_weight, cluster_t, offset)
        ei, ew = degree_normalised(ei, ew, offset)
        return {
            "cluster": cluster_t,
            "edge_index": ei,
            "edge_weight": ew,
            "batch": pooled_batch,
        }
