"""The wheel carries every config file, so an installed poolbench runs anywhere.

(scripts/check_wheel.sh, run by .ci/run, installs that wheel into a fresh venv
and trains from an unrelated directory.)
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from poolbench.config_files import CONF_DIR

REPO = Path(__file__).resolve().parents[1]


def test_the_wheel_ships_the_whole_config_tree(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
         "--no-build-isolation", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("poolbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    conf = {
        "poolbench/conf/" + p.relative_to(REPO / "conf").as_posix()
        for p in (REPO / "conf").rglob("*.yaml")
    }
    assert len(conf) > 40 and conf <= names
    assert "poolbench/config_files.py" in names


def test_a_checkout_reads_its_own_conf():
    assert CONF_DIR == REPO / "conf"
