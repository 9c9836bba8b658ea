"""Auxiliary losses of the soft-clustering poolers, on padded dense batches.

Every loss here is a mean over the graphs of the batch, so its value does not
depend on how graphs are grouped into batches (the DMoN trap of PyG 8284).
Shapes: ``adj`` ``[B, N, N]``, ``s`` ``[B, N, K]``, ``mask`` ``[B, N]``.

The losses that read A beyond ``S^T A S`` and the degrees have a second form
over the stored entries of A (:class:`~poolbench.pooling.dense.EdgeEntries`,
``s_flat`` ``[N_total, K]`` the rows of ``s[mask]``), which the poolers use:
it costs O(E K) instead of the padded ``B N^2``. The dense forms stay as the
definition the edge forms are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from poolbench.pooling.connect import EPS
from poolbench.pooling.dense import (
    EdgeEntries,
    SizeGroups,
    dense_adjacency,
    is_dense_graph,
)


def _trace(m: Tensor) -> Tensor:
    return m.diagonal(dim1=-2, dim2=-1).sum(-1)


def mincut_loss(
    adj: Tensor | None,
    s: Tensor,
    sas: Tensor | None = None,
    deg: Tensor | None = None,
) -> Tensor:
    """``-Tr(S^T A S) / Tr(S^T D S)`` (Bianchi et al. 2020); 0 for edgeless graphs.

    ``sas`` (``S^T A S``) and ``deg`` (``[B, N]``), when the caller already has
    them, replace ``adj``, which then may be None: no ``B N^2`` work here.
    """
    sas = s.transpose(1, 2) @ adj @ s if sas is None else sas
    deg = adj.sum(-1) if deg is None else deg
    # Tr(S^T D S) = sum_i d_i ||S_i||^2: elementwise, no [K, N] x [N, K] product
    return mincut_from(sas, (deg.unsqueeze(-1) * s.square()).sum((-1, -2)))


def mincut_from(sas: Tensor, sds: Tensor) -> Tensor:
    """:func:`mincut_loss` from ``S^T A S`` ``[B, K, K]`` and ``Tr(S^T D S)``
    ``[B]``, however they were computed."""
    return _cut_ratio(_trace(sas), sds)


def _cut_ratio(num: Tensor, den: Tensor) -> Tensor:
    return (-num / (den + EPS)).mean()


def orthogonality_loss(s: Tensor) -> Tensor:
    """``|| S^T S / ||S^T S||_F - I_K / sqrt(K) ||_F`` (Bianchi et al. 2020)."""
    return orthogonality_from(s.transpose(1, 2) @ s)


def orthogonality_from(ss: Tensor) -> Tensor:
    """:func:`orthogonality_loss` from ``S^T S`` ``[B, K, K]``."""
    k = ss.size(-1)
    eye = torch.eye(k, device=ss.device, dtype=ss.dtype) / k**0.5
    ss = ss / (torch.linalg.matrix_norm(ss, keepdim=True) + EPS)
    return torch.linalg.matrix_norm(ss - eye).mean()


def graph_sizes(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """Real node count of each graph ``[B]``, at least 1 so it can divide."""
    return mask.sum(-1).to(dtype).clamp_min(1)


def link_loss(adj: Tensor, s: Tensor, mask: Tensor, normalize: bool = False) -> Tensor:
    """DiffPool link prediction: ``||A - S S^T||_F`` per graph (Ying et al. 2018).

    With ``normalize`` each graph's norm is divided by ``N_g^2``. tgp takes one
    Frobenius norm over the whole padded batch; per graph and then a mean keeps
    the value independent of which graphs share a batch (equal for one graph).
    """
    diff = adj - s @ s.transpose(1, 2)
    # EPS keeps the gradient finite when S S^T reproduces A exactly.
    loss = (diff.pow(2).sum((-1, -2)) + EPS).sqrt()
    if normalize:
        loss = loss / graph_sizes(mask, s.dtype).pow(2)
    return loss.mean()


def link_loss_edges(
    e: EdgeEntries, ss: Tensor, mask: Tensor, sas: Tensor, normalize: bool = False
) -> Tensor:
    """:func:`link_loss` without the dense A, from
    ``||A - S S^T||^2 = ||A||^2 - 2 Tr(S^T A S) + ||S^T S||^2`` per graph
    (``ss`` is ``S^T S``, ``sas`` the raw ``S^T A S``)."""
    a_sq = ss.new_zeros(ss.size(0)).index_add(0, e.graph, e.weight.pow(2))
    sq = a_sq - 2 * _trace(sas) + ss.pow(2).sum((-1, -2))
    # clamp: rounding may leave a tiny negative where S S^T nearly equals A
    loss = (sq.clamp_min(0) + EPS).sqrt()
    if normalize:
        loss = loss / graph_sizes(mask, ss.dtype).pow(2)
    return loss.mean()


def entropy_loss(s: Tensor, mask: Tensor) -> Tensor:
    """DiffPool entropy: mean over real nodes of ``H(S_i)``, then over graphs."""
    ent = node_entropy(s) * mask.to(s.dtype)
    return entropy_from(ent.sum(-1), graph_sizes(mask, s.dtype))


def node_entropy(s: Tensor) -> Tensor:
    """``H(S_i)`` of every row ``[..., N]``."""
    return -(s * torch.log(s + EPS)).sum(-1)


def entropy_from(total: Tensor, num_nodes: Tensor) -> Tensor:
    """:func:`entropy_loss` from each graph's summed row entropy ``[B]`` and
    node count ``[B]`` (at least 1)."""
    return (total / num_nodes).mean()


def spectral_loss(
    adj: Tensor | None,
    s: Tensor,
    sas: Tensor | None = None,
    deg: Tensor | None = None,
) -> Tensor:
    """DMoN modularity loss ``-Tr(S^T B S) / 2m`` with ``B = A - d d^T / 2m``.

    ``m`` is each graph's own edge mass (PyG 8284 used the batch's); graphs
    without edges contribute 0. ``sas`` and ``deg`` as in :func:`mincut_loss`.
    """
    deg = adj.sum(-1) if deg is None else deg
    sas = s.transpose(1, 2) @ adj @ s if sas is None else sas
    return spectral_from(sas, (s * deg.unsqueeze(-1)).sum(1), deg.sum(-1))


def spectral_from(sas: Tensor, ca: Tensor, two_m: Tensor) -> Tensor:
    """:func:`spectral_loss` from ``S^T A S`` ``[B, K, K]``, ``S^T d``
    ``[B, K]`` and each graph's ``2m`` ``[B]``."""
    safe = torch.where(two_m > 0, two_m, torch.ones_like(two_m))
    loss = -(_trace(sas) - ca.pow(2).sum(-1) / safe) / safe
    return torch.where(two_m > 0, loss, torch.zeros_like(loss)).mean()


