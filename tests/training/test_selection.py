"""Model selection: one metric for every grid point, failures compete, test unseen."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from torch_geometric.data import Data

from poolbench.data.dataset import GraphDataset
from poolbench.errors import PoolbenchError, RunFailure
from poolbench.experiment import Experiment
from poolbench.hydra_app import CONF_DIR
from poolbench.tasks.graph import GraphClassification, GraphRegression
from poolbench.training import outcome, trainer
from poolbench.training.protocol import ProtocolConfig, flatten_grid, run_protocol
from poolbench.training.selection import (
    CandidateRow,
    SelectionLog,
    SelectionRule,
    candidates_done,
    choose,
    select_on_validation,
)
from poolbench.training.trainer import FitResult, Metrics

CPU = torch.device("cpu")


def small_dataset(n_graphs=40, huge=0) -> GraphDataset:
    gen = torch.Generator().manual_seed(0)
    graphs = []
    for i in range(n_graphs):
        n = huge if (huge and i == n_graphs - 1) else 4 + i % 5
        src = torch.arange(n - 1)
        ei = torch.stack([torch.cat([src, src + 1]), torch.cat([src + 1, src])])
        x = torch.randn(n, 3, generator=gen) + (i % 2)
        graphs.append(Data(x=x, edge_index=ei, y=torch.tensor([i % 2])))
    return GraphDataset("TOY", graphs, 2)


def make_exp(tmp_path, overrides=(), dataset=None) -> Experiment:
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                "protocol=holdout",
                "trainer.max_epochs=3",
                "trainer.patience=3",
                "model.hidden=8",
                f"data.root={tmp_path}",
                *overrides,
            ],
        )
    return Experiment(cfg, dataset or small_dataset())


ON_ACC = SelectionRule.for_task(GraphClassification(), "auto")
ON_LOSS = SelectionRule.for_task(GraphClassification(), "val_loss")


def candidate(point, acc, loss, rule=ON_ACC, status="ok") -> CandidateRow:
    score, tiebreak = (acc, loss) if rule is ON_ACC else (loss, acc)
    return CandidateRow(
        "e", "d", "p", "h", "fp", 0, json.dumps(point), rule.select_on, 1,
        score=score, tiebreak=tiebreak, val_loss=loss, status=status,
    )  # fmt: skip


def test_accuracy_and_loss_that_disagree_are_compared_on_one_metric():
    points = [({"m": "val_acc"}, 0.55, 0.9), ({"m": "val_loss"}, 0.99, 0.1),
              ({"m": "val_loss"}, 0.70, 0.05)]  # fmt: skip
    on_acc = [candidate(*p) for p in points]
    on_loss = [candidate(*p, rule=ON_LOSS) for p in points]
    assert choose(on_acc, ON_ACC) is on_acc[1]
    assert choose(on_loss, ON_LOSS) is on_loss[2]
    assert ON_ACC.select_on == "val_acc" and ON_ACC.tiebreak_on == "val_loss"


def test_ties_break_on_the_other_metric_then_grid_order():
    a = candidate({"x": 1}, acc=0.8, loss=0.5)
    b = candidate({"x": 2}, acc=0.8, loss=0.4)
    c = candidate({"x": 3}, acc=0.8, loss=0.4)
    assert choose([a, b, c], ON_ACC) is b
    assert choose([candidate({"x": 1}, 0.1, 0.2, status="nan")], ON_ACC) is None


def test_regression_selects_the_lowest_rmse():
    rule = SelectionRule.for_task(GraphRegression(), "auto")
    assert (rule.select_on, rule.higher) == ("val_rmse", False)
    low = CandidateRow("e", "d", "p", "h", "fp", 0, "{}", "val_rmse", 1,
                       score=0.5, tiebreak=0.3)  # fmt: skip
    high = CandidateRow("e", "d", "p", "h", "fp", 0, "{}", "val_rmse", 1,
                        score=0.9, tiebreak=0.1)  # fmt: skip
    assert choose([high, low], rule) is low
    with pytest.raises(PoolbenchError, match="val_acc does not apply"):
        SelectionRule.for_task(GraphRegression(), "val_acc")


def fake_fit(metrics_by_monitor, calls):
    """fit() replaced by fixed validation metrics per candidate's monitor."""

    def fit(model, train, val, cfg, device, on_epoch=None, task=None):
        calls.append(cfg.monitor)
        outcome_ = metrics_by_monitor[cfg.monitor]
        if isinstance(outcome_, Exception):
            raise outcome_
        acc, loss = outcome_
        return FitResult(2, 3, 0.5, Metrics(loss, {"acc": acc}), 0.01, 5.0, 5.0)

    return fit


