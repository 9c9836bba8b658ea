"""The Hydra entry of ``poolbench train``: check every job, run them, report.

Before Hydra gets the command, every job's config is composed and checked
(:mod:`poolbench.validation`), so bad input stops the command before any job
trains. After the jobs, a command whose runs all failed exits with code 1.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import hydra
from omegaconf import DictConfig

from poolbench.config_files import CONF_DIR
from poolbench.errors import PoolbenchError

GROUPS = (
    "task",
    "dataset",
    "pooler",
    "model",
    "protocol",
    "trainer",
    "logger",
    "experiment",
)


def choices(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def check_choices(group: str, names: list[str]) -> None:
    """Unknown config names fail with the list of valid ones; reads only the
    YAML file names, so bad input is refused before torch is imported."""
    valid = choices(group)
    for name in names:
        if name not in valid:
            raise PoolbenchError(
                f"unknown {group} {name!r}; choose from {', '.join(valid)}"
            )


def check_group_overrides(args: list[str]) -> None:
    """Unknown ``group=value`` choices fail here with the list of valid ones
    (``poolbench eval``; ``train`` has Hydra's own list, --config-dir included)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = [a for a in args if not a.startswith("-") and "=" in a]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as exc:
        raise PoolbenchError(
            f"cannot parse overrides: {exc}".replace("\n", " ")
        ) from None
    for override in parsed:
        group = override.key_or_group
        if group not in GROUPS or override.is_delete():
            continue
        values = (
            list(override.sweep_string_iterator())
            if override.is_sweep_override()
            else [override.value()]
        )
        valid = choices(group)
        for value in values:
            if value is not None and str(value) not in valid:
                raise PoolbenchError(
                    f"unknown {group} {value!r}; available: {', '.join(valid)}"
                )


def compose_checked(overrides: list[str]) -> DictConfig:
    """``conf/config.yaml`` composed with ``overrides`` outside a Hydra job
    (``eval``, ``reproduce``); a misspelled key is refused as ``train`` refuses
    it (``unknown key trainer.max_epoch; did you mean trainer.max_epochs?``),
    any other failure in one line."""
    import re

    from hydra import compose, initialize_config_dir

    from poolbench.validation.values import unknown_override

    check_group_overrides(overrides)

    def composed(args: list[str]) -> DictConfig:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            return compose("config", overrides=args)

    try:
        return composed(overrides)
    except Exception as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        missing = re.match(r"Could not override '([^']+)'", reason)
        if not missing:
            raise PoolbenchError(f"bad override: {reason}") from None
    raise unknown_override(missing.group(1), overrides, composed)


def replace_whole_grid(args: list[str]) -> list[str]:
    """``protocol.grid=VALUE`` replaces the grid, as a user means it.

    Hydra merges a dict override into the existing dict, so ``protocol.grid={}``
    would silently keep a named experiment's whole grid. Deleting the key first
    and adding it back makes the override the grid (``{}`` or null: no grid).
    One axis is still set with ``protocol.grid.<key>=[...]``.
    """
    out = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep and key.lstrip("+") == "protocol.grid":
            out += [
                "~protocol.grid",
                f"+protocol.grid={value if value not in ('', 'null') else '{}'}",
            ]
        else:
            out.append(arg)
    return out


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> float | None:
    from poolbench.runner import run_experiment

    try:
        record = run_experiment(cfg)
    except PoolbenchError as exc:
        print(f"poolbench: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return record.get("mean")


def sbatch_refusal(exc: BaseException) -> str | None:
    """Why sbatch refused a sweep's jobs, when ``exc`` is submitit's
    ``FailedJobError`` for that refusal (not for a job that failed later)."""
    import subprocess

    try:
        from submitit.core.utils import FailedJobError
    except ImportError:
        return None
    cause = exc.__cause__
    if not (
        isinstance(exc, FailedJobError)
        and isinstance(cause, subprocess.CalledProcessError)
        and Path(str(cause.cmd[0])).name == "sbatch"
    ):
        return None
    lines = [line.strip() for line in str(cause.stderr or exc).splitlines()]
    reasons = [line.removeprefix("sbatch: error:").strip() for line in lines if line]
    return "; ".join(dict.fromkeys(reasons)) or f"exit code {cause.returncode}"


def slurm_partitions() -> str:
    """The partitions ``sinfo`` lists (``local (default)``), or ''."""
    import subprocess

    try:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    names = dict.fromkeys(out.stdout.split()) if out.returncode == 0 else {}
    return ", ".join(f"{n[:-1]} (default)" if n.endswith("*") else n for n in names)


class _HeldSbatchErrors:
    """``sys.stderr``, but what sbatch said when it refused the jobs (which
    submitit echoes before it raises) is held back: the one-line error says
    it. Held text is written out as soon as anything else is written, or
    when no refusal follows."""

    def __init__(self, stream):
        self.stream, self.held, self.holding = stream, [], False

    def write(self, text: str) -> int:
        if text.startswith("sbatch: ") or (self.holding and text == "\n"):
            self.held.append(text)
            self.holding = text != "\n"
            return len(text)
        self.holding = False
        self.release()  # in order: what came next was no refusal's echo
        return self.stream.write(text)

    def release(self) -> None:
        if self.held:
            self.stream.write("".join(self.held))
        self.held = []

    def __getattr__(self, name):
        return getattr(self.stream, name)


@contextmanager
def sbatch_refusal_as_one_line(multirun: bool):
    """A launcher's error reaches Hydra's reporter, which prints a traceback
    and exits 1; here (a multirun: only they launch) it is raised instead, so
    a refusal of sbatch becomes one line and exit 2. Other errors go on."""
    if not multirun:
        yield
        return
    saved_env, saved_stderr = os.environ.get("HYDRA_FULL_ERROR"), sys.stderr
    os.environ["HYDRA_FULL_ERROR"] = "1"
    held = sys.stderr = _HeldSbatchErrors(saved_stderr)
    try:
        yield
    except Exception as exc:
        reason = sbatch_refusal(exc)
        if reason is None:
            raise
        held.held = []
        partitions = slurm_partitions()
        where = f"this cluster's partitions: {partitions}; " if partitions else ""
        raise PoolbenchError(
            f"sbatch refused the jobs: {reason}; {where}fix the hydra.launcher "
            "keys (e.g. hydra.launcher.partition=NAME) or "
            "conf/hydra/launcher/slurm.yaml"
        ) from None
    finally:
        sys.stderr = saved_stderr
        held.release()
        if saved_env is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved_env


def train(args: list[str]) -> None:
    from poolbench.validation.command import parse_command, preflight

    args = replace_whole_grid(args)
    jobs = preflight(args)  # [] when Hydra only shows something (--help, --cfg)
    command = parse_command(args)
    sys.argv = ["poolbench train", *args]
    # only where sbatch is the launcher: elsewhere Hydra's own report of an
    # error stays as it is (the wrapper sets HYDRA_FULL_ERROR to see it)
    slurm = any(a.startswith("hydra/launcher=") and "slurm" in a for a in args)
    with sbatch_refusal_as_one_line(bool(jobs) and command.multirun and slurm):
        _hydra_main()
    if jobs:
        from poolbench.runner import EXIT_RUN_FAILED, every_run_failed

        failure = every_run_failed(jobs)
        if failure:
            print(f"poolbench: {failure}", file=sys.stderr)
            raise SystemExit(EXIT_RUN_FAILED)
