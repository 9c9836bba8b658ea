"""``conf/trainer`` as a dataclass, importable without torch.

The pre-flight checks of ``poolbench train`` read its annotations before any
heavy import; :mod:`poolbench.training.trainer` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from poolbench.validation.values import check_fields


@dataclass
class TrainerConfig:
    """Optimisation settings of one run; bounds in ``validation.values.RANGES``."""

    max_epochs: int = 300
    patience: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 0.0
    # which of these apply is the task's to say (validation.config.check_task)
    monitor: Literal["val_loss", "val_acc", "val_rmse", "val_mae"] = "val_loss"
    # True: a tie with the best monitored value counts as an improvement (the
    # later epoch is kept and patience restarts), as in Errica et al.'s code
    ties_improve: bool = False
    # StepLR: multiply lr by lr_gamma every lr_step epochs (0: constant lr)
    lr_step: int = 0
    lr_gamma: float = 0.5
    threads: int = 1
    # Speed levers; none changes what a run computes on the CPU (tested).
    fast_data: bool = True  # packed tensors batched by index, not PyG collation
    precompute: bool = True  # topology poolers: pooled graphs cached per dataset
    compile: bool = False  # torch.compile the model (CUDA only)
    amp: bool = False  # bf16 autocast (CUDA only)

    def __post_init__(self) -> None:
        check_fields(self, "trainer")
