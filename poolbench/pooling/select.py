"""SEL: how poolers build the assignment S from features or topology."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import coalesce, scatter, to_dense_adj

# torch's CPU softmax over a last dimension narrower than this runs a scalar
# loop, several times slower per row than at this width (torch 2.13, one
# thread, 576 x 9: 107 us against 19 us for 576 x 16; forward and backward of
# 576 x 9 220 -> 130 us padded): ``softmax_last`` pads the columns with -inf.
_SOFTMAX_WIDTH = 16


def softmax_last(logits: Tensor) -> Tensor:
    """``torch.softmax(logits, -1)``, padded on the CPU to a width whose
    kernel is vectorised; the padding gets weight exp(-inf) = 0, so the values
    and gradients are the plain softmax's (to rounding)."""
    k = logits.size(-1)
    if logits.device.type != "cpu" or k == 0 or k >= _SOFTMAX_WIDTH:
        return torch.softmax(logits, dim=-1)
    padded = F.pad(logits, (0, _SOFTMAX_WIDTH - k), value=float("-inf"))
    return torch.softmax(padded, dim=-1)[..., :k]


class DenseSelect(nn.Module):
    """Soft assignment ``S = softmax(MLP(X) / temp)`` of every node to K clusters.

    Args:
        in_channels: node feature size F.
        k: number of clusters K.
        hidden: hidden sizes of the MLP; empty means one linear layer.
        temp: softmax temperature.

    Shapes: ``x`` ``[B, N, F]`` -> ``S`` ``[B, N, K]`` (rows sum to 1).
    """

    def __init__(
        self,
        in_channels: int,
        k: int,
        hidden: tuple[int, ...] = (),
        temp: float = 1.0,
        act: str = "softmax",
    ):
        super().__init__()
        layers: list[nn.Module] = []
        size = in_channels
        for h in hidden:
            layers += [nn.Linear(size, h), nn.ReLU()]
            size = h
        layers.append(nn.Linear(size, k))
        self.mlp = nn.Sequential(*layers)
        self.temp = temp
        self.act = act

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        logits = self.mlp(x)
        # temp scales the softmax and the sigmoid; dividing by 1 is skipped
        # (an exact no-op, two kernels a step)
        scaled = logits / self.temp if self.temp != 1.0 else logits
        if self.act == "softmax":
            s = softmax_last(scaled)
        elif self.act == "sigmoid":
            s = torch.sigmoid(scaled)
        elif self.act == "relu":
            s = torch.relu(logits)
        else:
            raise ValueError(f"unknown assignment activation {self.act!r}")
        if mask is not None:
            # Padded rows must not belong to any cluster.
            s = s * mask.unsqueeze(-1).to(s.dtype)
        return s


# Topology selectors (one-over-K poolers): pure functions of the graph structure.
# Inputs are the sparse batch (undirected edges listed both ways, nodes sorted by
# graph); outputs are cluster ids, contiguous and graph-ordered.


def _weights(edge_index: Tensor, edge_weight: Tensor | None) -> Tensor:
    if edge_weight is None:
        return torch.ones(edge_index.size(1), device=edge_index.device)
    return edge_weight.view(-1).float()


def select_graclus(
    edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int
) -> Tensor:
    """Graclus heavy-edge matching (Dhillon et al. 2007): cluster ``[N]``.

    Edge ``(i, j)`` has the normalised-cut weight ``w_ij (1/d_i + 1/d_j)``. In
    rounds, every unmatched node proposes to the unmatched neighbour across its
    heaviest edge; mutual proposals match. The best remaining edge is always
    mutual, so each round makes progress and the result is the greedy matching
    by decreasing weight (maximal: no edge joins two singletons). Ties in the
    weight fall to the sum of the endpoints' neighbour degrees (smaller first),
    then to node indices: only then does the result depend on node order.
    """
    device = edge_index.device
    w = _weights(edge_index, edge_weight)
    row, col = edge_index
    loop = row == col
    row, col, w = row[~loop], col[~loop], w[~loop]
    deg = scatter(w, row, dim=0, dim_size=num_nodes, reduce="sum")
    inv = torch.where(deg > 0, 1.0 / deg, torch.zeros_like(deg))
    cnt = scatter(torch.ones_like(w), row, dim=0, dim_size=num_nodes, reduce="sum")
    hood = scatter(cnt[col], row, dim=0, dim_size=num_nodes, reduce="sum")
    pairs = torch.stack([torch.minimum(row, col), torch.maximum(row, col)])
    pairs, w = coalesce(pairs, w, num_nodes=num_nodes, reduce="max")
    i, j = pairs
    score = w * (inv[i] + inv[j])
    # Ascending priority (best last): score, then fewer 2-hop nodes, then index.
    order = torch.arange(i.numel() - 1, -1, -1, device=device)
    order = order[torch.sort(-(hood[i] + hood[j])[order], stable=True).indices]
    order = order[torch.sort(score[order], stable=True).indices]
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel(), device=device)

    partner = torch.arange(num_nodes, device=device)
    alive = torch.ones_like(i, dtype=torch.bool)
    while bool(alive.any()):
        r = torch.where(alive, rank, -1)
        best = torch.full((num_nodes,), -1, dtype=torch.long, device=device)
        best = best.scatter_reduce(0, i, r, "amax").scatter_reduce(0, j, r, "amax")
        win = alive & (best[i] == rank) & (best[j] == rank)
        partner[i[win]] = j[win]
        partner[j[win]] = i[win]
        free = partner == torch.arange(num_nodes, device=device)
        alive = alive & free[i] & free[j]
    rep = torch.minimum(partner, torch.arange(num_nodes, device=device))
    return torch.unique(rep, return_inverse=True)[1]


