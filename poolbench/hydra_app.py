"""The Hydra entry of ``poolbench train``: check every job, run them, report.

Before Hydra gets the command, every job's config is composed and checked
(:mod:`poolbench.validation`), so bad input stops the command before any job
trains. After the jobs, a command whose runs all failed exits with code 1.
"""

from __future__ import annotations

import sys

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


def train(args: list[str]) -> None:
    from poolbench.validation.command import preflight

    args = replace_whole_grid(args)
    jobs = preflight(args)  # [] when Hydra only shows something (--help, --cfg)
    sys.argv = ["poolbench train", *args]
    _hydra_main()
    if jobs:
        from poolbench.runner import EXIT_RUN_FAILED, every_run_failed

        failure = every_run_failed(jobs)
        if failure:
            print(f"poolbench: {failure}", file=sys.stderr)
            raise SystemExit(EXIT_RUN_FAILED)
