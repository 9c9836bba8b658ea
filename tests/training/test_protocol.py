"""The protocol around single runs: the test pass shares validation's numerics."""

from __future__ import annotations

from poolbench.tasks.graph import GraphClassification
from poolbench.training import protocol
from tests.training.test_selection import CPU, make_exp


def test_test_pass_runs_with_the_trainer_settings_validation_uses(
    tmp_path, monkeypatch
):
    # With trainer.amp, validation ran under bf16 autocast and test in fp32:
    # every evaluation pass must get the run's trainer config (issue 9, §1).
    seen = []
    real = GraphClassification.evaluate

    def spy(self, model, loader, device, cfg=None):
        seen.append(cfg)
        return real(self, model, loader, device, cfg)

    monkeypatch.setattr(GraphClassification, "evaluate", spy)
    exp = make_exp(tmp_path)
    out = protocol.train_once(exp, exp.splits()[0], 0, CPU)
    assert out.fit.epochs == len(seen) - 1  # one validation pass per epoch + test
    assert all(cfg is exp.trainer for cfg in seen)


def test_a_run_whose_test_score_is_not_finite_is_a_nan_row(tmp_path, monkeypatch):
    """An ok row with a NaN score would count as a run yet stay out of the
    mean (and the store now reads it as damaged): it is written as nan."""
    import math

    import torch

    from poolbench.tasks.base import Metrics
    from poolbench.training.protocol import FoldJob, ProtocolConfig, run_fold
    from poolbench.training.trainer import FitResult, TrainedRun

    def trained(*args, **kwargs):
        fit = FitResult(2, 3, 0.5, Metrics(0.4, {"acc": 0.6}), 0.01, 5.0, 2.5)
        model = torch.nn.Linear(1, 1)
        return TrainedRun(model, fit, Metrics(0.4, {"acc": math.nan}))

    monkeypatch.setattr(protocol, "train_once", trained)
    exp = make_exp(tmp_path)
    written = []
    run_fold(exp, ProtocolConfig(name="holdout", folds=1, runs=1), FoldJob(0, [0]),
             exp.splits()[0], CPU, {}, written.append)  # fmt: skip
    assert [(r.status, r.error) for r in written] == [("nan", "non-finite test acc")]
