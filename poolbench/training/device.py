"""Where a run executes: device choice, CPU thread policy and peak-memory probes."""

from __future__ import annotations

import os
import re

import torch

from poolbench.errors import PoolbenchError


def resolve_device(name: str) -> torch.device:
    """``auto`` takes CUDA when present; ``cpu`` and ``cuda[:i]`` are explicit."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise PoolbenchError(
            "device=cuda asked for but no GPU is visible; use device=auto or cpu"
        )
    try:
        return torch.device(name)
    except RuntimeError:
        raise PoolbenchError(
            f"unknown device {name!r}; use auto, cpu or cuda"
        ) from None


# trainer flags that run on CUDA only. torch.compile does work on the CPU
# (inductor with g++), but for MUTAG x mincut its first epoch took 142 s and
# the later ones were no faster than eager (0.074 against 0.071 s).
CUDA_ONLY = ("compile", "amp")


def check_cuda_only(trainer: dict, device: torch.device) -> None:
    """Refuse ``trainer.compile``/``trainer.amp`` on a device that is not CUDA."""
    for flag in CUDA_ONLY:
        if trainer.get(flag) and device.type != "cuda":
            raise PoolbenchError(
                f"trainer.{flag}=true needs a CUDA device (got {device}); "
                f"set trainer.{flag}=false on the CPU"
            )


def device_label(device: torch.device) -> str:
    """The device as rows record it. On the CPU the intra-op thread count is
    part of it: torch splits a reduction differently over 1 and 2 threads, so
    the same seed gives numbers that differ in the last digits, and the tables
    mark a cell that mixes thread counts (§) as they mark mixed devices."""
    if device.type == "cuda":
        # the GPU's model, not its index: folds run on cuda:0 and cuda:1 of
        # one machine are the same device, an A100 and an H100 are not
        return f"cuda ({torch.cuda.get_device_name(device).replace(',', ' ')})"
    if device.type != "cpu":
        return str(device)
    threads = torch.get_num_threads()
    # no comma: tables join several devices with ", "
    return f"cpu ({threads} thread{'s' if threads != 1 else ''})"


def usable_cores() -> int:
    """Cores this process may run on: a Slurm or cgroup CPU set, else all."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_threads(threads: int) -> int:
    """Fix torch's intra-op threads for this process.

    Small-batch GNN training is overhead-bound: on a 2-core machine two jobs
    with torch's default 2 threads each ran ~5x slower per epoch than with 1
    thread each. ``threads <= 0`` means all cores divided by the parallel jobs
    sharing the machine (``POOLBENCH_PARALLEL_JOBS``, set by the launchers).
    """
    threads = run_threads(threads)
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # only settable before the first parallel op; later calls are no-ops
    return threads


def run_threads(threads: int, n_jobs: int = 1) -> int:
    """The torch threads of each run: ``trainer.threads``, or for 0 the usable
    cores shared by the launcher's parallel jobs (``POOLBENCH_PARALLEL_JOBS``)
    and the experiment's fold workers (``protocol.n_jobs``). Never sized by the
    folds left to do: a resumed sweep's runs get the count its first ones had,
    and the count changes the last digits (see :func:`device_label`)."""
    if threads > 0:
        return threads
    jobs = max(1, int(os.environ.get("POOLBENCH_PARALLEL_JOBS", "1")))
    return max(1, usable_cores() // jobs // max(1, n_jobs))


def _proc_status_kb(field: str) -> float | None:
    try:
        text = open("/proc/self/status").read()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return float(match.group(1)) if match else None


class PeakMemory:
    """Peak memory of one run: CUDA max-allocated, or the process's peak RSS.

    Peaks carry over between runs in one process (Hydra 2631), so both are reset
    at the start: CUDA through torch, RSS by writing 5 to /proc/self/clear_refs.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.kind = "cuda" if device.type == "cuda" else "cpu_rss"

    def reset(self) -> None:
        if self.kind == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass  # not Linux: the lifetime peak is the best available

    def peak_mb(self) -> float:
        if self.kind == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        hwm = _proc_status_kb("VmHWM")
        if hwm is not None:
            return hwm / 1024
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def available_memory_mb(device: torch.device) -> float:
    """Memory a run may still take: free GPU memory, or available system RAM.

    On a GPU, memory this process's caching allocator holds but no tensor
    uses is free to the run (an earlier fold's blocks: counting them as taken
    made later folds of a big dense pooler ``oom`` rows without a try), and a
    fold worker capped at a share of the GPU has at most what its cap leaves.
    """
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        used = torch.cuda.memory_allocated(device)
        have = free + torch.cuda.memory_reserved(device) - used
        cap = torch.cuda.get_per_process_memory_fraction(device) * total - used
        return max(0.0, min(have, cap)) / 2**20
    import psutil

    return psutil.virtual_memory().available / 2**20


def gpu_for_job(job_num: int, visible: list[str]) -> str:
    """The GPU a parallel job takes: its job number modulo the visible GPUs.

    Hydra's launchers do not share GPUs out among parallel jobs (Hydra 1331):
    without this every job of a joblib sweep piles onto GPU 0.
    """
    if not visible:
        raise ValueError("no GPU to choose from")
    return visible[job_num % len(visible)]


def visible_gpus() -> list[str]:
    """The GPU ids this process may use, found without initialising CUDA."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() not in ("", "-1")]
    try:  # NVML counts GPUs without the CUDA init that would freeze the choice
        count = torch.cuda._device_count_nvml()
    except Exception:
        count = -1
    return [str(i) for i in range(max(count, 0))]


def pin_job_to_gpu(job_num: int, device: str) -> str:
    """Give job ``job_num`` of a multirun its own GPU; returns the device to use.

    Before CUDA initialises, ``CUDA_VISIBLE_DEVICES`` narrows the process to
    one GPU. A reused worker process (loky keeps them) has CUDA initialised
    already and keeps the GPUs it saw then, so it gets an explicit index.
    ``device=cpu`` or ``cuda:i`` are the user's choice and left alone.
    """
    if device not in ("auto", "cuda"):
        return device
    visible = visible_gpus()
    if len(visible) <= 1:
        return device
    if torch.cuda.is_initialized():
        return f"cuda:{job_num % len(visible)}"
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu_for_job(job_num, visible)
    return device
