"""Every registered pooler trains an epoch on MUTAG through the real CLI."""

from __future__ import annotations

from poolbench.pooling.registry import available
from tests.cli_helpers import rows, run_cli


def test_every_pooler_trains_one_epoch_on_mutag(tmp_path, data_root, mirror):
    poolers = available()
    out = run_cli(
        [
            "train",
            "-m",
            f"pooler={','.join(poolers)}",
            "dataset=mutag",
            "protocol=holdout",
            "trainer.max_epochs=1",
            "model.hidden=16",
        ],
        tmp_path,
        data_root,
        mirror,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    frame = rows(tmp_path)
    assert sorted(frame.pooler) == sorted(poolers)
    failed = frame[frame.status != "ok"]
    assert failed.empty, failed[["pooler", "status", "error"]].to_string()
    assert frame.test_acc.between(0, 1).all()
    pooled = frame.set_index("pooler").avg_nodes_pooled
    assert pooled["none"] == frame.avg_nodes_in.iloc[0]
    assert (pooled.drop("none") < frame.avg_nodes_in.iloc[0]).all()
