"""A sweep sbatch refuses is one line naming the fix, not Hydra's traceback.

The real refusal through a Slurm cluster is in ``test_slurm.py``; here the
pieces that need none: which of submitit's errors count as a refusal, and the
context that turns one into a :class:`PoolbenchError`.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from poolbench.errors import PoolbenchError
from poolbench.hydra_app import sbatch_refusal, sbatch_refusal_as_one_line

utils = pytest.importorskip("submitit.core.utils")

SBATCH_SAID = (
    "sbatch: error: invalid partition specified: gpu\n"
    "sbatch: error: Batch job submission failed: Invalid partition name specified"
)


def refused(command: str = "sbatch") -> Exception:
    """submitit's error for a submission command that exited 1."""
    cause = subprocess.CalledProcessError(1, [command, "job.sh"], stderr=SBATCH_SAID)
    try:
        raise utils.FailedJobError(SBATCH_SAID) from cause
    except utils.FailedJobError as exc:
        return exc


def test_only_sbatchs_own_refusal_counts():
    assert sbatch_refusal(refused()) == (
        "invalid partition specified: gpu; "
        "Batch job submission failed: Invalid partition name specified"
    )
    assert sbatch_refusal(refused("/usr/bin/sbatch")) is not None
    # a job that failed on the cluster, or another command: not bad input
    assert sbatch_refusal(utils.FailedJobError("Job (task=0) failed")) is None
    assert sbatch_refusal(refused("sacct")) is None
    assert sbatch_refusal(RuntimeError(SBATCH_SAID)) is None


def test_a_refusal_becomes_one_error_and_submitits_echo_is_dropped(capsys):
    with pytest.raises(PoolbenchError) as caught:
        with sbatch_refusal_as_one_line(True):
            print(SBATCH_SAID, file=sys.stderr)  # what submitit prints first
            raise refused()
    message = str(caught.value)
    assert message.startswith("sbatch refused the jobs: invalid partition")
    assert "\n" not in message and "hydra.launcher.partition=" in message
    assert capsys.readouterr().err == ""


def test_other_errors_pass_and_other_output_stays(capsys):
    with pytest.raises(RuntimeError):
        with sbatch_refusal_as_one_line(True):
            print("sbatch: a note", file=sys.stderr)
            print("other", file=sys.stderr)
            raise RuntimeError("boom")
    assert capsys.readouterr().err == "sbatch: a note\nother\n"
    with pytest.raises(utils.FailedJobError):  # a job's failure is not refused
        with sbatch_refusal_as_one_line(True):
            raise utils.FailedJobError("Job (task=0) failed")
