"""The downstream tasks pooling serves, one layer above the model.

``task=graph`` (the default): MP and pooling alternate and a readout gives
one vector per graph; classification or regression, as the dataset's target
says. ``task=node``: a Graph U-Net pools down and lifts back to classify each
node of one graph. ``task=community``: MP then one pooler trained on its own
objective; the argmax of S is the clustering. A task picks the datasets it
accepts, the model, the loss, the metrics and the splits; poolers and MP
layers are the same objects in all three.
"""

from __future__ import annotations

from poolbench.errors import PoolbenchError
from poolbench.tasks.base import Metric, Metrics, Task
from poolbench.tasks.graph import GraphClassification, GraphRegression

TASK_NAMES = ("graph", "node", "community")


def make_task(settings: dict, dataset) -> Task:
    """The task of ``conf/task`` for ``dataset`` (None: before data is loaded)."""
    name = settings.get("name", "graph")
    if name == "graph":
        if dataset is not None and getattr(dataset, "target", "") == "regression":
            return GraphRegression(dataset.targets)
        return GraphClassification()
    raise PoolbenchError(f"unknown task {name!r}; use one of {', '.join(TASK_NAMES)}")


__all__ = [
    "GraphClassification",
    "GraphRegression",
    "Metric",
    "Metrics",
    "Task",
    "make_task",
]