def select_kmis(
    edge_index: Tensor,
    edge_weight: Tensor | None,
    num_nodes: int,
    order_k: int = 1,
    scorer: str = "degree",
    score_heuristic: str | None = "greedy",
) -> tuple[Tensor, Tensor]:
    """Maximal k-independent set clustering (Bacciu et al. 2023).

    Nodes are ranked by score (``degree``: weighted in-degree; ``constant``),
    optionally divided by ``(A + I)^k 1`` (``greedy``) or ``(A + I)^k s``
    (``w-greedy``); ties fall to the node index. In rounds, an uncovered node
    whose rank is the best within k hops among uncovered nodes joins the set,
    and everything within k hops of the set becomes covered. Every node then
    joins the best-ranked set node within k hops (the nearest for k = 1).

    Returns ``cluster`` ``[N]`` (ids ordered like the set nodes) and the set
    ``mis`` ``[N]`` (bool).
    """
    device = edge_index.device
    row, col = edge_index
    if scorer == "degree":
        w = _weights(edge_index, edge_weight)
        score = scatter(w, col, dim=0, dim_size=num_nodes, reduce="sum")
    elif scorer == "constant":
        score = torch.ones(num_nodes, device=device)
    else:
        raise ValueError(f"unknown k-MIS scorer {scorer!r}")
    if score_heuristic is not None:
        sums = {"greedy": torch.ones_like(score), "w-greedy": score.clone()}.get(
            score_heuristic
        )
        if sums is None:
            raise ValueError(f"unknown k-MIS score heuristic {score_heuristic!r}")
        for _ in range(order_k):
            sums = sums + scatter(sums[row], col, dim=0, dim_size=num_nodes)
        score = torch.where(sums > 0, score / sums, torch.zeros_like(score))
    perm = torch.sort(score, descending=True, stable=True).indices
    rank = torch.empty_like(perm)
    rank[perm] = torch.arange(num_nodes, device=device)

    def spread_min(v: Tensor) -> Tensor:
        for _ in range(order_k):
            v = v.scatter_reduce(0, col, v[row], "amin", include_self=True)
        return v

    mis = torch.zeros(num_nodes, dtype=torch.bool, device=device)
    covered = mis.clone()
    while not bool(covered.all()):
        mis = mis | (rank == spread_min(torch.where(covered, num_nodes, rank)))
        reach = mis.long()
        for _ in range(order_k):
            reach = reach.scatter_reduce(0, col, reach[row], "amax")
        covered = reach.bool()
    best = spread_min(torch.where(mis, rank, num_nodes))
    node_of_rank = torch.empty(num_nodes, dtype=torch.long, device=device)
    node_of_rank[rank] = torch.arange(num_nodes, device=device)
    set_id = torch.cumsum(mis.long(), 0) - 1
    return set_id[node_of_rank[best]], mis


