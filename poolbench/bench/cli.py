"""``poolbench bench``: epoch throughput, parallel sweeps and cost scaling."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from poolbench.arguments import ArgumentParser
from poolbench.errors import PoolbenchError
from poolbench.report.console import table_console

DESCRIPTION = """\
Speed and memory benchmarks, on the CPU, one process, same seeds.

default: a plain PyG training loop (DataLoader shuffle, batch 32, torch's
  default threads, then tuned to 1 thread) against poolbench's path (packed
  fast data, precomputed pooling, 1 thread), same model, data, epochs, loss
  and Adam, for each dataset x pooler. Prints sec/epoch, speedups, the
  overhead share (1 - forward+backward+step over wall time) and peak memory.
  Graph-level datasets, classification or regression; a node-level one (one
  graph) is timed in its task by scripts/bench.py node or community.
--parallel: 8 runs as 1 job, as 2 jobs of 1 thread, and as 2 naive jobs with
  torch's default threads; prints sweep wall times, speedups and runs per
  minute. Where a GPU is visible (or with --device cuda): 1 against
  --concurrency jobs sharing GPU 0, each capped to its share of the memory;
  without one it falls back to the CPU settings.
--scaling: time and memory of one forward+backward of every registered pooler
  against N (10^2..10^5) on Erdos-Renyi and Barabasi-Albert graphs; writes
  scaling.csv and scaling.png to --out.
--peer tgp: for every pooler both libraries have, tgp's pooler in its plain
  training loop against poolbench's runner: same data, split, model shape
  (model.blocks=[1,1]), batch size and epochs, a validation pass per epoch on
  both sides, 1 thread each, alternated and repeated (--repeats); prints the
  median ratio per pooler and the geometric means. Graph classification
  datasets only. Needs tgp (make install-reference). --quick is the CI-sized run.
--versus none: each pooler in poolbench's runner against the same runner
  with pooler=none (same data, split, default model, epochs, 1 thread),
  alternated and repeated (--repeats); prints seconds per epoch and the
  median ratio "x none" (default poolers: the soft-clustering ones).

Timings depend on what else runs on the machine: state it with the numbers."""

EPILOG = """examples:
  poolbench bench
  poolbench bench --datasets mutag --poolers topk --epochs 3 --json
  poolbench bench --parallel
  poolbench bench --scaling --max-nodes 10000 --out docs/scaling
  poolbench bench --peer tgp --datasets mutag,proteins --repeats 2
  poolbench bench --peer tgp --quick --json
  poolbench bench --versus none --datasets proteins --repeats 3"""


# --versus none's default: the learned dense poolers (not the random control)
SOFT_CLUSTERING = "mincut,dmon,justbalance,diffpool,hosc,acc,bnpool"


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = ArgumentParser(
        prog="poolbench bench",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--parallel", action="store_true", help="measure parallel sweeps")
    mode.add_argument("--scaling", action="store_true", help="measure cost vs N")
    mode.add_argument("--peer", choices=["tgp"], help="time against a peer library")
    mode.add_argument(
        "--versus", choices=["none"], help="time each pooler against no pooling"
    )
    parser.add_argument("--datasets", default="mutag,proteins", help="comma list")
    parser.add_argument(
        "--poolers",
        help="comma list (default mincut,topk,graclus; --peer: every shared one)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        help="epochs per path, the first a warm-up (default 10; --peer: 5)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON rows only")
    group = parser.add_argument_group("--parallel")
    group.add_argument("--runs", type=int, default=8, help="runs in the sweep")
    group.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto"
    )
    group.add_argument(
        "--concurrency", type=int, default=4, help="jobs sharing one GPU (4)"
    )
    group = parser.add_argument_group("--peer and --versus")
    group.add_argument("--repeats", type=int, default=2, help="median over repeats")
    group.add_argument(
        "--max-side-sec",
        type=float,
        default=60.0,
        help="a side stops after this many seconds (at least one timed epoch)",
    )
    group.add_argument(
        "--quick",
        action="store_true",
        help="CI-sized: MUTAG, mincut,topk,kmis, 3 epochs, 1 repeat",
    )
    group = parser.add_argument_group("--scaling")
    group.add_argument("--max-nodes", type=int, default=100_000)
    group.add_argument("--mem-cap-mb", type=float, default=2048.0)
    group.add_argument("--time-cap-sec", type=float, default=5.0)
    group.add_argument("--out", default="docs/scaling", help="folder for CSV and plot")
    args = parser.parse_args(argv)
    if args.quick:
        if not args.peer:
            raise PoolbenchError("--quick goes with --peer tgp")
        args.datasets, args.poolers = "mutag", "mincut,topk,kmis"
        args.epochs, args.repeats = 3, 1
    if args.epochs is None:
        args.epochs = 5 if args.peer else 6 if args.versus else 10
    if args.poolers is None and args.versus:
        args.poolers = SOFT_CLUSTERING
    if args.poolers is None and not args.peer:
        args.poolers = "mincut,topk,graclus"
    if args.epochs < 2:
        raise PoolbenchError("--epochs must be ≥ 2 (the first is a warm-up)")
    if args.repeats < 1:
        raise PoolbenchError("--repeats must be ≥ 1")
    if args.runs < 2:
        raise PoolbenchError("--runs must be ≥ 2")
    if args.concurrency < 2:
        raise PoolbenchError("--concurrency must be ≥ 2")
    if not args.scaling:  # --scaling times every registered pooler itself
        from poolbench.hydra_app import check_choices

        check_choices("dataset", _names(args.datasets))
        check_choices("pooler", _names(args.poolers or ""))
        _check_dataset_kinds(_names(args.datasets), args.peer)
    if args.parallel and args.device == "cuda":
        from poolbench.training.device import visible_gpus

        if not visible_gpus():
            raise PoolbenchError(
                "--device cuda asked for but no GPU is visible; "
                "use --device auto or cpu"
            )
    if args.max_nodes < 100:
        raise PoolbenchError("--max-nodes must be ≥ 100")
    return args


def dataset_facts(name: str) -> tuple[str, str]:
    """(``graphs`` or ``nodes``, ``classification`` or ``regression``): what
    ``conf/dataset/<name>.yaml``'s loader declares, without loading any data."""
    from hydra.utils import get_method
    from omegaconf import OmegaConf

    from poolbench.data import loader_facts
    from poolbench.hydra_app import CONF_DIR

    loader = get_method(OmegaConf.load(CONF_DIR / "dataset" / f"{name}.yaml")._target_)
    return loader_facts(loader)


