"""Readouts: shapes, empty graphs, exact values of the fixed ones, and the CLI."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.utils import scatter

from poolbench.models.readout import NAMES, make_readout, readout_names
from tests.cli_helpers import QUICK, rows, run_cli

X = torch.arange(24, dtype=torch.float).view(6, 4) / 10
BATCH = torch.tensor([0, 0, 0, 2, 2, 2])  # graph 1 was emptied by pooling


@pytest.mark.parametrize("name", NAMES)
def test_every_readout_gives_one_row_per_graph_even_an_empty_one(name):
    torch.manual_seed(0)
    readout = make_readout(name, 4, avg_nodes=3.0)
    out = readout(X, BATCH, 3)
    assert out.shape == (3, readout.out_channels)
    assert torch.isfinite(out).all()
    params = list(readout.parameters())
    if params:
        out.sum().backward()
        assert all(p.grad is not None for p in params if p.requires_grad)


def test_fixed_readouts_and_their_concatenation_are_exact():
    readout = make_readout("sum+mean+max", 4, avg_nodes=3.0)
    assert readout.out_channels == 12
    out = readout(X, BATCH, 3)
    for i, reduce in enumerate(("sum", "mean", "max")):
        expected = scatter(X, BATCH, 0, dim_size=3, reduce=reduce)
        torch.testing.assert_close(out[:, 4 * i : 4 * i + 4], expected)
    assert readout_names(["sum", "max"]) == readout_names("sum,max") == ["sum", "max"]


def test_learned_readouts_have_their_documented_widths():
    widths = {n: make_readout(n, 4, 3.0).out_channels for n in NAMES}
    assert widths == {
        "sum": 4,
        "mean": 4,
        "max": 4,
        "attention": 4,
        "gated": 4,
        "set2set": 8,
        "sort": 12,
        "gmt": 4,
    }


def test_attention_readout_is_a_softmax_weighted_sum():
    torch.manual_seed(0)
    readout = make_readout("attention", 4, 3.0)
    gate = readout.aggr.gate_nn
    out = readout(X, BATCH, 3)
    for g in (0, 2):
        xs = X[BATCH == g]
        w = torch.softmax(gate(xs).view(-1), 0)
        torch.testing.assert_close(out[g], (w[:, None] * xs).sum(0))


def test_unknown_readout_is_rejected_with_the_list():
    with pytest.raises(ValueError, match="set2set"):
        make_readout("sum+median", 4, 3.0)


def test_every_learned_readout_trains_through_the_cli(tmp_path, data_root, mirror):
    choices = "attention,gated,set2set,sort,gmt,sum+mean+max"
    out = run_cli(
        [
            "train",
            "-m",
            f"model.readout={choices}",
            "pooler=topk",
            "dataset=mutag",
            "protocol=holdout",
            *QUICK,
        ],
        tmp_path,
        data_root,
        mirror,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    frame = rows(tmp_path)
    assert len(frame) == 6 and set(frame.status) == {"ok"}
    # Each readout is its own configuration (and its own parameter count).
    assert frame.config_hash.nunique() == 6
    assert frame.params.nunique() == 6


def test_a_bad_readout_is_one_line_and_exit_2(tmp_path, data_root, mirror):
    out = run_cli(
        ["train", "model.readout=median", "dataset=mutag", "protocol=holdout", *QUICK],
        tmp_path,
        data_root,
        mirror,
    )
    assert out.returncode == 2
    assert "median" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "results" / "results.csv").exists()