def cluster_loss(s: Tensor, mask: Tensor) -> Tensor:
    """DMoN collapse regulariser ``sqrt(K) / N_g * ||sum_i S_i||_2 - 1``.

    ``N_g`` is each graph's real node count ``[B]`` (PyG 10149 broadcast it
    against the wrong axis).
    """
    return cluster_from(s.sum(1), graph_sizes(mask, s.dtype))


def cluster_from(mass: Tensor, num_nodes: Tensor) -> Tensor:
    """:func:`cluster_loss` from each graph's ``sum_i S_i`` ``[B, K]`` and node
    count ``[B]`` (at least 1)."""
    sizes = torch.linalg.vector_norm(mass, dim=-1)
    return (sizes / num_nodes * mass.size(-1) ** 0.5 - 1).mean()


def totvar_loss(adj: Tensor, s: Tensor) -> Tensor:
    """TV term of the asymmetric Cheeger cut (Hansen & Bianchi 2023).

    ``sum_ij a_ij ||S_i - S_j||_1 / (2 * nnz(A_g))`` per graph, over the stored
    entries of A only so memory stays O(E K).
    """
    b, i, j = adj.nonzero(as_tuple=True)
    tv = adj[b, i, j] * (s[b, i] - s[b, j]).abs().sum(-1)
    per_graph = s.new_zeros(s.size(0)).index_add(0, b, tv)
    nnz = (adj != 0).sum((-1, -2)).to(s.dtype).clamp_min(1)
    return (per_graph / (2 * nnz)).mean()


