"""The authors' EXPWL1.pkl is read with an allowlist: graphs load, code never runs."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from torch_geometric.data import Data

from poolbench.data.expressiveness import load_original
from poolbench.errors import PoolbenchError


def write_raw(root, payload: bytes):
    raw = root / "EXPWL1" / "raw"
    raw.mkdir(parents=True)
    (raw / "EXPWL1.pkl").write_bytes(payload)


def test_a_pickled_list_of_pyg_graphs_loads(tmp_path):
    graphs = [
        Data(
            x=torch.tensor([[1], [0], [1]]),
            edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]),
            y=torch.tensor([i]),
        )
        for i in range(2)
    ]
    write_raw(tmp_path, pickle.dumps(graphs))
    back = load_original(str(tmp_path), None)
    assert [int(g.y) for g in back] == [0, 1]
    assert torch.equal(back[1].edge_index, graphs[1].edge_index)
    assert back[0].x.dtype == torch.float  # features made float for the MP layers


class Planted:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_unrun(tmp_path):
    marker = tmp_path / "ran"
    write_raw(tmp_path, pickle.dumps([Planted(marker)]))
    with pytest.raises(PoolbenchError, match="refused global"):
        load_original(str(tmp_path), None)
    assert not marker.exists()
