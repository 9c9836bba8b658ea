"""Dense poolers that cannot fit are recorded as oom rows before training."""

from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from torch_geometric.data import Data

from poolbench.data.dataset import GraphDataset
from poolbench.experiment import Experiment
from poolbench.hydra_app import CONF_DIR
from poolbench.pooling.poolers.mincut import MinCutPool
from poolbench.training.outcome import dense_memory_verdict
from poolbench.training.protocol import ProtocolConfig, run_protocol

CPU = torch.device("cpu")


def experiment(pooler: str, root, huge: int) -> Experiment:
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[f"pooler={pooler}", "protocol=holdout", f"data.root={root}"],
        )
    sizes = [5] * 19 + [huge]
    graphs = [
        Data(
            x=torch.ones(n, 2),
            edge_index=torch.empty(2, 0, dtype=torch.long),
            y=torch.tensor([i % 2]),
        )
        for i, n in enumerate(sizes)
    ]
    return Experiment(cfg, GraphDataset("HUGE", graphs, 2))


def test_estimate_grows_with_the_square_of_the_largest_graph(tmp_path, monkeypatch):
    # a pooler that builds the [B, N, N] adjacency (mincut made to declare it)
    monkeypatch.setattr(MinCutPool, "needs_dense_adj", True)
    small = experiment("mincut", tmp_path, 1000).dense_memory_mb()
    large = experiment("mincut", tmp_path, 2000).dense_memory_mb()
    assert 3.5 < large / small < 4.1  # the N^2 adjacency dominates
    assert experiment("topk", tmp_path, 2000).dense_memory_mb() == 0


def test_poolers_without_a_dense_adjacency_skip_the_square_term(tmp_path, monkeypatch):
    # mincut sums A S over the edges: only the N K and N F terms remain
    mincut = experiment("mincut", tmp_path, 2000).dense_memory_mb()
    monkeypatch.setattr(MinCutPool, "needs_dense_adj", True)
    with_square = experiment("mincut", tmp_path, 2000).dense_memory_mb()
    assert mincut < 0.5 * with_square


def test_a_dense_pooler_too_big_for_memory_gives_oom_rows_not_a_crash(tmp_path):
    exp = experiment("mincut", tmp_path, 200_000)  # ~480 GB of padded adjacency
    assert "trainer.batch_size" in dense_memory_verdict(exp, CPU)
    protocol = ProtocolConfig(**OmegaConf.to_container(exp.cfg.protocol))
    rows = []
    run_protocol(exp, protocol, CPU, {}, set(), rows.append)
    assert [r.status for r in rows] == ["oom"]
    assert "exceeds" in rows[0].error and rows[0].epochs == 0


def test_graphs_that_fit_pass_the_check(tmp_path):
    assert dense_memory_verdict(experiment("mincut", tmp_path, 50), CPU) == ""


@pytest.mark.parametrize(
    "exc, status",
    [
        (MemoryError("Unable to allocate 37.0 GiB for an array"), "oom"),
        (torch.OutOfMemoryError("CUDA out of memory"), "oom"),
        # torch's CPU allocator refusing
        (RuntimeError("DefaultCPUAllocator: not enough memory: you tried to"), "oom"),
        (RuntimeError("CUDA error: out of memory"), "oom"),
        (ValueError("bad shape"), "failed"),
    ],
)
def test_a_run_that_runs_out_of_memory_is_an_oom_row(exc, status):
    from poolbench.training.outcome import failure_status

    assert failure_status(exc)[0] == status


@pytest.mark.parametrize("fraction, want_mb", [(1.0, 3500), (0.2, 1500), (0.01, 0)])
def test_gpu_memory_counts_this_process_cache_as_free_and_keeps_to_its_cap(
    monkeypatch, fraction, want_mb
):
    """1000 MiB free on the GPU, 3000 MiB held by this process's allocator of
    which 500 in use, 10000 MiB in all: 3500 MiB are the run's, or what a
    fold worker's cap (its share of the 10000) leaves above the 500 in use."""
    from poolbench.training import device as device_mod

    mib = 2**20
    cuda = torch.cuda
    monkeypatch.setattr(cuda, "mem_get_info", lambda d: (1000 * mib, 10000 * mib))
    monkeypatch.setattr(cuda, "memory_allocated", lambda d: 500 * mib)
    monkeypatch.setattr(cuda, "memory_reserved", lambda d: 3000 * mib)
    monkeypatch.setattr(cuda, "get_per_process_memory_fraction", lambda d: fraction)
    got = device_mod.available_memory_mb(torch.device("cuda:0"))
    assert got == pytest.approx(want_mb)
