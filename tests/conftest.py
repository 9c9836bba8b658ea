"""Shared fixtures: the offline dataset mirror and a session-wide data root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def mirror_path() -> Path | None:
    env = os.environ.get("POOLBENCH_DATA_MIRROR")
    path = Path(env) if env else REPO.parent / "shared" / "datasets"
    return path if (path / "TUDataset" / "MUTAG" / "raw").is_dir() else None


@pytest.fixture(scope="session")
def mirror() -> Path:
    path = mirror_path()
    if path is None:
        pytest.skip("no dataset mirror: set POOLBENCH_DATA_MIRROR=../shared/datasets")
    return path


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    """One writable data root per test session, so PyG processes each set once."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def mutag(mirror, data_root):
    from poolbench.data.tu import load_tu

    return load_tu("MUTAG", str(data_root), str(mirror))


@pytest.fixture
def cli(tmp_path, data_root, mirror):
    """The real ``poolbench`` CLI in a subprocess, run in ``tmp_path``."""
    from tests.cli_helpers import run_cli

    def call(*args, **kw):
        return run_cli(list(args), tmp_path, data_root, mirror, **kw)

    call.cwd = tmp_path
    return call