def _check_dataset_kinds(datasets: list[str], peer: str | None) -> None:
    """Every path here batches many graphs (graph classification or
    regression); tgp's loop is graph classification only."""
    for name in datasets:
        kind, target = dataset_facts(name)
        if kind == "nodes":
            # the presets of scripts/bench.py that hold it (PRESETS there)
            node = name in ("cora", "citeseer")
            preset = "node" if node else "community"
            raise PoolbenchError(
                f"{name} is one graph with node labels, and poolbench bench times "
                f"graph-level datasets; time {name} in its task with `python "
                f"scripts/bench.py {preset} --datasets {name} --dry-run`"
                + (" (or community)" if node else "")
            )
        if peer and target == "regression":
            raise PoolbenchError(
                f"--peer {peer} times graph classification only (tgp's loop trains "
                f"with cross-entropy) and {name} is a regression set; time it with "
                f"`poolbench bench --datasets {name}` or `--versus none`"
            )


def bench_command(argv: list[str]) -> None:
    args = parse_args(argv)
    console = Console(stderr=True)
    if args.parallel:
        _parallel(args, console)
    elif args.scaling:
        _scaling(args, console)
    elif args.peer:
        _peer(args, console)
    elif args.versus:
        _versus(args, console)
    else:
        _epochs(args, console)


def _epochs(args, console: Console) -> None:
    from poolbench.bench.epochs import geomean, measure_epochs
    from poolbench.bench.setup import build_experiment

    details = []
    for dataset in _names(args.datasets):
        for pooler in _names(args.poolers):
            exp = build_experiment(dataset, pooler, [f"seed={args.seed}"])
            console.print(f"timing {exp.dataset.name} × {pooler} …", highlight=False)
            details.append(measure_epochs(exp, args.epochs, args.seed))
    if args.json:
        rows = [
            {
                **asdict(d.row),
                "tuned_overhead_share": d.tuned_overhead_share,
                "precompute_sec": d.precompute_sec,
                "plain_peak_mem_mb": d.plain_peak_mem_mb,
            }
            for d in details
        ]
        print(json.dumps(rows, indent=1))
        return
    table = Table(title=f"poolbench bench: seconds per epoch ({args.epochs} epochs)")
    for col in (
        "dataset", "pooler", f"PyG default ({details[0].threads_default} thr)",
        "PyG tuned (1 thr)", "poolbench", "× default", "× tuned",
        "overhead poolbench", "overhead PyG tuned", "precompute s", "peak MiB pb / PyG",
    ):  # fmt: skip
        table.add_column(col, justify="left" if col == "pooler" else "right")
    for d in details:
        r = d.row
        table.add_row(
            r.dataset, r.pooler, f"{r.default_sec_per_epoch:.4f}",
            f"{r.tuned_sec_per_epoch:.4f}", f"{r.poolbench_sec_per_epoch:.4f}",
            f"{r.speedup_vs_default:.2f}", f"{r.speedup_vs_tuned:.2f}",
            f"{100 * r.overhead_share:.0f} %", f"{100 * d.tuned_overhead_share:.0f} %",
            f"{d.precompute_sec:.2f}",
            f"{r.peak_mem_mb:.0f} / {d.plain_peak_mem_mb:.0f}",
        )  # fmt: skip
    table_console().print(table)
    tuned = [d.row.speedup_vs_tuned for d in details]
    default = [d.row.speedup_vs_default for d in details]
    table_console().print(
        f"geomean speedup vs tuned {geomean(tuned):.2f}× (min {min(tuned):.2f}×), "
        f"vs default {geomean(default):.2f}×; max overhead share "
        f"{100 * max(d.row.overhead_share for d in details):.0f} %",
        highlight=False,
    )


