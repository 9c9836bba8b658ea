"""``poolbench eval <kind> pooler=… [overrides]``: run one evaluation over poolers.

Each kind has ``conf/eval/<kind>.yaml``: ``config`` lists the overrides of the
main config that set the evaluation up (applied before the user's own), and
``settings`` the evaluation's own keys, changed with ``eval.<key>=value``;
``per_pooler`` optional extra overrides for single poolers.
``pooler=`` takes one name, a comma list, or ``all`` (the default: every
registered pooler). Rows go to ``<results.dir>/evaluations.csv``; a table is
printed and figures land in ``<results.dir>/figures/``.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from poolbench.errors import PoolbenchError, RunFailure
from poolbench.evaluation.rows import KINDS, EvalRow, EvalStore
from poolbench.hydra_app import CONF_DIR, check_group_overrides, compose_checked
from poolbench.report.console import table_console
from poolbench.results.row import utc_now

USAGE = """usage: poolbench eval <kind> [pooler=NAME[,NAME…]|all] [eval.KEY=V] [key=V…]

kinds:
  expressiveness  train 2 GIN → pool(0.1) → GIN → sum → MLP on the EXPWL1-style
                  set; accuracy and the three expressiveness conditions
  autoencoder     MP → pool → lift → MP → reconstruct coordinates of point clouds
  spectral        MP + pool trained for spectral similarity (Loukas 2019)

e.g. poolbench eval expressiveness pooler=mincut,topk trainer.max_epochs=100
     poolbench eval autoencoder pooler=all eval.steps=300
"""


def load_eval_conf(kind: str) -> DictConfig:
    return OmegaConf.load(CONF_DIR / "eval" / f"{kind}.yaml")


def split_args(argv: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(pooler names, ``eval.`` settings, main-config overrides)."""
    poolers, settings, overrides = ["all"], [], []
    for arg in argv:
        if arg.startswith("pooler="):
            poolers = [p for p in arg.split("=", 1)[1].split(",") if p]
        elif arg.startswith("eval."):
            settings.append(arg[len("eval.") :])
        elif "=" in arg and not arg.startswith("-"):
            overrides.append(arg)
        else:
            raise PoolbenchError(f"cannot read argument {arg!r}; expected key=value")
    return poolers, settings, overrides


def resolve_poolers(names: list[str]) -> list[str]:
    if names == ["all"]:
        from poolbench.pooling.registry import available

        return available()
    check_group_overrides([f"pooler={n}" for n in names])
    return names


def merge_settings(defaults: DictConfig, dotlist: list[str]) -> DictConfig:
    from poolbench.validation.values import unknown_key

    for item in dotlist:
        key = item.split("=", 1)[0].split(".", 1)[0]
        if key not in defaults:
            raise unknown_key("eval", key, list(defaults))
    OmegaConf.set_struct(defaults, True)  # a misspelled eval key is an error
    try:
        merged = OmegaConf.merge(defaults, OmegaConf.from_dotlist(dotlist))
    except Exception as exc:
        reason = str(exc).splitlines()[0]
        raise PoolbenchError(
            f"unknown or bad eval setting ({reason}); known: {', '.join(defaults)}"
        ) from None
    check_setting_types(defaults, merged)
    return merged


def check_setting_types(defaults: DictConfig, merged: DictConfig) -> None:
    """Each setting the type of its default (the YAML's values are untyped, so
    ``eval.steps=abc`` would otherwise reach the evaluation as a string)."""
    from poolbench.validation.values import check_value

    given = OmegaConf.to_container(merged, resolve=True)
    for key, default in OmegaConf.to_container(defaults, resolve=True).items():
        if isinstance(default, list):  # e.g. graphs: [grid, ring]
            kinds = {type(v) for v in default}
            annotation = list[kinds.pop()] if len(kinds) == 1 else list
        else:
            annotation = type(default)
        check_value(f"eval.{key}", given[key], annotation)


def runner_of(kind: str):
    if kind == "expressiveness":
        from poolbench.evaluation.expressiveness import run_expressiveness

        return run_expressiveness
    if kind == "autoencoder":
        from poolbench.evaluation.autoencoder import run_autoencoder

        return run_autoencoder
    from poolbench.evaluation.spectral import run_spectral

    return run_spectral


def failed_row(kind: str, pooler: str, cfg: DictConfig, exc: Exception) -> EvalRow:
    status = exc.status if isinstance(exc, RunFailure) else "failed"
    if "out of memory" in str(exc).lower():
        status = "oom"
    return EvalRow(
        kind=kind,
        pooler=pooler,
        graph="",
        seed=int(cfg.seed),
        config_hash="",
        started_at=utc_now(),
        error=f"{type(exc).__name__}: {exc}".replace("\n", " ")[:500],
        status=status,
    )


def eval_command(argv: list[str]) -> None:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return
    kind, rest = argv[0], argv[1:]
    if kind not in KINDS:
        raise PoolbenchError(
            f"unknown evaluation {kind!r}; use one of {', '.join(KINDS)}"
        )
    conf = load_eval_conf(kind)
    names, setting_args, overrides = split_args(rest)
    settings = merge_settings(conf.settings, setting_args)
    poolers = resolve_poolers(names)  # names before torch loads (seconds)
    if "graphs" in settings:
        from poolbench.data.point_clouds import point_cloud

        for graph in settings.graphs:
            point_cloud(graph)  # an unknown name fails here, before any row
    slow = conf.get("per_pooler") or {}
    # Compose once up front so bad overrides fail before any work or row; the
    # user's overrides come last and win.
    configs = {
        name: compose_checked(
            [*conf.config, *slow.get(name, []), *overrides, f"pooler={name}"]
        )
        for name in poolers
    }
    from poolbench.validation.config import check_eval_config

    for cfg in configs.values():  # every config before the first pooler trains
        check_eval_config(cfg, settings, dataset=kind == "expressiveness")
    from poolbench.training.device import set_threads

    first = next(iter(configs.values()))
    set_threads(first.trainer.threads)
    store = EvalStore(first.results.dir)
    run = runner_of(kind)
    console = table_console(stderr=True)
    evaluated: set[str] = set()  # the graphs this command's figures are of
    for name, cfg in configs.items():
        console.print(f"[bold]eval {kind}[/]: {name}")
        try:
            rows = run(cfg, settings)
        except PoolbenchError:
            raise
        except Exception as exc:  # recorded as a failed row; the other poolers go on
            rows = [failed_row(kind, name, cfg, exc)]
        for row in rows:
            store.append(row)
            evaluated.add(row.graph)
            console.print(f"  {row.graph or '-'}: {row.status} {row.error}".rstrip())
    from poolbench.evaluation.report import print_kind, render_figures

    results_dir = Path(first.results.dir)
    print_kind(store.latest(), kind, table_console())
    for path in render_figures(results_dir, kind, evaluated):
        console.print(f"figure: {path}")
