"""What the preservation evaluations share: MP + one pooler on one graph, trained.

Both the autoencoder and the spectral evaluation fit a small model to a single
point-cloud graph: MP layers, the pooler under test (built from the composed
config exactly as in training), then a task head. Poolers whose topology is
precomputable get it computed once, as the trainer would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import Tensor, nn
from torch_geometric.data import Data

from poolbench.experiment import Experiment
from poolbench.models.mp import make_mp
from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.training.seeding import seed_everything


class MPStack(nn.Module):
    """``depth`` MP layers of one kind, each followed by a ReLU."""

    def __init__(self, kind: str, in_channels: int, hidden: int, depth: int):
        super().__init__()
        sizes = [in_channels] + [hidden] * depth
        self.layers = nn.ModuleList(
            make_mp(kind, a, b) for a, b in zip(sizes[:-1], sizes[1:])
        )

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight=None) -> Tensor:
        for layer in self.layers:
            x = torch.relu(layer(x, edge_index, edge_weight))
        return x


def build_pooler(cfg: DictConfig, in_channels: int, num_nodes: int) -> Pooler:
    """The configured pooler for a graph of ``num_nodes`` nodes (sizes K from it)."""
    # Experiment.make_pooler reads only the config: no dataset is needed here.
    return Experiment(cfg, dataset=None).make_pooler(0, in_channels, float(num_nodes))


class PoolStep(nn.Module):
    """Calls a pooler, feeding a precomputable one its cached topology."""

    def __init__(self, pooler: Pooler):
        super().__init__()
        self.pooler = pooler
        self._topology = None

    def forward(self, x, edge_index, edge_weight, batch) -> PoolOutput:
        if self.pooler.precomputable:
            if self._topology is None:
                self._topology = self.pooler.precompute(edge_index, edge_weight, batch)
            return self.pooler(
                x, edge_index, edge_weight, batch, topology=self._topology
            )
        return self.pooler(x, edge_index, edge_weight, batch)


@dataclass
class FitOutcome:
    steps: int
    final_loss: float


def fit_single_graph(
    model: nn.Module,
    loss_of: Callable[[], Tensor],
    steps: int,
    lr: float,
) -> FitOutcome:
    """Adam on ``loss_of()`` for ``steps``; stops at once when nothing is trainable.

    Raises ``FloatingPointError`` when the loss stops being finite.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr) if params else None
    model.train()
    loss = loss_of()
    done = 0
    for done in range(1, steps + 1):
        if opt is None or not loss.requires_grad:
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss = loss_of()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss at step {done}")
    return FitOutcome(done, float(loss.detach()))


def seeded(cfg: DictConfig, graph: Data) -> int:
    """A per-(config seed, graph) seed, so each graph's run is reproducible alone."""
    seed = int(cfg.seed) * 1000 + sum(map(ord, graph.name))
    seed_everything(seed)
    return seed


def artifact_path(results_dir: str, kind: str, graph: str, pooler: str) -> Path:
    path = Path(results_dir) / "eval_artifacts" / kind / graph / f"{pooler}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def edges_of(out: PoolOutput) -> tuple[Tensor, Tensor]:
    weight = out.edge_weight
    if weight is None:
        weight = torch.ones(out.edge_index.size(1), device=out.x.device)
    return out.edge_index, weight
