"""The evaluation results schema: one row per (evaluation, pooler, graph) run.

Rows go to ``<results.dir>/evaluations.csv`` through the same locked,
torn-line-safe :class:`~poolbench.results.store.CsvStore` as training results;
tables read the latest row per key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from poolbench.results.store import CsvStore

FILENAME = "evaluations.csv"
KINDS = ("expressiveness", "autoencoder", "spectral")
ROW_KEY = ("kind", "pooler", "graph")


@dataclass
class EvalRow:
    # identity
    kind: str
    pooler: str
    graph: str  # dataset name (expressiveness) or point-cloud graph name
    seed: int
    config_hash: str
    # expressiveness: accuracy and the three conditions measured on the pooler
    test_acc: float = float("nan")
    val_acc: float = float("nan")
    wl_mp: str = ""  # yes/no: the MP before pooling is 1-WL expressive
    rowsum_spread: float = float("nan")  # max − min of S's row sums, held-out nodes
    red_error: float = float("nan")  # max |RED(X) − SᵀX| / max |SᵀX|
    verdict: str = ""
    # preservation evaluations
    mse: float = float("nan")
    spectral_loss: float = float("nan")
    # cost profile
    params: int = 0
    k_over_n: float = float("nan")  # pooled nodes per input node, averaged
    edges_kept: float = float("nan")  # pooled edges / input edges
    components_in: float = float("nan")  # connected components per input graph
    components_pooled: float = float("nan")  # ... per pooled graph
    epochs: int = 0
    total_sec: float = float("nan")
    # provenance and outcome
    device: str = ""
    started_at: str = ""
    error: str = ""
    status: str = "ok"


class EvalStore(CsvStore):
    def __init__(self, directory: str | Path):
        super().__init__(directory, FILENAME, EvalRow)

    def latest(self) -> pd.DataFrame:
        """One row per (kind, pooler, graph): the latest attempt."""
        frame = self.read()
        if frame.empty:
            return frame
        return frame.drop_duplicates(subset=list(ROW_KEY), keep="last").reset_index(
            drop=True
        )
