"""The three tasks through the real CLI: rows carry their task and metrics."""

from __future__ import annotations

import math

import pytest

from tests.cli_helpers import rows

QUICK = ["trainer.max_epochs=2", "trainer.patience=2", "model.hidden=8"]


def test_node_level_sweep_on_cora(cli):
    out = cli(
        "train", "-m", "task=node", "dataset=cora", "pooler=topk,graclus",
        "protocol.runs=2", "model.depth=2", "model.ratios=[0.5,0.5]", *QUICK,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    frame = rows(cli.cwd)
    assert sorted(frame.pooler) == ["graclus", "graclus", "topk", "topk"]
    assert (frame.task == "node").all() and (frame.metric == "acc").all()
    assert (frame.status == "ok").all() and frame.test_acc.between(0, 1).all()
    assert (frame.protocol == "public").all() and (frame.protocol_runs == 2).all()
    assert (frame.sec_per_epoch > 0).all() and (frame.peak_mem_mb > 0).all()
    assert frame.model.str.startswith("unet2").all()
    assert "Test accuracy" in out.stdout and "over runs" in out.stdout


def test_community_sweep_with_a_baseline_on_an_sbm(cli):
    out = cli(
        "train", "-m", "task=community", "dataset=sbm", "pooler=mincut,kmeans",
        "task.num_clusters=classes", "protocol.runs=1", "trainer.max_epochs=3",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    frame = rows(cli.cwd).set_index("pooler")
    assert (frame.task == "community").all() and (frame.metric == "nmi").all()
    for col in ("test_nmi", "test_f1", "test_ari", "test_modularity"):
        assert frame[col].between(-1, 1).all()
    assert frame.test_conductance.between(0, 1).all()
    assert frame.loc["kmeans", "epochs"] == 0  # a baseline is not trained
    # the clusters used (non-empty), which conductance must be read with
    assert (frame.avg_nodes_in == 1000).all()
    assert frame.avg_nodes_pooled.between(1, 5).all()
    assert (frame.avg_nodes_pooled == frame.avg_nodes_pooled.round()).all()
    table = cli("table", "--no-figures")
    assert table.returncode == 0, table.stderr
    conductance = cli.cwd / "results" / "tables" / "conductance-seeds-community.md"
    assert "one cluster holding every node" in conductance.read_text()
    assert frame.loc["mincut", "epochs"] == 3
    assert math.isnan(frame.loc["kmeans", "test_acc"])
    # it runs on the raw input: no MP model to name
    assert frame.loc["kmeans", "model"] == "input+pool(K=classes)"
    assert frame.loc["mincut", "model"] == "ginx1h64+pool(K=classes)"
    # more epochs change mincut's run, not the baseline's: it is not rerun
    again = cli(
        "train", "-m", "task=community", "dataset=sbm", "pooler=mincut,kmeans",
        "task.num_clusters=classes", "protocol.runs=1", "trainer.max_epochs=4",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert sorted(rows(cli.cwd).pooler) == ["kmeans", "mincut", "mincut"]


def test_two_settings_of_a_generated_graph_are_two_datasets(cli, data_root):
    """Different SBMs were one 'SBM' column (ranked together) and one split
    folder (the second size's random splits were refused as made for other
    data)."""
    out = cli(
        "train", "-m", "task=node", "dataset=sbm", "dataset.nodes=300,400",
        "protocol=random", "protocol.folds=2", "protocol.runs=1",
        "model.depth=1", "model.ratios=[0.5]", "pooler=topk", *QUICK,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    frame = rows(cli.cwd)
    assert sorted(set(frame.dataset)) == ["SBM-nodes300", "SBM-nodes400"]
    assert (frame.status == "ok").all() and len(frame) == 4
    for name in ("SBM-nodes300", "SBM-nodes400"):
        assert list((data_root / "splits" / name).glob("random2_*.json")), name


def test_a_community_run_whose_last_step_diverges_is_a_nan_row(cli):
    """No validation pass runs between steps here: a step that makes the
    weights non-finite was scored as an ok run (every node argmax'd into
    cluster 0: NMI 0, conductance 0, the best there is)."""
    out = cli(
        "train", "task=community", "dataset=sbm", "dataset.nodes=200",
        "task.num_clusters=5", "pooler=dmon", "protocol.runs=1",
        "trainer.max_epochs=1", "trainer.lr=1e30",
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    frame = rows(cli.cwd)
    assert frame.status.tolist() == ["nan"]
    assert "non-finite test nmi" in frame.error.iloc[0]


def test_graph_regression_on_esol_ranks_lower_rmse_first(cli):
    pytest.importorskip("rdkit")
    out = cli(
        "train", "-m", "dataset=esol", "pooler=none,topk", "protocol=holdout",
        *QUICK,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    frame = rows(cli.cwd)
    assert (frame.metric == "rmse").all() and (frame.task == "graph").all()
    assert (frame.test_rmse > 0).all() and (frame.test_mae > 0).all()
    assert (frame.test_mae <= frame.test_rmse).all()
    assert frame.test_acc.isna().all()
    table = cli("table", "--no-figures")
    assert table.returncode == 0, table.stderr
    text = (cli.cwd / "results" / "tables" / "rmse-holdout-regression.md").read_text()
    best = frame.sort_values("test_rmse").pooler.iloc[0]
    bold = [line for line in text.splitlines() if line.startswith("|") and "**" in line]
    assert len(bold) == 1 and bold[0].startswith(f"| {best} ")