def _peer(args, console: Console) -> None:
    from poolbench.bench.peer import measure_peer, summary

    poolers = _names(args.poolers) if args.poolers else None
    rows, skipped = measure_peer(
        _names(args.datasets),
        poolers,
        args.epochs,
        args.repeats,
        args.seed,
        args.max_side_sec,
        lambda text: console.print(f"timing {text} …", highlight=False),
    )
    for s in skipped:
        console.print(f"skipped {s.dataset} × {s.pooler}: {s.reason}", highlight=False)
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=1))
        return
    table = Table(
        title=f"poolbench vs tgp: seconds per epoch, median of {args.repeats} "
        f"repeats ({args.epochs} epochs, first a warm-up)"
    )
    for col in (
        "dataset", "pooler", "tgp s/ep", "poolbench s/ep", "× tgp", "per repeat",
        "parameter-free", "precompute s",
    ):  # fmt: skip
        table.add_column(col, justify="left" if col == "pooler" else "right")
    for r in rows:
        table.add_row(
            r.dataset, r.pooler, f"{r.tgp_sec_per_epoch:.4f}",
            f"{r.poolbench_sec_per_epoch:.4f}", f"{r.speedup_vs_tgp:.2f}",
            " ".join(f"{x:.2f}" for x in r.ratios),
            "yes" if r.parameter_free else "", f"{r.poolbench_precompute_sec:.2f}",
        )  # fmt: skip
    table_console().print(table)
    for line in summary(rows):
        table_console().print(line, highlight=False)


def _versus(args, console: Console) -> None:
    from poolbench.bench.versus import measure_versus

    rows = measure_versus(
        _names(args.datasets),
        _names(args.poolers),
        args.epochs,
        args.repeats,
        args.seed,
        lambda text: console.print(f"timing {text} …", highlight=False),
    )
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=1))
        return
    table = Table(
        title=f"poolbench: each pooler against pooler=none, seconds per epoch, "
        f"median of {args.repeats} repeats ({args.epochs} epochs, first a warm-up)"
    )
    for col in ("dataset", "pooler", "s/epoch", "none s/epoch", "× none", "per repeat"):
        table.add_column(col, justify="left" if col == "pooler" else "right")
    for r in rows:
        table.add_row(
            r.dataset, r.pooler, f"{r.sec_per_epoch:.4f}",
            f"{r.none_sec_per_epoch:.4f}", f"{r.times_none:.2f}",
            " ".join(f"{x:.2f}" for x in r.ratios),
        )  # fmt: skip
    table_console().print(table)


def _parallel(args, console: Console) -> None:
    from poolbench.bench.parallel import measure_parallel

    dataset, pooler = _names(args.datasets)[0], _names(args.poolers)[0]
    console.print(
        f"{args.runs} runs of {dataset} × {pooler}, {args.epochs} epochs each …",
        highlight=False,
    )
    rows = measure_parallel(
        dataset, pooler, args.runs, args.epochs, args.device, args.concurrency
    )
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=1))
        return
    table = Table(title=f"parallel sweep: {args.runs} runs of {dataset} × {pooler}")
    for col in (
        "setting", "device", "jobs", "threads/job", "wall s", "runs/min",
        "speedup vs 1 job",
    ):  # fmt: skip
        table.add_column(col, justify="left" if col == "setting" else "right")
    for r in rows:
        table.add_row(
            r.setting, r.device, str(r.jobs), r.threads_per_job, f"{r.wall_sec:.2f}",
            f"{r.runs_per_min:.1f}", f"{r.speedup_vs_1_job:.2f}",
        )  # fmt: skip
    table_console().print(table)


def _scaling(args, console: Console) -> None:
    from poolbench.bench.scaling import measure_scaling, save_scaling

    def progress(name, points):
        ok = [p for p in points if p.status == "ok"]
        top = max((p.nodes for p in ok), default=0)
        stops = sorted({p.status for p in points} - {"ok"})
        console.print(
            f"{name:>18}: up to N={top:,}"
            + (f" ({', '.join(stops)})" if stops else ""),
            highlight=False,
        )

    points = measure_scaling(
        args.max_nodes, args.mem_cap_mb, args.time_cap_sec, None, progress
    )
    csv_path, png_path = save_scaling(points, Path(args.out))
    if args.json:
        print(json.dumps([asdict(p) for p in points], indent=1))
    console.print(f"wrote {csv_path} and {png_path}", highlight=False)
