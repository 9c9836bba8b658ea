"""The peer side of ``poolbench bench --peer tgp``: tgp's pooler in a plain loop.

What a user of torch-geometric-pool (tgp) writes without poolbench, after the
graph-classification example that ships with tgp: PyG's ``DataLoader``
(shuffle, batch B), a model MP -> tgp pooler -> MP -> sum readout -> MLP
head, Adam, ``float(loss)`` per step and a validation pass per epoch.

The model has the shape of poolbench's ``model.blocks=[1,1]``: the same GIN
layers (poolbench's weighted GIN on sparse graphs; on the batched dense graphs
that tgp's dense poolers return, PyG's ``DenseGINConv`` with the same MLP,
the layer tgp's examples pair with them), the same sum readout and head. So
the two sides differ in the pooler and the runner only.

tgp is imported here only, on first use: it is the optional ``reference``
extra, and its absence is one line naming ``make install-reference``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.loader import DataLoader
from torch_geometric.nn import DenseGINConv, global_add_pool

from poolbench.errors import PoolbenchError
from poolbench.models.mp import make_mp


@dataclass
class TgpPooler:
    """How one poolbench pooler is built in tgp: its name there and the
    keyword arguments that match poolbench's default config."""

    name: str
    kwargs: dict = field(default_factory=dict)
    # A compiled extension tgp needs for it, absent from a plain install.
    needs: str | None = None


# poolbench name -> tgp. ``k`` (clusters) and ``ratio`` are added from the
# model's pool_ratio, as poolbench sizes its own.
SHARED = {
    "none": TgpPooler("nopool"),
    "mincut": TgpPooler("mincut"),
    "diffpool": TgpPooler("diff"),
    "dmon": TgpPooler("dmon", {"ortho_loss_coeff": 0.0}),
    "acc": TgpPooler("acc"),
    "hosc": TgpPooler("hosc"),
    "justbalance": TgpPooler("jb"),
    "nmf": TgpPooler("nmf"),
    "topk": TgpPooler("topk"),
    "sag": TgpPooler("sag"),
    "asap": TgpPooler("asap"),
    "edgepool": TgpPooler("ec"),
    "maxcut": TgpPooler("maxcut"),
    "kmis": TgpPooler("kmis", {"scorer": "degree", "score_heuristic": "greedy"}),
    "ndp": TgpPooler("ndp"),
    "graclus": TgpPooler("graclus", needs="torch_cluster"),
    "pan": TgpPooler("pan", needs="torch_sparse"),
    # issue 11's additions, used once they are registered in poolbench
    "bnpool": TgpPooler("bnpool"),
    "sep": TgpPooler("sep"),
    "lapool": TgpPooler("lap"),
    "eigenpool": TgpPooler("eigen"),
}

INSTALL_HINT = (
    "the peer benchmark needs tgp (torch-geometric-pool), which is not "
    "installed; run `make install-reference`"
)


def import_tgp():
    """``tgp.poolers``, or a one-line PoolbenchError naming the install target."""
    try:
        import tgp.poolers as poolers
    except ImportError:
        raise PoolbenchError(INSTALL_HINT) from None
    return poolers


def unavailable(name: str) -> str | None:
    """Why tgp cannot run poolbench's ``name`` here, or None."""
    spec = SHARED.get(name)
    if spec is None:
        return "not in tgp"
    if spec.needs is not None:
        import importlib.util

        if importlib.util.find_spec(spec.needs) is None:
            return f"tgp needs {spec.needs}, which is not installed"
    return None


def _mlp(size_in: int, size_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(size_in, size_out), nn.ReLU(), nn.Linear(size_out, size_out)
    )


class TgpNet(nn.Module):
    """GIN -> tgp pooler -> GIN -> sum -> MLP head (poolbench's blocks=[1,1])."""

    def __init__(
        self, pooler: nn.Module, in_channels, num_classes, hidden, head, pooled=None
    ):
        super().__init__()
        # pooled: the pooler's output width (EigenPool's is modes x hidden)
        pooled = pooled or hidden
        self.conv1 = make_mp("gin", in_channels, hidden)
        self.pooler = pooler
        self.sparse_conv2 = make_mp("gin", pooled, hidden)
        self.dense_conv2 = DenseGINConv(_mlp(pooled, hidden), train_eps=True)
        self.head = head

    def forward(self, x, edge_index, edge_weight, batch, num_graphs):
        x = torch.relu(self.conv1(x, edge_index, edge_weight))
        out = self.pooler(x=x, adj=edge_index, edge_weight=edge_weight, batch=batch)
        if out.x.dim() == 3:  # batched dense output: [B, K, F] and [B, K, K]
            mask = getattr(out, "mask", None)
            h = torch.relu(self.dense_conv2(out.x, out.edge_index, mask=mask))
            if mask is not None:
                h = h * mask.unsqueeze(-1).to(h.dtype)
            h = h.sum(1)
        else:
            h = torch.relu(self.sparse_conv2(out.x, out.edge_index, out.edge_weight))
            h = global_add_pool(h, out.batch, size=num_graphs)
        aux = out.get_loss_value() if out.loss is not None else []
        return self.head(h), aux


def build_net(exp, name: str) -> TgpNet:
    """The tgp twin of ``exp``'s model (``exp`` has ``model.blocks=[1,1]``)."""
    poolers = import_tgp()
    spec = SHARED[name]
    model_cfg = exp.cfg.model
    hidden = int(model_cfg.hidden)
    # The same K and ratio poolbench's pooler of level 0 uses.
    ours = exp.make_pooler(0, hidden, exp.dataset.avg_nodes)
    kwargs = {"in_channels": hidden, "k": ours.num_clusters}
    kwargs.update(ratio=float(model_cfg.pool_ratio), **spec.kwargs)
    pooler = poolers.get_pooler(spec.name, **kwargs)
    reference = exp.make_model(torch.device("cpu"))
    return TgpNet(
        pooler, exp.dataset.num_features, exp.dataset.num_classes, hidden,
        reference.head, pooled=ours.out_channels,
    )  # fmt: skip


def tgp_loop(
    exp, name: str, split, epochs: int, seed: int, max_sec: float = float("inf")
) -> list[float]:
    """Seconds of each epoch (training, then a validation pass) of tgp's loop;
    stops early once ``max_sec`` have passed after at least two epochs."""
    from poolbench.training.seeding import seed_everything

    generator = seed_everything(seed)
    model = build_net(exp, name)
    cfg = exp.trainer
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    graphs = exp.dataset.graphs
    train = DataLoader(
        [graphs[i] for i in split.train],
        batch_size=cfg.batch_size,
        shuffle=True,
        generator=generator,
    )
    val = DataLoader([graphs[i] for i in split.val], batch_size=cfg.batch_size)
    laps = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        total = 0.0
        for data in train:
            opt.zero_grad()
            logits, aux = _forward(model, data)
            loss = F.cross_entropy(logits, data.y.view(-1)) + sum(aux)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * data.num_graphs
        model.eval()
        correct = 0
        loss_sum = 0.0
        with torch.no_grad():
            for data in val:
                logits, _ = _forward(model, data)
                y = data.y.view(-1)
                loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
                correct += int((logits.argmax(-1) == y).sum())
        laps.append(time.perf_counter() - start)
        if len(laps) >= 2 and sum(laps) > max_sec:
            break
    return laps


def _forward(model: TgpNet, data) -> tuple[Tensor, list]:
    return model(
        data.x,
        data.edge_index,
        getattr(data, "edge_weight", None),
        data.batch,
        data.num_graphs,
    )