def totvar_loss_edges(e: EdgeEntries, s_flat: Tensor, num_graphs: int) -> Tensor:
    """:func:`totvar_loss` over the stored entries of A."""
    # Zero entries are not stored in the dense form: masked, so their
    # weights get no gradient there either.
    nonzero = (e.weight != 0).to(s_flat.dtype)
    tv = e.weight * nonzero * l1_distances(s_flat, e.row, e.col)
    per_graph = tv.new_zeros(num_graphs).index_add(0, e.graph, tv)
    nnz = tv.new_zeros(num_graphs).index_add(0, e.graph, nonzero).clamp_min(1)
    return (per_graph / (2 * nnz)).mean()


def asym_norm_loss(s: Tensor, mask: Tensor) -> Tensor:
    """Balance term of the asymmetric Cheeger cut, in ``[0, 1]``.

    ``1 - sum_k ||S_:k - quant_rho(S_:k)||_{1,rho} / (N_g (K - 1))`` with
    ``rho = K - 1``; the quantile is the ``floor(N_g / K)``-th largest value of
    each column among the graph's real nodes. 0 when ``K = 1``.
    """
    k = s.size(-1)
    if k <= 1:
        return s.new_zeros(())
    n = mask.sum(-1)
    # Padded rows rank last, so row idx of the ranked columns is the quantile.
    # idx <= N_max // K: the top N_max // K + 1 values suffice, not a full sort.
    ranked = s.masked_fill(~mask.unsqueeze(-1), float("-inf"))
    n_max = s.size(1)
    ranked = ranked.topk(min(n_max, n_max // k + 1), dim=1).values
    idx = torch.minimum(torch.div(n, k, rounding_mode="floor"), (n - 1).clamp_min(0))
    quant = ranked.gather(1, idx.view(-1, 1, 1).expand(-1, 1, k))
    diff = s - quant
    asym = torch.where(diff >= 0, (k - 1) * diff, -diff) * mask.unsqueeze(-1)
    beta = graph_sizes(mask, s.dtype) * (k - 1)
    return ((beta - asym.sum((-1, -2))) / beta).mean()


def asym_norm_from(s_flat: Tensor, batch: Tensor, groups: SizeGroups) -> Tensor:
    """:func:`asym_norm_loss` from the real rows ``s_flat`` ``[N, K]``.

    The quantiles are found by a top-k over the batch's size groups
    (:meth:`SizeGroups.ranked_nodes`, 1.4x the real rows on PROTEINS instead
    of the one block's 5x) and gathered from ``s_flat``, so the gradient
    reaches the entry the padded top-k picks (where values tie, possibly another
    entry of the same value: an equally valid subgradient); the rest is per
    node. A graph without nodes adds 1, where the padded form gives NaN.
    """
    k = s_flat.size(-1)
    if k <= 1 or s_flat.size(0) == 0:
        return s_flat.new_zeros(())
    num_graphs = groups.num_graphs
    counts = torch.bincount(batch, minlength=num_graphs)
    rank = torch.minimum(torch.div(counts, k, rounding_mode="floor"), counts - 1)
    nodes = groups.ranked_nodes(s_flat, rank.clamp_min(0))
    quant = s_flat.gather(0, nodes)  # [B, K]
    diff = s_flat - _at(quant, batch)
    # (k - 1) d above the quantile, -d below: k relu(d) - d, one kernel fewer
    asym = (k * diff.clamp_min(0) - diff).sum(-1)
    per_graph = asym.new_zeros(num_graphs).index_add_(0, batch, asym)
    beta = counts.clamp_min(1).to(s_flat.dtype) * (k - 1)
    return ((beta - per_graph) / beta).mean()


def balance_loss(s: Tensor, mask: Tensor) -> Tensor:
    """Just-balance loss ``-Tr(sqrt(S^T S)) / sqrt(N_g K)`` (Bianchi 2022).

    The square root is entrywise, so only the diagonal of ``S^T S`` matters.
    """
    return balance_from(s.pow(2).sum(1), graph_sizes(mask, s.dtype))


def balance_from(diag: Tensor, num_nodes: Tensor) -> Tensor:
    """:func:`balance_loss` from the diagonal of ``S^T S`` ``[B, K]`` and each
    graph's node count ``[B]`` (at least 1)."""
    loss = -(diag + EPS).sqrt().sum(-1)
    return (loss / (num_nodes * diag.size(-1)).sqrt()).mean()


def triangle_adjacency(adj: Tensor) -> Tensor:
    """Triangle motif adjacency ``A (.) A^2``: triangles through each edge."""
    return (adj @ adj) * adj


def l1_distances(s: Tensor, row: Tensor, col: Tensor) -> Tensor:
    """``||s_row - s_col||_1`` per entry ``[E]``.

    One gather for E x K up to :data:`L1_CHUNK_FLOATS`; beyond, in chunks
    whose backward recomputes the differences: the [E, K] difference kept
    for autograd was 5 GB (and its gradient as much again) for ACC at the
    second level of a Cora U-Net, where the pooled graph is complete.
    """
    if row.numel() * s.size(-1) <= L1_CHUNK_FLOATS:
        return (_at(s, row) - _at(s, col)).abs().sum(-1)
    return _ChunkedL1.apply(s, row, col)


# Above this many floats, l1_distances works in chunks of about this size.
L1_CHUNK_FLOATS = 1 << 24


class _ChunkedL1(torch.autograd.Function):
    """:func:`l1_distances` in edge chunks; saves only ``s`` and the indices."""

    @staticmethod
    def forward(ctx, s: Tensor, row: Tensor, col: Tensor) -> Tensor:
        ctx.save_for_backward(s, row, col)
        out = s.new_empty(row.numel())
        for part in _chunks(row.numel(), s.size(-1)):
            out[part] = (_at(s, row[part]) - _at(s, col[part])).abs().sum(-1)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        s, row, col = ctx.saved_tensors
        grad_s = torch.zeros_like(s)
        for part in _chunks(row.numel(), s.size(-1)):
            # d|a - b| / da = sign(a - b), 0 where equal (as abs's own backward)
            sign = (_at(s, row[part]) - _at(s, col[part])).sign()
            sign = sign * grad[part].unsqueeze(-1)
            grad_s.index_add_(0, row[part], sign).index_add_(0, col[part], -sign)
        return grad_s, None, None


def _chunks(n: int, width: int):
    step = max(1, L1_CHUNK_FLOATS // max(width, 1))
    return (slice(start, start + step) for start in range(0, n, step))


def _at(values: Tensor, index: Tensor) -> Tensor:
    """``values[index]`` along dim 0 by ``index_select``: on the CPU 2-4x
    faster than advanced indexing for these 1-D gathers (the triangle listing
    makes about twenty per forward)."""
    return values.index_select(0, index)


@dataclass
class PairWeights:
    """A sparse matrix M as weighted node pairs that sum to
    ``Tr(S^T M S) = sum_p weight_p S_{row_p} . S_{col_p}``, with its row sums
    ``deg`` ``[N]``. A symmetric M may list each unordered pair once with
    weight ``2 M_ij``: half the rows to gather."""

    row: Tensor
    col: Tensor
    weight: Tensor
    deg: Tensor


def triangle_weights(e: EdgeEntries) -> Tensor:
    """``(A (.) A^2)_ij`` at every stored entry ``(i, j)`` of A ``[E]``.

    ``(A^2)_ij`` sums ``a_ik a_kj`` over the 2-paths ``i -> k -> j``; M is
    zero off the entries of A. An undirected graph without self-loops whose
    weights carry no gradient (the input graph) has each triangle listed once
    (:func:`_undirected_triangles`); any other A enumerates every 2-path from the
    entries (``sum_k indeg(k) outdeg(k)`` of them) and keeps those closing on
    a stored entry.
    """
    if not e.weight.requires_grad:
        listed = _undirected_triangles(e)
        if listed is not None:
            per_up, reverse = listed
            return per_up + _at(per_up, reverse)
    num = e.row.numel()
    if num == 0:
        return e.weight.clone()
    first, second, pos = _closing_paths(e, e.row, e.col)
    a2 = e.weight.new_zeros(num).index_add(
        0, pos, _at(e.weight, first) * _at(e.weight, second)
    )
    return e.weight * a2


def triangle_pairs(e: EdgeEntries) -> PairWeights | None:
    """The triangle motif ``A (.) A^2`` of an input graph as
    :class:`PairWeights`, each triangle listed once and each edge once, or
    None where A is not symmetric and loopless or its weights carry a
    gradient (then :func:`triangle_weights` and :func:`cut_loss_edges`)."""
    if e.weight.requires_grad:
        return None
    listed = _undirected_triangles(e)
    if listed is None:
        return None
    per_up, _ = listed
    # edges in no triangle add nothing (~30 % of a PROTEINS batch's); per_up
    # is zero off the upward entries, so this keeps each edge once
    keep = (per_up != 0).nonzero().view(-1)
    row, col, m = _at(e.row, keep), _at(e.col, keep), _at(per_up, keep)
    deg = m.new_zeros(e.num_nodes).index_add_(0, row, m).index_add_(0, col, m)
    return PairWeights(row, col, 2 * m, deg)


def _closing_paths(
    e: EdgeEntries, row: Tensor, col: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """The 2-paths ``i -> k -> j`` along the entries ``(row, col)`` (sorted
    by row, then column) that close on a stored entry ``(i, j)`` of ``e``:
    the two steps (indices into ``row``) and that entry's position in ``e``."""
    n, device = e.num_nodes, row.device
    out_deg = torch.bincount(row, minlength=n)
    fan = _at(out_deg, col)  # second steps available after each step
    ends = torch.cumsum(fan, 0)
    total = int(ends[-1]) if ends.numel() else 0
    first = torch.repeat_interleave(
        torch.arange(row.numel(), device=device), fan, output_size=total
    )
    # path p's second step is the step (row_start[k] + p - the first path of
    # its first step), k that step's column: one offset per first step.
    offset = _at(torch.cumsum(out_deg, 0) - out_deg, col) - (ends - fan)
    second = torch.arange(total, device=device) + _at(offset, first)
    pos = e.position(_at(row, first), _at(col, second))
    closes = (pos >= 0).nonzero().view(-1)
    return _at(first, closes), _at(second, closes), _at(pos, closes)


def _undirected_triangles(e: EdgeEntries) -> tuple[Tensor, Tensor] | None:
    """The triangles of a symmetric A without self-loops, or None.

    Returns ``M`` at the upward entries (one per edge), zero at the others,
    and the position of each entry's reverse. ``M_ij`` sums, over the
    triangles ``{i, j, k}``, the product of the triangle's three weights. Each edge is
    oriented from the lower (degree, id) to the higher, so each triangle is
    found once, from its lowest node, in ``O(E^1.5)`` paths instead of
    ``sum_k deg(k)^2``.
    """
    n, num = e.num_nodes, e.row.numel()
    if num == 0:
        return None
    reverse = e.position(e.col, e.row)
    symmetric = (reverse >= 0) & (_at(e.weight, reverse.clamp_min(0)) == e.weight)
    if not bool((symmetric & (e.row != e.col)).all()):
        return None
    deg = torch.bincount(e.row, minlength=n)
    rank = deg * n + torch.arange(n, device=deg.device)
    up = (_at(rank, e.row) < _at(rank, e.col)).nonzero().view(-1)
    row, col = _at(e.row, up), _at(e.col, up)
    # u -> v -> w upwards closes on the entry (u, w), upwards too.
    first, second, uw = _closing_paths(e, row, col)
    uv, vw = _at(up, first), _at(up, second)
    product = _at(e.weight, uv) * _at(e.weight, vw) * _at(e.weight, uw)
    per_up = e.weight.new_zeros(num)
    for edge in (uv, vw, uw):
        per_up.index_add_(0, edge, product)
    return per_up, reverse


def cut_loss_edges(
    e: EdgeEntries, weight: Tensor, s_flat: Tensor, batch: Tensor, num_graphs: int
) -> Tensor:
    """:func:`mincut_loss` of the matrix with values ``weight`` at the entries
    ``e`` (and zero elsewhere), e.g. the motif matrix of :func:`triangle_weights`.
    """
    return cut_loss_pairs(edge_pairs(e, weight), s_flat, batch, num_graphs)


def edge_pairs(e: EdgeEntries, weight: Tensor) -> PairWeights:
    """The matrix with values ``weight`` at the entries ``e`` (zero elsewhere)
    as :class:`PairWeights`."""
    row, col = e.row, e.col
    if not weight.requires_grad:
        # zero entries add nothing; with a gradient they would still get one
        keep = (weight != 0).nonzero().view(-1)
        row, col, weight = (_at(t, keep) for t in (row, col, weight))
    deg = weight.new_zeros(e.num_nodes).index_add(0, row, weight)
    return PairWeights(row, col, weight, deg)


def motif_pairs(e: EdgeEntries) -> PairWeights:
    """HOSC's triangle motif ``A (.) A^2`` as :class:`PairWeights`: each
    triangle and edge once for an input graph (:func:`triangle_pairs`), else
    (e.g. a pooled A carrying gradients) from the 2-paths at every entry."""
    pairs = triangle_pairs(e)
    return pairs if pairs is not None else edge_pairs(e, triangle_weights(e))


def motif_cut(e: EdgeEntries, s_flat: Tensor, batch: Tensor, num_graphs: int):
    """:func:`cut_loss_pairs` of HOSC's motif ``A (.) A^2``.

    Over the edges (:func:`motif_pairs`), except on a big dense graph (a dense
    pooler's complete output, pooled again in a U-Net: 1354 nodes at Cora's
    second level) whose 2-paths number N^3 (2.5 billion there): there M and
    ``M S`` come from ``[N, N]`` products. The same sums either way (tested).
    """
    if not is_dense_graph(e.row.numel(), e.num_nodes):
        return cut_loss_pairs(motif_pairs(e), s_flat, batch, num_graphs)
    a = dense_adjacency(e.row, e.col, e.weight, e.num_nodes, s_flat)
    m = a * (a @ a)
    within = (s_flat * (m @ s_flat)).sum(-1)
    num = within.new_zeros(num_graphs).index_add(0, batch, within)
    per_node = m.sum(1) * s_flat.pow(2).sum(-1)
    den = s_flat.new_zeros(num_graphs).index_add(0, batch, per_node)
    return _cut_ratio(num, den)


def cut_loss_pairs(
    m: PairWeights, s_flat: Tensor, batch: Tensor, num_graphs: int
) -> Tensor:
    """:func:`mincut_loss` of the matrix ``m``: ``-Tr(S^T M S) / Tr(S^T D_M S)``."""
    within = m.weight * (_at(s_flat, m.row) * _at(s_flat, m.col)).sum(-1)
    num = within.new_zeros(num_graphs).index_add(0, _at(batch, m.row), within)
    per_node = m.deg * s_flat.pow(2).sum(-1)
    den = s_flat.new_zeros(num_graphs).index_add(0, batch, per_node)
    return _cut_ratio(num, den)


def hosc_orthogonality_loss(s: Tensor, mask: Tensor) -> Tensor:
    """HOSC balance ``(sqrt(K) - sum_k ||S_:k||_2 / sqrt(N_g)) / (sqrt(K) - 1)``."""
    k = s.size(-1)
    if k <= 1:
        return s.new_zeros(())
    # vector_norm has a zero subgradient at 0, so an empty column stays finite.
    norms = torch.linalg.vector_norm(s, dim=1).sum(-1)
    loss = (k**0.5 - norms / graph_sizes(mask, s.dtype).sqrt()) / (k**0.5 - 1)
    return loss.mean()
