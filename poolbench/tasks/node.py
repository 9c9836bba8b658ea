"""Node-level: a Graph U-Net pools down and lifts back to classify every node.

One graph, trained full batch on its training nodes, early-stopped on its
validation nodes, scored once on its test nodes. Splits: the dataset's public
split (``protocol=public``; runs are seeds), or random splits
(``protocol=random``: per split, ``train_per_class`` and ``val_per_class``
labelled nodes of every class and all the rest as test, as Shchur et al. 2018
advise, since the public split alone misleads). Random splits are saved as
JSON like every split and reused by every pooler.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from poolbench.data.splits import Split, read_or_save_splits
from poolbench.errors import PoolbenchError
from poolbench.models.unet import GraphUNet
from poolbench.results.row import family
from poolbench.tasks.base import Metrics, Task, aux_total
from poolbench.tasks.config import (
    check_can_lift,
    check_node_model,
    check_node_split,
    no_public_split,
)
from poolbench.tasks.whole_graph import WholeGraph


def random_node_splits(
    labels: np.ndarray, splits: int, train_per_class: int, val_per_class: int, seed
) -> list[Split]:
    """``splits`` draws of per-class train and validation nodes; the rest test."""
    out = []
    for i in range(splits):
        rng = np.random.default_rng([seed, i])
        train, val = [], []
        for c in np.unique(labels):
            nodes = rng.permutation(np.flatnonzero(labels == c))
            train += nodes[:train_per_class].tolist()
            val += nodes[train_per_class : train_per_class + val_per_class].tolist()
        test = sorted(set(range(len(labels))) - set(train) - set(val))
        out.append(Split(sorted(train), sorted(val), test))
    return out


class NodeClassification(Task):
    name = "node"
    metrics = family("acc")

    def describe(self) -> str:
        return "node classification"

    def check(self, exp) -> None:
        check_node_model(exp.cfg.model.get("_target_"))
        check_can_lift(exp.pooler_class, exp.pooler_name)
        p = exp.cfg.protocol
        split = p.get("split", "auto")
        check_node_split(split, p.folds)
        if split in ("auto", "public") and exp.dataset.public_split is None:
            raise no_public_split(exp.dataset.name)
        if split == "random":
            counts = np.bincount(exp.dataset.labels.numpy())
            need = p.train_per_class + p.val_per_class
            if counts.min() <= need:
                raise PoolbenchError(
                    f"class {int(counts.argmin())} of {exp.dataset.name} has "
                    f"{int(counts.min())} nodes, not more than the {need} that "
                    "train_per_class + val_per_class take: lower them"
                )

    def splits(self, exp) -> list[Split]:
        p = exp.cfg.protocol
        if p.get("split", "auto") in ("auto", "public"):
            return [exp.dataset.public_split] * p.folds
        labels = exp.dataset.labels.numpy()
        seed = int(exp.cfg.seed)
        name = (
            f"random{p.folds}_train{p.train_per_class}_val{p.val_per_class}"
            f"_seed{seed}.json"
        )
        path = exp.data_root / "splits" / exp.dataset.name / name
        return read_or_save_splits(
            path,
            labels,
            p.folds,
            lambda: random_node_splits(
                labels, p.folds, p.train_per_class, p.val_per_class, seed
            ),
            {
                "kind": "random",
                "train_per_class": int(p.train_per_class),
                "val_per_class": int(p.val_per_class),
                "seed": seed,
            },
        )

    def model_name(self, model) -> str:
        return f"unet{model.depth}-{model.skip}-{model.mp}h{model.hidden}"

    def first_level_k(self, exp) -> int:
        ratios = exp.cfg.model.get("ratios") or [0.5]
        return max(1, int(np.ceil(ratios[0] * exp.dataset.num_nodes)))

    def build_model(self, exp) -> GraphUNet:
        from omegaconf import OmegaConf

        settings = OmegaConf.to_container(exp.cfg.model, resolve=True)
        settings.pop("_target_")
        return GraphUNet(
            exp.dataset.num_features,
            exp.dataset.num_classes,
            lambda level, c, n, ratio: exp.make_pooler(level, c, n, ratio=ratio),
            exp.dataset.num_nodes,
            **settings,
        )

    def loaders(self, exp, split, generator):
        ds = exp.dataset
        return (
            [WholeGraph.of(ds, split.train)],
            [WholeGraph.of(ds, split.val)],
            [WholeGraph.of(ds, split.test)],
        )

    def forward(self, model, batch):
        return model(batch.x, batch.edge_index, batch.edge_weight, batch.batch)

    def loss(self, out, batch):
        mask = batch.mask
        return F.cross_entropy(out.logits[mask], batch.y[mask]) + aux_total(out)

    def tally(self, out, batch) -> tuple:
        return out.logits.detach(), batch.y, batch.mask

    def train_score(self, tallies: list) -> float:
        correct, count = 0, 0
        for logits, y, mask in tallies:
            correct += int((logits[mask].argmax(-1) == y[mask]).sum())
            count += int(mask.sum())
        return correct / max(count, 1)

    @torch.no_grad()
    def evaluate(self, model, loader, device, cfg=None) -> Metrics:
        model.eval()
        (batch,) = loader
        batch = batch.to(device)
        out = self.forward(model, batch)
        logits, y = out.logits[batch.mask].float(), batch.y[batch.mask]
        loss = float(F.cross_entropy(logits, y))
        acc = float((logits.argmax(-1) == y).float().mean())
        return Metrics(loss, {"acc": acc})
