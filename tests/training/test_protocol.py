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
    assert out["fit"].epochs == len(seen) - 1  # one validation pass per epoch + test
    assert all(cfg is exp.trainer for cfg in seen)
