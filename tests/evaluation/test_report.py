"""Eval tables from stored rows, and the eval configs themselves."""

from __future__ import annotations

import pytest
from rich.console import Console

from poolbench.evaluation.cli import load_eval_conf
from poolbench.evaluation.report import render_eval_tables
from poolbench.evaluation.rows import KINDS, EvalRow, EvalStore
from poolbench.hydra_app import compose_checked


def test_tables_take_the_latest_row_and_list_failures(tmp_path):
    store = EvalStore(tmp_path)
    base = dict(kind="autoencoder", seed=0, config_hash="h")
    store.append(EvalRow(pooler="topk", graph="ring", mse=9.0, **base))
    store.append(EvalRow(pooler="topk", graph="ring", mse=0.5, **base))  # rerun
    store.append(EvalRow(pooler="none", graph="ring", mse=0.01, **base))
    store.append(EvalRow(pooler="sag", graph="", status="failed", error="x", **base))
    store.append(
        EvalRow(
            kind="expressiveness",
            pooler="mincut",
            graph="EXPWL1-GEN",
            seed=0,
            config_hash="h",
            test_acc=0.99,
            wl_mp="yes",
            rowsum_spread=0.0,
            red_error=0.0,
            verdict="expressive",
        )
    )
    console = Console(record=True, width=200)
    written = render_eval_tables(tmp_path, tmp_path / "out", console)
    assert {p.name for p in written} == {
        "eval_autoencoder.md",
        "eval_autoencoder.csv",
        "eval_expressiveness.md",
        "eval_expressiveness.csv",
    }
    md = (tmp_path / "out" / "eval_autoencoder.md").read_text()
    assert "| topk | 0.5 |" in md and "9" not in md.split("| topk |")[1].split("\n")[0]
    assert "| sag |" in md and "failed" in md
    text = console.export_text()
    assert "99.0" in text and "expressive" in text and "no spectral rows" in text


@pytest.mark.parametrize("kind", KINDS)
def test_every_eval_config_composes_with_the_main_config(kind):
    conf = load_eval_conf(kind)
    assert set(conf) <= {"config", "settings", "per_pooler"}
    cfg = compose_checked([*conf.config, "pooler=mincut"])
    assert cfg.pooler._target_.endswith("MinCutPool")
    for name, extra in (conf.get("per_pooler") or {}).items():
        compose_checked([*conf.config, *extra, f"pooler={name}"])
