"""On a GPU: every pooler trains, with and without trainer.amp, and the
topologies poolers precompute on the device equal the CPU's.

No GPU is in CI, so these skip there; they are the checks a lent GPU runs
(``python -m pytest tests/training/test_cuda.py tests/pooling/test_contract.py
-k cuda``). A static reading with a device-tagging checker found one pooler
(NMF) whose precompute mixed devices in the U-Net and the evaluations, which
the forward-only contract test could not see.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.data import Batch

from poolbench.pooling import discover
from poolbench.pooling.registry import available
from poolbench.training.device import PeakMemory, device_label
from poolbench.training.protocol import train_once
from tests.pooling.graphs import random_graph, with_weights
from tests.training.test_selection import make_exp

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device here"
)
CUDA = torch.device("cuda")
REGISTRY = discover()


@pytest.mark.parametrize("amp", [False, True])
@pytest.mark.parametrize("name", available())
def test_every_pooler_trains_two_epochs_on_the_gpu(tmp_path, name, amp):
    exp = make_exp(
        tmp_path,
        [f"pooler={name}", "trainer.max_epochs=2", f"trainer.amp={str(amp).lower()}"],
    )
    memory = PeakMemory(CUDA)
    memory.reset()
    out = train_once(exp, exp.splits()[0], 0, CUDA)
    assert out.fit.epochs == 2
    assert math.isfinite(out.fit.val.loss) and math.isfinite(out.test.loss)
    assert all(p.device.type == "cuda" for p in out.model.parameters())
    assert memory.kind == "cuda" and memory.peak_mb() > 0
    assert device_label(CUDA).startswith("cuda (")


@pytest.mark.parametrize("name", [n for n, c in REGISTRY.items() if c.precomputable])
def test_a_topology_precomputed_on_the_gpu_equals_the_cpus(name):
    graphs = [random_graph(n, p=0.4, seed=n) for n in (9, 6, 12)]
    batch = with_weights(Batch.from_data_list(graphs), seed=1)
    torch.manual_seed(0)
    pooler = REGISTRY[name](in_channels=4, ratio=0.5, avg_nodes=9)
    cpu = pooler.precompute(batch.edge_index, batch.edge_weight, batch.batch)
    on_gpu = batch.to("cuda")
    gpu = pooler.to("cuda").precompute(
        on_gpu.edge_index, on_gpu.edge_weight, on_gpu.batch
    )
    assert cpu.keys() == gpu.keys()
    for key, value in cpu.items():
        if torch.is_tensor(value):
            torch.testing.assert_close(
                value, gpu[key].cpu(), atol=1e-4, rtol=1e-4, msg=f"{name}: {key}"
            )