def padded_topology(
    edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Dense symmetric adjacency ``[B, N, N]`` (float64, no self-loops), the node
    mask ``[B, N]`` and each node's position in its graph ``[N]``."""
    count = torch.bincount(batch)
    ptr = torch.cumsum(count, 0) - count
    local = torch.arange(batch.numel(), device=batch.device) - ptr[batch]
    n_max = int(count.max()) if count.numel() else 1
    mask = torch.zeros(count.numel(), n_max, dtype=torch.bool, device=batch.device)
    mask[batch, local] = True
    adj = to_dense_adj(
        edge_index, batch, _weights(edge_index, edge_weight), n_max, count.numel()
    ).double()
    adj = torch.maximum(adj, adj.transpose(1, 2))
    adj = adj * (1 - torch.eye(n_max, dtype=adj.dtype, device=adj.device))
    return adj, mask, local


def select_ndp(adj: Tensor, mask: Tensor, tol: float = 1e-8) -> Tensor:
    """Node decimation (Bianchi et al. 2020): the kept nodes ``[B, N]`` (bool).

    Splits each graph by the sign of the eigenvector ``u`` of the largest
    eigenvalue of its normalised Laplacian (a spectral MAXCUT). Since the sign
    of ``u`` is arbitrary, the larger side is kept (then the side of positive
    ``sum(u)``, then the side of the first nonzero entry); entries with
    ``|u| <= tol`` (isolated nodes, components ``u`` misses) are kept. When the
    cut holds under half of the edge weight, a fixed pseudo-random split by the
    node's position in its graph replaces it (first node kept, second dropped),
    as NDP does. Graphs without edges keep every node.

    Shapes: ``adj`` ``[B, N, N]`` (symmetric, float64), ``mask`` ``[B, N]``.
    """
    n = adj.size(-1)
    deg = adj.sum(-1)
    dis = torch.where(deg > 0, deg.clamp_min(1e-300).rsqrt(), torch.zeros_like(deg))
    # Isolated nodes get eigenvalue 0 and padding -1, so neither can be the top.
    diag = (deg > 0).double() - (~mask).double()
    ls = torch.diag_embed(diag) - dis.unsqueeze(-1) * adj * dis.unsqueeze(-2)
    u = torch.linalg.eigh(ls).eigenvectors[..., -1] * mask
    pos, neg = u > tol, u < -tol
    npos, nneg, mass = pos.sum(1), neg.sum(1), u.sum(1)
    first = torch.gather(u, 1, (pos | neg).long().argmax(1, keepdim=True)).squeeze(1)
    tie = npos == nneg
    flat = tie & (mass.abs() <= tol)
    flip = (nneg > npos) | (tie & (mass < -tol)) | (flat & (first < 0))
    keep = torch.where(flip.unsqueeze(1), -u, u) >= -tol
    z = torch.where(keep, 1.0, -1.0).double() * mask
    lap = torch.diag_embed(deg) - adj
    vol = adj.sum((1, 2))
    cut = (z * (lap @ z.unsqueeze(-1)).squeeze(-1)).sum(1) / (2 * vol.clamp_min(1e-300))
    # A fixed integer hash of the position stands in for NDP's coin flips.
    pos_id = torch.arange(n, device=adj.device)
    h = ((pos_id + 1) * 0x9E3779B1) & 0xFFFFFFFF
    h = ((h ^ (h >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
    pseudo = (((h ^ (h >> 16)) & 1).bool() | (pos_id == 0)) & (pos_id != 1)
    keep = torch.where(((vol > 0) & (cut < 0.5)).unsqueeze(1), pseudo, keep)
    keep = torch.where((vol > 0).unsqueeze(1), keep, True)
    return keep & mask


def keep_top(score: Tensor, ratio: float, batch: Tensor) -> Tensor:
    """The ``ceil(ratio * N_g)`` top-scored nodes of each graph, graph by graph,
    each graph's in descending score (PyG's ``topk`` order).

    Equal scores are ranked by position in their graph. PyG's ``topk`` sorts
    the whole batch with an unstable sort, so which of several tied nodes it
    kept moved with the batch size and the graph's place in the batch (8 tied
    nodes kept the first half, 40 the second); nodes that message passing
    cannot tell apart tie exactly (86 of MUTAG's 188 graphs at the cut, at
    initialisation), so a graph's embedding depended on the batch it was in.
    PyG's ``topk`` also reads a ratio ``>= 1`` as a node count, so ``ratio =
    1.0`` would keep a single node per graph; here it keeps every node.
    """
    score = score.view(-1)
    if score.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=score.device)
    counts = torch.bincount(batch, minlength=int(batch.max()) + 1)
    if ratio >= 1:
        k = counts
    else:  # in the score's dtype, as PyG does, so K agrees with its poolers
        k = (float(ratio) * counts.to(score.dtype)).ceil().to(torch.long)
    order = torch.sort(score, descending=True, stable=True).indices
    order = order[torch.sort(batch[order], stable=True).indices]
    graph = batch[order]
    rank = (
        torch.arange(order.numel(), device=score.device)
        - (torch.cumsum(counts, 0) - counts)[graph]
    )
    return order[rank < k[graph]]
