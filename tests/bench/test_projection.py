"""The sweep projection: its arithmetic by hand, and a measured cost on MUTAG."""

from __future__ import annotations

import pytest
import torch

from poolbench.bench.projection import (
    JobCost,
    format_duration,
    makespan,
    measure_sec_per_epoch,
    project,
)


def test_makespan_puts_the_longest_jobs_first():
    # sorted 5, 4, 2, 1: {5, 1} and {4, 2}; in the given order it would be 7
    assert makespan([1, 5, 2, 4], 2) == 6
    assert makespan([2, 2, 2], 1) == 6
    assert makespan([], 4) == 0


def test_projection_range_by_hand():
    jobs = [
        JobCost("a", "X", runs=30, sec_per_epoch=0.1, source="measured"),
        JobCost("b", "X", runs=30, sec_per_epoch=0.2, source="store", stored_epochs=50),
        JobCost("c", "X", runs=30, sec_per_epoch=0.0, source="oom"),
    ]
    p = project(jobs, patience=30, max_epochs=300, workers=1)
    assert p.low_sec == pytest.approx(30 * 31 * 0.3)
    assert p.high_sec == pytest.approx(30 * 300 * 0.3)
    # a job without stored epochs takes the mean of the known ones (50)
    assert p.typical_sec == pytest.approx(30 * 50 * 0.3)
    two = project(jobs, patience=30, max_epochs=300, workers=2)
    assert two.high_sec == pytest.approx(30 * 300 * 0.2)  # b alone on a worker
    assert project(jobs[:1], 30, 300, 1).typical_sec is None


def test_durations_read_naturally():
    assert format_duration(0.42) == "0.4 s"
    assert format_duration(59) == "59 s"
    assert format_duration(600) == "10 min"
    assert format_duration(3 * 3600) == "3.0 h"
    assert format_duration(3 * 86400) == "3.0 days"


def test_measured_cost_is_positive_and_scaled_to_the_split(mutag, tmp_path):
    from hydra import compose, initialize_config_dir

    from poolbench.experiment import Experiment
    from poolbench.hydra_app import CONF_DIR

    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=["pooler=topk", f"data.root={tmp_path}", "model.hidden=16"],
        )
    cost = measure_sec_per_epoch(Experiment(cfg, mutag), torch.device("cpu"), 16)
    assert cost.source == "measured" and cost.sec_per_epoch > 0
    assert (cost.pooler, cost.dataset) == ("topk", "MUTAG")
