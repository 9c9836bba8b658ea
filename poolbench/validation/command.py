"""Every job of a ``poolbench train`` command, composed and checked up front.

Hydra composes each job's config only when the launcher starts it, so a bad
value in the ninth job of a sweep would surface after eight jobs trained. Here
the command is composed the way Hydra will compose it (its own argument parser,
search path, sweeper arguments and ``load_sweep_config``), and every job's
config is checked before Hydra gets the command. Hydra's own errors (an unknown
key, a parse error, a missing config) become one line naming the fix.
Composing costs 50-80 ms per job on a 2-core machine (10-14 s before a
20 × 9 sweep, which Hydra's basic sweeper then spends once more itself).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from poolbench.errors import PoolbenchError
from poolbench.validation.config import check_config
from poolbench.validation.values import unknown_override


@dataclass
class TrainCommand:
    """What Hydra's own argument parser makes of a ``train`` command line."""

    overrides: list[str]
    multirun: bool
    config_name: str
    config_dir: str | None


def parse_command(args: list[str]) -> TrainCommand | None:
    """None when Hydra is asked to show something (``--help``, ``--cfg`` …)."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()

    def refuse(message: str):
        raise PoolbenchError(f"{message}; see `poolbench train --help`")

    parser.error = refuse
    ns = parser.parse_args(args)
    if ns.help or ns.hydra_help or ns.cfg or ns.info or ns.shell_completion:
        return None
    if ns.config_path is not None:
        refuse("--config-path is not supported; add your configs with --config-dir")
    if getattr(ns, "experimental_rerun", None) is not None:
        # Hydra unpickles the file it names: loading it could run any code
        refuse(
            "--experimental-rerun is not supported (it unpickles a file); rerun "
            "the job's command, or pass its .hydra/overrides.yaml values"
        )
    return TrainCommand(
        ns.overrides, ns.multirun, ns.config_name or "config", ns.config_dir
    )


def preflight(args: list[str]) -> list[DictConfig]:
    """Compose and check every job of the command; [] when nothing will run."""
    command = parse_command(args)
    if command is None:
        return []
    jobs = compose_jobs(command)
    # A Slurm job runs on a node with its own devices: a login node without a
    # GPU must not refuse device=cuda or trainer.amp for it. Each job checks
    # its devices itself, on the node, before it loads any data (runner.py).
    here = not (command.multirun and runs_elsewhere(command))
    for job in jobs:
        check_config(job, devices_here=here)
    return jobs


def runs_elsewhere(command: TrainCommand) -> bool:
    """Whether the command's launcher starts its jobs on other machines."""
    from hydra.types import RunMode

    with _own_hydra():
        master = _hydra(command).compose_config(
            command.config_name, command.overrides, run_mode=RunMode.MULTIRUN
        )
    return str(master.hydra.launcher.get("_target_", "")).endswith(".SlurmLauncher")


@contextmanager
def _own_hydra():
    """A clean global Hydra for composing here; the caller's is put back."""
    from hydra.core.global_hydra import GlobalHydra

    state = GlobalHydra.instance()
    saved = state.hydra if state.is_initialized() else None
    state.clear()
    try:
        yield
    finally:
        GlobalHydra.instance().clear()
        if saved is not None:
            GlobalHydra.instance().initialize(saved)


def _hydra(command: TrainCommand):
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.config_search_path import SearchPathQuery

    from poolbench.config_files import CONF_DIR

    search_path = create_config_search_path(str(CONF_DIR))
    if command.config_dir is not None:
        extra = Path(command.config_dir).expanduser().absolute()
        if not extra.is_dir():
            raise PoolbenchError(f"--config-dir {command.config_dir} is no directory")
        # where and how hydra.main adds it, so both compose the same configs
        search_path.prepend(
            "command-line", f"file://{extra}", SearchPathQuery(provider="schema")
        )
    return Hydra.create_main_hydra2("poolbench", config_search_path=search_path)


def compose_jobs(command: TrainCommand) -> list[DictConfig]:
    """The config of each job, as the launcher will compose it (no ``hydra`` node)."""
    with _own_hydra():
        hydra = _hydra(command)
        try:
            return [_without_hydra(c) for c in _compose(hydra, command)]
        except PoolbenchError:
            raise
        except Exception as exc:
            raise one_line(exc, hydra, command) from None


def _compose(hydra, command: TrainCommand) -> list[DictConfig]:
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode

    name, overrides = command.config_name, command.overrides
    if not command.multirun:
        return [hydra.compose_config(name, overrides, run_mode=RunMode.RUN)]
    master = hydra.compose_config(name, overrides, run_mode=RunMode.MULTIRUN)
    sweeper = master.hydra.sweeper
    if not str(sweeper.get("_target_", "")).endswith(".BasicSweeper"):
        return [master]  # another sweeper picks its own points: check the base
    params = [f"{k}={v}" for k, v in (sweeper.get("params") or {}).items()]
    task = OmegaConf.to_container(master.hydra.overrides.task)
    parser = OverridesParser.create(config_loader=hydra.config_loader)
    parsed = parser.parse_overrides(params + task)
    (batch,) = BasicSweeper.split_arguments(parsed, None)
    return [hydra.config_loader.load_sweep_config(master, list(job)) for job in batch]


def _without_hydra(cfg: DictConfig) -> DictConfig:
    """The job's own config: Hydra removes its node before the task runs, and
    the node's resolvers only work inside a running job."""
    return OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])


def one_line(exc: Exception, hydra, command: TrainCommand) -> PoolbenchError:
    """Hydra's error as one line that names the fix."""
    from hydra.errors import MissingConfigException, OverrideParseException

    if isinstance(exc, MissingConfigException) and exc.missing_cfg_file:
        group, _, value = exc.missing_cfg_file.rpartition("/")
        options = ", ".join(exc.options or []) or "none"
        return PoolbenchError(f"unknown {group} {value!r}; available: {options}")
    if isinstance(exc, OverrideParseException):
        bad = _unparsable(command.overrides) or "an override"
        reason = str(exc).splitlines()[0]
        return PoolbenchError(
            f"cannot parse {bad!r} ({reason}); quote values with special characters"
        )
    key = getattr(exc.__cause__, "full_key", None)
    if key and str(exc).startswith("Could not override"):
        return _unknown(key, hydra, command)
    lines = [s.strip() for s in str(exc).splitlines()]
    return PoolbenchError("; ".join(s for s in lines if s and "hydra.cc" not in s))


def _unparsable(overrides: list[str]) -> str | None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for override in overrides:
        try:
            parser.parse_overrides([override])
        except Exception:
            return override
    return None


def _unknown(key: str, hydra, command: TrainCommand) -> PoolbenchError:
    """``unknown key trainer.max_epoch; did you mean trainer.max_epochs?``"""
    from hydra.types import RunMode

    mode = RunMode.MULTIRUN if command.multirun else RunMode.RUN
    return unknown_override(
        key,
        command.overrides,
        lambda args: hydra.compose_config(command.config_name, args, run_mode=mode),
    )