def test_the_errica_grid_can_choose_a_val_loss_point(tmp_path, monkeypatch):
    # With accuracy-monitored points scored by accuracy and loss-monitored ones
    # by -loss, an accuracy of 0.55 always beat a loss-monitored 0.99 (issue 9).
    calls = []
    metrics = {"val_acc": (0.55, 0.9), "val_loss": (0.99, 0.1)}
    monkeypatch.setattr(trainer, "fit", fake_fit(metrics, calls))
    exp = make_exp(tmp_path)
    split = exp.splits()[0]
    points = [{"trainer.monitor": "val_acc"}, {"trainer.monitor": "val_loss"}]
    chosen, candidates = select_on_validation(exp, split, 0, points, CPU, "val_acc")
    assert json.loads(chosen.point) == {"trainer.monitor": "val_loss"}
    assert calls == ["val_acc", "val_loss"]
    assert [c.score for c in candidates] == [0.55, 0.99]
    assert [json.loads(c.val_scores) for c in candidates] == [
        {"acc": 0.55}, {"acc": 0.99},
    ]  # fmt: skip


def test_a_failing_grid_point_is_recorded_and_the_others_compete(tmp_path, monkeypatch):
    metrics = {"val_acc": RunFailure("nan", "non-finite loss"), "val_loss": (0.6, 0.7)}
    monkeypatch.setattr(trainer, "fit", fake_fit(metrics, []))
    exp = make_exp(tmp_path)
    recorded = []
    points = [{"trainer.monitor": "val_acc"}, {"trainer.monitor": "val_loss"}]
    chosen, candidates = select_on_validation(
        exp, exp.splits()[0], 0, points, CPU, "val_acc", SelectionLog(recorded.append)
    )
    assert [c.status for c in recorded] == ["nan", "ok"]
    assert "non-finite" in recorded[0].error
    assert json.loads(chosen.point) == {"trainer.monitor": "val_loss"}


def test_every_point_failing_gives_failed_final_rows_not_a_crash(tmp_path, monkeypatch):
    boom = RuntimeError("CUDA error: out of memory")
    monkeypatch.setattr(
        trainer, "fit", fake_fit({"val_acc": boom, "val_loss": boom}, [])
    )
    exp = make_exp(tmp_path, ["+protocol.grid.trainer.monitor=[val_acc,val_loss]"])
    protocol = ProtocolConfig(**OmegaConf.to_container(exp.cfg.protocol))
    rows = run_protocol(exp, protocol, CPU, {}, set(), lambda r: None)
    assert [r.status for r in rows] == ["oom"]
    assert "every grid point failed" in rows[0].error and rows[0].epochs == 0


def test_memory_estimate_skips_a_grid_point_before_it_trains(tmp_path, monkeypatch):
    dataset = small_dataset(20, huge=600)
    big = make_exp(tmp_path, ["pooler=mincut", "model.pool_ratio=0.5"], dataset)
    small = make_exp(tmp_path, ["pooler=mincut", "model.pool_ratio=0.01"], dataset)
    need_big, need_small = big.dense_memory_mb(), small.dense_memory_mb()
    assert need_small < need_big
    # memory that holds the small point's padded batches but not the big one's
    have = math.sqrt(need_big * need_small) / 0.8
    monkeypatch.setattr(outcome, "available_memory_mb", lambda device: have)
    trained = []
    real_fit = trainer.fit
    monkeypatch.setattr(
        trainer, "fit", lambda m, *a, **k: trained.append(1) or real_fit(m, *a, **k)
    )
    points = [{"model.pool_ratio": 0.5}, {"model.pool_ratio": 0.01}]
    chosen, candidates = select_on_validation(
        big, big.splits()[0], 0, points, CPU, "val_acc"
    )
    assert [c.status for c in candidates] == ["oom", "ok"]
    assert "exceeds" in candidates[0].error and candidates[0].epochs == 0
    assert trained == [1]  # only the point that fits was trained
    assert json.loads(chosen.point) == {"model.pool_ratio": 0.01}


def test_finished_candidates_are_reused_not_retrained(tmp_path, monkeypatch):
    calls = []
    metrics = {"val_acc": (0.7, 0.5), "val_loss": (0.8, 0.4)}
    monkeypatch.setattr(trainer, "fit", fake_fit(metrics, calls))
    exp = make_exp(tmp_path)
    points = [{"trainer.monitor": "val_acc"}, {"trainer.monitor": "val_loss"}]
    first = []
    select_on_validation(
        exp, exp.splits()[0], 0, points, CPU, "val_acc", SelectionLog(first.append)
    )
    import pandas as pd

    frame = pd.DataFrame([c.as_dict() for c in first]).astype(str)
    done = candidates_done(frame)
    assert len(done) == 2
    calls.clear()
    chosen, _ = select_on_validation(
        exp, exp.splits()[0], 0, points, CPU, "val_acc", SelectionLog(None, done)
    )
    assert calls == []
    assert json.loads(chosen.point) == {"trainer.monitor": "val_loss"}
    # another data fingerprint is another experiment: nothing is reused
    other = make_exp(tmp_path / "other", dataset=small_dataset(41))
    select_on_validation(
        other, other.splits()[0], 0, points, CPU, "val_acc", SelectionLog(None, done)
    )
    assert calls == ["val_acc", "val_loss"]


