"""Community-level: MP then one pooler trained on its own objective, no labels.

The pooler must cluster (``can_cluster``: a learned S with a clustering
objective, or a non-learned baseline). Training minimises its auxiliary
losses for ``trainer.max_epochs`` full-graph steps; the argmax of S is the
clustering, scored against the labels (NMI, pairwise F1, ARI) and on the graph
alone (modularity, conductance), over every node. Seeds are the protocol's
runs; there is no split.
"""

from __future__ import annotations

import math

import torch

from poolbench.data.splits import Split
from poolbench.models.community import CommunityGNN
from poolbench.results.row import family
from poolbench.tasks.base import Metrics, Task, aux_total
from poolbench.tasks.clustering_metrics import clustering_scores
from poolbench.tasks.config import check_can_cluster, check_cluster_count
from poolbench.tasks.whole_graph import WholeGraph


class CommunityDetection(Task):
    name = "community"
    supervised = False
    metrics = family("nmi")

    def __init__(self, settings: dict, dataset=None):
        self.settings = settings
        self.dataset = dataset

    def describe(self) -> str:
        return "community detection"

    @property
    def train_metric(self) -> None:
        return None  # training sees no labels: there is no training score

    @property
    def num_clusters(self) -> int:
        k = self.settings.get("num_clusters", 16)
        if k == "classes":
            return int(self.dataset.num_classes)
        return int(k)

    def check(self, exp) -> None:
        """What only the loaded data and the pooler class can tell."""
        check_can_cluster(exp.pooler_class, exp.pooler_name)
        check_cluster_count(self.num_clusters, exp.dataset.num_nodes, exp.dataset.name)

    def model_name(self, model) -> str:
        layers = self.settings.get("mp_layers", 1)
        k = self.settings.get("num_clusters", 16)
        return f"{model.mp}x{layers}h{model.hidden}+pool(K={k})"

    def untrained_name(self) -> str:
        # a baseline clusters the raw input: no MP layer, no width to name
        return f"input+pool(K={self.settings.get('num_clusters', 16)})"

    def first_level_k(self, exp) -> int:
        return self.num_clusters

    def build_model(self, exp) -> CommunityGNN:
        model = exp.cfg.model
        k = self.num_clusters

        def make_pooler(channels: int):
            # ratio 1 over avg_nodes = K gives exactly K clusters
            return exp.make_pooler(0, channels, float(k), ratio=1.0)

        # A baseline clusters the raw input (features, or the graph alone):
        # no MP layer in front of it, and nothing is trained.
        learned = exp.pooler_class.trainable
        return CommunityGNN(
            exp.dataset.num_features,
            make_pooler,
            mp=model.mp,
            hidden=model.hidden,
            layers=int(self.settings.get("mp_layers", 1)) if learned else 0,
            dropout=model.dropout,
            activation=self.settings.get("activation", "relu"),
        )

    def trains(self, exp) -> bool:
        return exp.pooler_class.trainable

    def splits(self, exp) -> list[Split]:
        every = list(range(exp.dataset.num_nodes))
        return [Split(train=every, val=[], test=every)]

    def loaders(self, exp, split, generator):
        graph = WholeGraph.of(exp.dataset, None)
        return [graph], None, [graph]

    def forward(self, model, batch):
        return model(batch.x, batch.edge_index, batch.edge_weight, batch.batch)

    def loss(self, out, batch):
        return aux_total(out)

    def tally(self, out, batch) -> tuple:
        return ()

    def train_score(self, tallies: list) -> float:
        return math.nan

    @torch.no_grad()
    def evaluate(self, model, loader, device, cfg=None) -> Metrics:
        model.eval()
        (batch,) = loader
        batch = batch.to(device)
        out = self.forward(model, batch)
        if not torch.isfinite(out.s).all():
            # weights gone non-finite (a last step that diverged: nothing
            # validates between steps here). argmax would put every node in
            # cluster 0, which scores conductance 0, the best there is.
            return Metrics(math.nan, {m.name: math.nan for m in self.metrics})
        clusters = out.s.argmax(-1)
        scores = clustering_scores(
            batch.y, clusters, batch.edge_index, batch.edge_weight
        )
        used = float(clusters.unique().numel())
        return Metrics(float(aux_total(out)), scores, (float(clusters.numel()), used))
