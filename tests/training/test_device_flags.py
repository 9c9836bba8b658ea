"""trainer.compile and trainer.amp stay CUDA only: one line on the CPU, no model."""

from __future__ import annotations

import pytest
import torch

from poolbench.errors import PoolbenchError
from tests.training.test_dense_memory import experiment


@pytest.mark.parametrize("flag", ["compile", "amp"])
def test_cuda_only_flags_are_refused_on_the_cpu(flag, tmp_path):
    exp = experiment("mincut", tmp_path, 10)
    exp.cfg.trainer[flag] = True
    with pytest.raises(PoolbenchError) as err:
        exp.make_model(torch.device("cpu"))
    message = str(err.value)
    assert "\n" not in message
    assert f"trainer.{flag}=false" in message and "CUDA" in message
