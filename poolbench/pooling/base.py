"""The pooler contract: one input shape, one output dataclass, declared capabilities.

Every pooler takes the sparse batch ``(x, edge_index, edge_weight, batch)`` and
returns a :class:`PoolOutput` holding the pooled graph in the same sparse form.
Dense poolers work on padded ``[B, N, F]`` tensors inside and convert back (see
:mod:`poolbench.pooling.dense`), so the model after a pooler never branches on
its kind.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from poolbench.pooling.connect import clean_pooled
from poolbench.pooling.dense import (
    EdgeEntries,
    Padding,
    SizeGroups,
    adj_times_rows,
    edge_entries,
    from_padded,
    padded_adjacency,
)
from poolbench.pooling.lift import lift as lift_pooled
from poolbench.pooling.losses import graph_sizes
from poolbench.pooling.reduce import cluster_reduce
from poolbench.pooling.select import DenseSelect

Family = Literal["none", "soft_clustering", "one_over_k", "score", "control"]

# What poolbench gives every pooler's constructor, never its config: the
# source of each, for the message that refuses setting one.
INJECTED_ARGS = {
    "in_channels": "model.hidden",
    "ratio": "model.pool_ratio",
    "avg_nodes": "the dataset",
}


def config_args(cls: type) -> dict[str, inspect.Parameter]:
    """The constructor arguments a pooler's config may set: all but ``self``,
    :data:`INJECTED_ARGS` and ``*args``/``**kwargs``."""
    params = inspect.signature(cls.__init__).parameters
    return {
        name: p
        for name, p in params.items()
        if name != "self"
        and name not in INJECTED_ARGS
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


@dataclass
class PoolOutput:
    """The pooled graph, plus what evaluation and the loss need from the pooler.

    Args:
        x: pooled node features ``[K_total, F]``.
        edge_index: pooled edges ``[2, E']``, indices into ``x``.
        edge_weight: pooled edge weights ``[E']`` or ``None`` (all ones).
        batch: graph id of each pooled node ``[K_total]``.
        s: dense soft assignment ``[B, N_max, K]`` for dense poolers, else None.
        aux_loss: named auxiliary losses, already weighted; the trainer sums them.
        info: extras. Sparse poolers set ``cluster`` ``[N]`` (the supernode of each
            input node, -1 where a node is dropped); score-based poolers also set
            ``perm`` (kept node indices) and ``score``. Dense poolers set ``mask``
            ``[B, N_max]``.
    """

    x: Tensor
    edge_index: Tensor
    edge_weight: Tensor | None
    batch: Tensor
    s: Tensor | None = None
    aux_loss: dict[str, Tensor] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.x.size(0)
        if self.x.dim() != 2:
            raise ValueError(f"PoolOutput.x must be [K, F], got {tuple(self.x.shape)}")
        if self.edge_index.dim() != 2 or self.edge_index.size(0) != 2:
            raise ValueError(
                "PoolOutput.edge_index must be [2, E], "
                f"got {tuple(self.edge_index.shape)}"
            )
        if self.batch.shape != (n,):
            raise ValueError(
                f"PoolOutput.batch must be [{n}], got {tuple(self.batch.shape)}"
            )
        if self.edge_weight is not None and self.edge_weight.shape != (
            self.edge_index.size(1),
        ):
            raise ValueError("PoolOutput.edge_weight must have one value per edge")


class Pooler(nn.Module):
    """Base class of every pooler. Subclasses declare their capabilities.

    Args:
        in_channels: feature size of the nodes entering the pooler.
        ratio: target share of nodes kept (score-based) or clusters per node
            (dense soft clustering); one-over-K poolers fix their own ratio.
        avg_nodes: average node count of the graphs entering this pooler,
            injected by the model builder from the dataset; dense poolers derive
            their number of clusters K from it.
    """

    family: ClassVar[Family]
    is_dense: ClassVar[bool] = False
    trainable: ClassVar[bool] = False
    has_aux_loss: ClassVar[bool] = False
    precomputable: ClassVar[bool] = False
    # The three sufficient conditions of Bianchi & Lachi (2023) hold for the
    # operator (given a WL-expressive MP before it): every node is assigned with
    # constant row sums of S, and RED = S^T X.
    expressive: ClassVar[bool] = False
    # False only for poolers whose output depends on node order by design:
    # the random controls, and a matching on the unweighted complement (every
    # weight ties). For all others the contract test checks invariance on
    # weighted graphs with continuous features. Ties in the data still fall
    # to a fixed order: exactly tied scores at a score pooler's cut (keep_top
    # keeps the first in the graph), equal edge weights in graclus, equal
    # spectral embeddings in EigenPool's k-means start. Unweighted graphs tie
    # often (a random relabelling of MUTAG's nodes changed 105 of 188
    # EigenPool partitions at K = N/2): order-free there only up to ties.
    order_invariant: ClassVar[bool] = True
    # Raised when the pooler's computation changes under the same settings
    # (a fix): it enters the config hash, so rows made before are another
    # variant, not served as current by resume or mixed into one cell.
    revision: ClassVar[int] = 0
    # False for poolers whose K is not set by ratio: score-family ones that do
    # not keep ceil(ratio * N) nodes (EdgePool), dense ones whose K is data
    # driven (LaPool's leaders).
    keeps_ratio: ClassVar[bool] = True
    # A learned S trained by a clustering objective of its own (aux losses that
    # reward a good partition without labels): what the community-level task
    # accepts. Each pooler says why in its docstring.
    can_cluster: ClassVar[bool] = False
    # A clustering that is not learned (k-means, spectral clustering): the
    # community task runs it as a reference point next to the learned ones.
    clustering_baseline: ClassVar[bool] = False
    # lift() maps pooled features back to the input nodes (every pooler here).
    can_lift: ClassVar[bool] = True
    # Catalogue data: the paper ("Authors, Venue Year, link") and how the
    # operator was checked against a reference implementation.
    paper: ClassVar[str] = ""
    reference: ClassVar[str] = ""

    def __init__(self, in_channels: int, ratio: float = 0.5, avg_nodes: float = 0.0):
        super().__init__()
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f"ratio must lie in (0, 1], got {ratio}")
        self.in_channels = in_channels
        self.ratio = ratio
        self.avg_nodes = avg_nodes
        # the contract a model relies on, checked on this pooler's first outputs
        self._contract_hook = self.register_forward_hook(
            _check_first_output, with_kwargs=True
        )

    @property
    def num_clusters(self) -> int:
        """K for poolers with a fixed number of supernodes: ceil(ratio * avg_nodes)."""
        return max(1, math.ceil(self.ratio * self.avg_nodes))

    @classmethod
    def metadata(cls) -> dict[str, object]:
        return {
            "family": cls.family,
            "dense": cls.is_dense,
            "trainable": cls.trainable,
            "aux_loss": cls.has_aux_loss,
            "precomputable": cls.precomputable,
            "expressive": cls.expressive,
            "can_cluster": cls.can_cluster,
            "can_lift": cls.can_lift,
        }

    @property
    def out_channels(self) -> int:
        """Feature size of the pooled nodes (EigenPool multiplies it)."""
        return self.in_channels

    def lift(self, x_pooled: Tensor, out: PoolOutput) -> Tensor:
        """Pooled features ``[K_total, F]`` back on the input nodes ``[N, F]``.

        ``out`` is this pooler's output for the graph being lifted; see
        :mod:`poolbench.pooling.lift` (``S X'``, ``X'[cluster]`` or ``Θ X'``).
        """
        return lift_pooled(x_pooled, out)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None,
        batch: Tensor,
    ) -> PoolOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, ratio={self.ratio}"


class TopologyPooler(Pooler):
    """A pooler whose SEL and CON read only the graph structure, never ``x``.

    Subclasses implement :meth:`precompute`; :meth:`forward` applies RED
    (``cluster_reduce`` with ``self.reduce``) on top of its result. The topology
    part never changes during training, so a caller may compute it once per
    graph and hand it back through ``forward(..., topology=...)``. ``ratio`` is
    ignored: the algorithm fixes the number of supernodes of each graph.
    """

    trainable = False
    precomputable = True
    reduce: str = "sum"

    def precompute(
        self, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> dict[str, Tensor]:
        """The pooled topology of a sorted batch of ``N`` nodes.

        Returns a dict with ``cluster`` ``[N]`` (supernode of each node, -1 where
        dropped; ids graph-ordered), the pooled ``edge_index`` ``[2, E']``,
        ``edge_weight`` ``[E']`` and ``batch`` ``[K]``.
        """
        raise NotImplementedError

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None,
        batch: Tensor,
        topology: dict[str, Tensor] | None = None,
    ) -> PoolOutput:
        if topology is None:
            topology = self.precompute(edge_index, edge_weight, batch)
        cluster = topology["cluster"]
        keep = cluster >= 0
        num = topology["batch"].numel()
        out = cluster_reduce(x[keep], cluster[keep], num, self.reduce)
        return PoolOutput(
            out,
            topology["edge_index"],
            topology["edge_weight"],
            topology["batch"],
            info={"cluster": cluster},
        )


class SoftClusterPooler(Pooler):
    """Dense soft clustering, the skeleton shared by MinCut, DiffPool, DMoN & co.

    - SEL: :meth:`assign` gives ``S`` ``[B, N, K]``; by default the learned
      ``softmax(MLP(X) / temp)`` of :class:`~poolbench.pooling.select.DenseSelect`.
    - RED: ``X' = S^T X`` ``[B, K, F]``.
    - CON: ``A' = D^{-1/2} (S^T A S - diag) D^{-1/2}`` ``[B, K, K]``.
    - Aux losses: whatever :meth:`aux_losses` returns, already weighted.

    Subclasses differ only in SEL and in their losses, so those are the two
    hooks; the padded round trip stays in one place. A subclass whose SEL and
    losses need only ``S^T A S`` and the degrees sets ``needs_dense_adj =
    False``: then ``A S`` is summed over the edges and the ``[B, N, N]``
    adjacency is never built (``adj`` is None in the hooks).
    """

    family = "soft_clustering"
    is_dense = True
    trainable = True
    has_aux_loss = True
    expressive = True
    needs_dense_adj: ClassVar[bool] = True
    # (a, b): a loss keeps about a * K + b floats per node pair of a graph
    # (BN-Pool's all-pairs cross-entropy), for the memory estimate; (0, 0): none
    pair_floats: ClassVar[tuple[int, int]] = (0, 0)

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        temp: float | None = 1.0,
    ):
        super().__init__(in_channels, ratio, avg_nodes)
        if temp is not None:
            self.select = DenseSelect(in_channels, self.num_clusters, temp=temp)

    def assign(self, x: Tensor, adj: Tensor | None, mask: Tensor) -> Tensor:
        """``S`` ``[B, N, K]`` of a padded batch (zero rows in the padding).
        A subclass whose S is a function of each node's own features implements
        :meth:`assign_rows` instead, which sees only the real rows."""
        return self.assign_rows(x) * mask.unsqueeze(-1).to(x.dtype)

    def assign_rows(self, x: Tensor) -> Tensor:
        """``S`` ``[N, K]`` of the batch's real nodes ``x`` ``[N, F]``: the
        padded rows (about 12x the real ones in a PROTEINS batch) never pass
        through SEL."""
        return self.select(x)

    @property
    def _rowwise(self) -> bool:
        """True unless ``assign`` is replaced (by a subclass or on the object)."""
        return getattr(self.assign, "__func__", None) is SoftClusterPooler.assign

    def aux_losses(self, g: PaddedGraph) -> dict[str, Tensor]:
        """Named, weighted losses of one padded batch."""
        return {}

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> PoolOutput:
        padding = Padding.of(batch)
        mask = padding.mask
        adj = None
        if self.needs_dense_adj:
            adj = padded_adjacency(edge_index, edge_weight, batch, mask)
        if self._rowwise:
            s_flat = self.assign_rows(x)
            s = padding.pad(s_flat)
        else:
            s = self.assign(padding.pad(x), adj, mask)
            s_flat = s[mask]
        as_flat, deg_flat = adj_times_rows(edge_index, edge_weight, s_flat)
        # One per-graph product gives S^T S, S^T A S (shared by CON and the
        # losses) and RED's S^T X, over graphs padded by size groups.
        k, f = s_flat.size(1), x.size(1)
        rows = torch.cat([s_flat, as_flat, x.to(s_flat.dtype)], 1)
        groups = SizeGroups.of(batch, padding)
        ss, sas, x_pool = groups.gram(s_flat, rows).split([k, k, f], -1)
        adj_pool = clean_pooled(sas, remove_loops=True, degree_norm=True)
        g = PaddedGraph(
            adj, s, mask, sas, ss, s_flat, deg_flat, padding,
            edge_index, edge_weight, batch, groups,
        )  # fmt: skip
        aux = self.aux_losses(g)
        x_out, ei, ew, b = from_padded(x_pool, adj_pool)
        # dense_adj: the block form of (ei, ew), for MP layers that can use it.
        info = {"mask": mask, "dense_adj": adj_pool}
        return PoolOutput(x_out, ei, ew, b, s=s, aux_loss=aux, info=info)


@dataclass
class PaddedGraph:
    """What a soft-clustering loss may read about one batch of B graphs.

    Per graph: ``sas`` = ``S^T A S`` and ``ss`` = ``S^T S`` ``[B, K, K]``.
    Per real node, in the sparse batch's order: ``s_flat`` ``[N, K]``,
    ``deg_flat`` ``[N]`` and ``batch`` ``[N]``; :meth:`graph_sum` sums rows
    over each graph's nodes, which is how the losses read S without the
    padding. Padded: ``s`` ``[B, N_max, K]``, ``mask`` ``[B, N_max]``, ``deg``
    ``[B, N_max]`` (made on first use) and ``adj`` ``[B, N, N]`` (None unless
    the pooler declared ``needs_dense_adj``). The sparse input (``edge_index``,
    ``edge_weight``) serves losses computed over the edges.
    """

    adj: Tensor | None
    s: Tensor
    mask: Tensor
    sas: Tensor
    ss: Tensor
    s_flat: Tensor
    deg_flat: Tensor
    padding: Padding
    edge_index: Tensor
    edge_weight: Tensor | None
    batch: Tensor
    groups: SizeGroups | None = None  # the batch's size groups, made if not given
    _entries: EdgeEntries | None = field(default=None, init=False, repr=False)
    _deg: Tensor | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.groups is None:
            self.groups = SizeGroups.of(self.batch, self.padding)

    @property
    def num_graphs(self) -> int:
        return self.mask.size(0)

    @property
    def num_nodes(self) -> Tensor:
        """Each graph's node count ``[B]``, at least 1 so it can divide."""
        return graph_sizes(self.mask, self.s_flat.dtype)

    @property
    def deg(self) -> Tensor:
        """Degrees in the padded form ``[B, N_max]``."""
        if self._deg is None:
            self._deg = self.padding.pad(self.deg_flat)
        return self._deg

    def graph_sum(self, rows: Tensor) -> Tensor:
        """``[N, ...]`` -> ``[B, ...]``: each graph's sum over its nodes."""
        out = rows.new_zeros(self.num_graphs, *rows.shape[1:])
        return out.index_add_(0, self.batch, rows)

    def trace_sds(self) -> Tensor:
        """``Tr(S^T D S)`` ``[B]``: ``sum_i d_i ||S_i||^2`` over each graph."""
        return self.graph_sum(self.deg_flat * self.s_flat.square().sum(-1))

    def entries(self) -> EdgeEntries:
        """The stored entries of A, coalesced once per forward."""
        if self._entries is None:
            self._entries = edge_entries(
                self.edge_index, self.edge_weight, self.batch, self.s.dtype
            )
        return self._entries


def _check_first_output(pooler: Pooler, args, kwargs, out) -> None:
    """What a model needs from a pooler and no shape check sees, checked on
    its first output (and, for the losses, its first in training), then never
    again: a wrong batch vector or a loss left out otherwise trains "ok".

    ``out.batch`` must group the pooled nodes by graph in order (readouts such
    as sort and GMT need it) and keep every input graph; a pooler that
    declares ``has_aux_loss`` returns its losses in training, and one that
    does not returns none (the catalogue shows the flag).
    """
    name = type(pooler).__dict__.get("registry_name") or type(pooler).__name__
    batch = args[3] if len(args) > 3 else kwargs.get("batch")
    if not isinstance(out, PoolOutput) or batch is None:
        return
    if not getattr(pooler, "_batch_checked", False):
        pooled = out.batch
        if pooled.numel() > 1 and bool((pooled[1:] < pooled[:-1]).any()):
            raise ValueError(
                f"pooler {name}: PoolOutput.batch must list the pooled nodes "
                "graph by graph (non-decreasing graph ids)"
            )
        lost = set(batch.unique().tolist()) - set(pooled.unique().tolist())
        if lost:
            raise ValueError(
                f"pooler {name}: PoolOutput.batch has no pooled node for "
                f"{len(lost)} of the input graphs (e.g. graph {min(lost)}); each "
                "graph keeps at least one node, with its own graph id"
            )
        pooler._batch_checked = True
    if pooler.training:
        if bool(out.aux_loss) != pooler.has_aux_loss:
            fix = (
                "return them in PoolOutput.aux_loss"
                if pooler.has_aux_loss
                else "set has_aux_loss = True on the class"
            )
            said = "declares" if pooler.has_aux_loss else "does not declare"
            raise ValueError(
                f"pooler {name} {said} auxiliary losses but returned "
                f"{'none' if not out.aux_loss else sorted(out.aux_loss)}; {fix}"
            )
        pooler._contract_hook.remove()