def test_nested_and_dotted_grids_are_one_grid():
    nested = {"model": {"hidden": [32, 64]}, "trainer": {"lr": [0.1]}}
    assert flatten_grid(nested) == {"model.hidden": [32, 64], "trainer.lr": [0.1]}
    a = ProtocolConfig(grid=nested).grid_points()
    b = ProtocolConfig(grid={"model.hidden": [32, 64], "trainer.lr": [0.1]})
    assert (
        a
        == b.grid_points()
        == [
            {"model.hidden": 32, "trainer.lr": 0.1},
            {"model.hidden": 64, "trainer.lr": 0.1},
        ]
    )
    assert ProtocolConfig(grid=None).grid == {}


@pytest.mark.parametrize(
    "bad", [{"select_on": "test_acc"}, {"grid": {"model.hidden": 32}}]
)
def test_bad_selection_settings_are_refused(bad):
    with pytest.raises(PoolbenchError):
        ProtocolConfig(**bad)


def test_test_graphs_never_reach_selection_training_or_early_stopping(tmp_path):
    """Poison every test graph with NaN features: if any of them entered a grid
    candidate, a final run's training or its validation passes, a loss would
    turn NaN and a metric would move. Only the test scores may change."""
    clean = small_dataset(60)
    grid = ["+protocol.grid.trainer.lr=[0.01,0.001]", "pooler=topk"]
    exp = make_exp(tmp_path / "clean", grid, clean)
    (split,) = exp.splits()
    poisoned_graphs = [g.clone() for g in clean.graphs]
    for i in split.test:
        poisoned_graphs[i].x = torch.full_like(poisoned_graphs[i].x, float("nan"))
    poisoned = make_exp(
        tmp_path / "poisoned", grid, GraphDataset("TOY", poisoned_graphs, 2)
    )
    assert poisoned.splits() == [split]  # same labels, same split
    results = []
    for e in (exp, poisoned):
        protocol = ProtocolConfig(**OmegaConf.to_container(e.cfg.protocol))
        candidates = []
        rows = run_protocol(
            e, protocol, CPU, {}, set(), lambda r: None, None,
            SelectionLog(candidates.append),
        )  # fmt: skip
        results.append((rows, candidates))
    (clean_rows, clean_cands), (bad_rows, bad_cands) = results
    assert [r.status for r in clean_rows + bad_rows] == ["ok", "ok"]
    for a, b in zip(clean_cands, bad_cands):
        assert (a.point, a.score, a.val_loss, a.best_epoch) == (
            b.point, b.score, b.val_loss, b.best_epoch,
        )  # fmt: skip
    a, b = clean_rows[0], bad_rows[0]
    assert a.selected == b.selected != ""
    assert (a.best_epoch, a.epochs, a.train_acc, a.val_acc, a.val_loss) == (
        b.best_epoch, b.epochs, b.train_acc, b.val_acc, b.val_loss,
    )  # fmt: skip
    assert math.isfinite(a.test_loss) and math.isnan(b.test_loss)


def test_a_grid_null_is_none_not_the_text_none(tmp_path):
    exp = make_exp(tmp_path, ["model=unet", "model.head_dropout=0.3"])
    point = exp.with_overrides({"model.head_dropout": None, "model.mp": "gcn"})
    assert point.cfg.model.head_dropout is None  # was the string 'None'
    assert point.cfg.model.mp == "gcn" and exp.cfg.model.head_dropout == 0.3
    # a constructor argument the pooler's YAML leaves out (a user's own YAML)
    left_out = make_exp(tmp_path, ["pooler=kmeans", "~pooler.n_init"])
    kmeans = left_out.with_overrides({"pooler.n_init": 2})
    assert kmeans.cfg.pooler.n_init == 2


@pytest.mark.parametrize("key", ["seed", "dataset.name", "protocol.runs", "data.root"])
def test_a_grid_over_what_a_fold_cannot_change_is_refused(key):
    with pytest.raises(PoolbenchError, match="a grid searches trainer"):
        ProtocolConfig(grid={key: [1, 2]})


def test_a_stop_signal_in_model_selection_still_leaves_a_failed_row(
    tmp_path, monkeypatch
):
    from poolbench.training.signals import Interrupted

    def stopped(*args, **kwargs):
        raise Interrupted(2, "stopped by SIGINT (Ctrl-C)", False)

    monkeypatch.setattr(trainer, "fit", stopped)
    exp = make_exp(tmp_path, ["+protocol.grid.trainer.lr=[0.1,0.01]"])
    protocol = ProtocolConfig(**OmegaConf.to_container(exp.cfg.protocol))
    written = []
    with pytest.raises(Interrupted):
        run_protocol(exp, protocol, CPU, {}, set(), written.append)
    assert [(r.status, r.error) for r in written] == [
        ("failed", "stopped by SIGINT (Ctrl-C) in model selection")
    ]
