"""Running the real ``poolbench`` CLI in a subprocess, as a user would."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pandas as pd

from poolbench.results.store import ResultsStore

REPO = Path(__file__).resolve().parents[1]
# Overrides that make a CLI training run take seconds: the tests check plumbing.
QUICK = ["trainer.max_epochs=2", "trainer.patience=2", "model.hidden=16"]


def run_cli(
    args,
    cwd: Path,
    data_root: Path,
    mirror: Path | None,
    timeout=600,
    env=None,
    max_file_bytes: int | None = None,
):
    """``max_file_bytes``: RLIMIT_FSIZE of the command, so that a write past
    it fails as on a full disk (EFBIG; Python ignores SIGXFSZ)."""
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "HYDRA_"))
    }
    full_env.update(
        POOLBENCH_DATA=str(data_root),
        OMP_NUM_THREADS="1",
        PYTHONWARNINGS="ignore",
    )
    if mirror is not None:
        full_env["POOLBENCH_DATA_MIRROR"] = str(mirror)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "poolbench", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=None if max_file_bytes is None else _file_limit(max_file_bytes),
    )


def _file_limit(size: int):
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def rows(cwd: Path, results_dir: str = "results") -> pd.DataFrame:
    return ResultsStore(cwd / results_dir).read()
