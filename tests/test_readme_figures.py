"""The README's measured figures are what their recorded runs produced."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "readme_figures.py"


def test_every_readme_figure_is_rendered_from_its_recorded_run():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    for path in (REPO / "docs" / "figures").glob("*.json"):
        record = json.loads(path.read_text())
        assert record["command"] and record["machine"]["commit"], path.name


def test_the_headline_figure_reproduces(tmp_path):
    """Rerun the headline command; the same seed on a CPU gives the same
    accuracy (timings are not compared: they depend on the machine). In the
    default suite (about 2 minutes on one core): a change that moves the
    README's headline number must re-measure it (make readme-figures)."""
    sys.path.insert(0, str(SCRIPT.parent))
    import readme_figures

    recorded = json.loads((REPO / "docs" / "figures" / "headline.json").read_text())
    fresh = readme_figures.measure_train(recorded["command"], tmp_path)
    for key in ("mean", "std", "runs", "folds"):
        assert fresh[key] == pytest.approx(recorded["measured"][key], abs=1e-9), key
