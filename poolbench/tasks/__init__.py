"""The downstream tasks pooling serves, one layer above the model.

``task=graph`` (the default): MP and pooling alternate and a readout gives
one vector per graph; classification or regression, as the dataset's target
says. ``task=node``: a Graph U-Net pools down and lifts back to classify each
node of one graph. ``task=community``: MP then one pooler trained on its own
objective; the argmax of S is the clustering. A task picks the datasets it
accepts, the model, the loss, the metrics and the splits; poolers and MP
layers are the same objects in all three.

This package's ``__init__`` stays light (no torch), so the pre-flight checks
can read :mod:`poolbench.tasks.config` before anything heavy is imported.
"""

from __future__ import annotations

TASK_NAMES = ("graph", "node", "community")


def make_task(settings: dict, dataset):
    """The task of ``conf/task`` for ``dataset`` (None: before data is loaded)."""
    from poolbench.errors import PoolbenchError

    name = settings.get("name", "graph")
    if name == "graph":
        from poolbench.tasks.graph import GraphClassification, GraphRegression

        if dataset is not None and getattr(dataset, "target", "") == "regression":
            return GraphRegression(dataset.targets)
        return GraphClassification()
    if name == "node":
        from poolbench.tasks.node import NodeClassification

        return NodeClassification()
    if name == "community":
        from poolbench.tasks.community import CommunityDetection

        return CommunityDetection(settings, dataset)
    raise PoolbenchError(f"unknown task {name!r}; use one of {', '.join(TASK_NAMES)}")
