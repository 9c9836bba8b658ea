"""Every pooler the peer bench shares with tgp has a tgp twin that trains.

The timed peer run takes minutes, so the default suite runs only its --quick
form (three poolers); this builds each twin and takes one step on MUTAG, so a
pooler whose output the twin cannot take (EigenPool's modes x F features once
did) fails here, not in the middle of `poolbench bench --peer tgp`.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.loader import DataLoader

from poolbench.bench.peer import PEER_OVERRIDES
from poolbench.bench.peer_tgp import SHARED, build_net, unavailable
from poolbench.bench.setup import build_experiment

pytest.importorskip("tgp")


@pytest.mark.parametrize("name", sorted(SHARED))
def test_the_tgp_twin_of_each_shared_pooler_takes_a_step(
    name, mirror, data_root, monkeypatch
):
    why = unavailable(name)
    if why is not None:
        pytest.skip(why)
    monkeypatch.setenv("POOLBENCH_DATA", str(data_root))
    monkeypatch.setenv("POOLBENCH_DATA_MIRROR", str(mirror))
    exp = build_experiment("mutag", name, PEER_OVERRIDES)
    torch.manual_seed(0)
    net = build_net(exp, name)
    data = next(iter(DataLoader(exp.dataset.graphs[:8], batch_size=8)))
    logits, aux = net(data.x, data.edge_index, None, data.batch, data.num_graphs)
    assert logits.shape == (8, exp.dataset.num_classes)
    loss = F.cross_entropy(logits, data.y.view(-1)) + sum(aux)
    loss.backward()
    assert torch.isfinite(loss)
