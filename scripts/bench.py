"""Run a benchmark preset (poolers × datasets) as one Hydra multirun, then the table.

Prints the job list and the run count first (with what an earlier, interrupted
sweep already finished) and the projected wall time (see
:mod:`poolbench.bench.projection`; ``--no-project`` skips the short calibration
it needs), shows overall progress while the multirun goes, and ends with
``poolbench table`` restricted to the preset and the real wall time.
Rerunning resumes.

    python scripts/bench.py smoke                  # minutes: a few poolers, MUTAG
    python scripts/bench.py tu --jobs 8            # every pooler × 9 TU sets, CV
    python scripts/bench.py regression             # every pooler × ESOL, FreeSolv
    python scripts/bench.py node                   # U-Net, each pooler, Cora, CiteSeer
    python scripts/bench.py community              # clustering poolers × 4 graphs
    python scripts/bench.py synthetic --dry-run    # only print the plan
    python scripts/bench.py node --poolers topk --datasets cora   # a part of it
    python scripts/bench.py smoke -- trainer.max_epochs=20   # extra overrides
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TU_SETS = [
    "mutag",
    "proteins",
    "nci1",
    "dd",
    "enzymes",
    "imdb_binary",
    "imdb_multi",
    "collab",
    "reddit_binary",
]


@dataclass
class Preset:
    # None: every registered pooler; "clustering": those the community task
    # takes (a clustering objective, or a clustering baseline)
    poolers: list[str] | str | None
    datasets: list[str]
    overrides: list[str] = field(default_factory=list)
    launcher: str = "basic"


PRESETS = {
    "smoke": Preset(
        ["none", "topk", "mincut", "graclus"],
        ["mutag"],
        [
            "protocol=holdout",
            "protocol.runs=3",
            "trainer.max_epochs=100",
            "trainer.patience=20",
        ],
    ),
    "synthetic": Preset(
        None, ["synth_easy", "synth_hard"], ["protocol=cv10"], "joblib"
    ),
    "tu": Preset(None, TU_SETS, ["protocol=cv10"], "joblib"),
    "regression": Preset(None, ["esol", "freesolv"], ["protocol=cv10"], "joblib"),
    "node": Preset(None, ["cora", "citeseer"], ["task=node"], "joblib"),
    "community": Preset(
        "clustering", ["cora", "citeseer", "sbm", "lfr"], ["task=community"], "joblib"
    ),
}


@dataclass
class Job:
    pooler: str
    dataset: str
    keys: set[tuple[str, int, int]]  # (config_hash, fold, run) of its final runs
    cfg: object = None  # its composed config


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def preset_poolers(preset: Preset) -> list[str]:
    """The preset's pooler names, its pooler families resolved."""
    from poolbench.pooling.registry import discover

    if preset.poolers == "clustering":
        return sorted(
            name
            for name, cls in discover().items()
            if cls.can_cluster or cls.clustering_baseline
        )
    return list(preset.poolers or sorted(discover()))


def narrow(parser, what: str, asked: str | None, allowed: list[str]) -> list[str]:
    """``--poolers``/``--datasets``: a subset of the preset's, else one line."""
    if asked is None:
        return allowed
    names = [n.strip() for n in asked.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        parser.error(
            f"--{what} {asked!r}: not in this preset; choose from {', '.join(allowed)}"
        )
    return names


def plan(preset: Preset, extra: list[str]) -> list[Job]:
    """Compose every job's config to learn its run keys, as the runner will."""
    from hydra import compose, initialize_config_dir

    from poolbench.experiment import config_hash
    from poolbench.hydra_app import CONF_DIR

    poolers = preset_poolers(preset)
    jobs = []
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        for dataset in preset.datasets:
            for pooler in poolers:
                overrides = [f"pooler={pooler}", f"dataset={dataset}"]
                cfg = compose("config", overrides=overrides + preset.overrides + extra)
                h, p = config_hash(cfg), cfg.protocol
                keys = {(h, f, r) for f in range(p.folds) for r in range(p.runs)}
                jobs.append(Job(pooler, dataset, keys, cfg))
    return jobs


def unavailable(dataset: str) -> str | None:
    """Why a TU set cannot load offline, or None (synthetic sets always can)."""
    from hydra import compose, initialize_config_dir

    from poolbench.hydra_app import CONF_DIR

    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"dataset={dataset}"])
    if not cfg.dataset._target_.endswith("load_tu"):
        return None
    name, mirror = cfg.dataset.name, cfg.data.mirror
    local = Path(cfg.data.root) / "TUDataset" / name / "raw" / f"{name}_A.txt"
    if not mirror or local.is_file():
        return None
    from poolbench.data.tu_raw import mirror_raw

    if mirror_raw(Path(mirror), name) is not None:
        return None
    return (
        f"not in the mirror {mirror}; add it there, or run with "
        "POOLBENCH_DATA_MIRROR= (empty) to let PyG download it"
    )


def measure_within(exp, device, cap_sec: float):
    """measure_sec_per_epoch, given up after ``cap_sec`` (SIGALRM). The alarm
    is handled at the next Python step, so one long torch call (NDP's dense
    solve on a big graph) finishes first and may overrun the cap."""
    import signal

    from poolbench.bench.projection import JobCost, measure_sec_per_epoch

    def give_up(*_):
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, cap_sec)
    try:
        return measure_sec_per_epoch(exp, device)
    except TimeoutError:
        return JobCost(exp.pooler_name, exp.dataset.name, 0, 0.0, "over_cap")
    except Exception as exc:  # noqa: BLE001 (NaN, oom, a pooler's error)
        # the sweep writes such a run as a failed row and goes on; so does this
        print(
            f"[bench] calibration of {exp.pooler_name} × {exp.dataset.name} failed "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
            file=sys.stderr,
        )
        return JobCost(exp.pooler_name, exp.dataset.name, 0, 0.0, "failed")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def job_costs(jobs: list[Job], done: set, store_dir: str, log, cap_sec: float) -> list:
    """Each unfinished job's cost per epoch: from the store, else measured."""
    from poolbench.bench.projection import JobCost
    from poolbench.experiment import Experiment, load_dataset
    from poolbench.results.store import ResultsStore
    from poolbench.training.device import resolve_device, set_threads

    set_threads(1)  # as each sweep job runs (trainer.threads=1)
    frame = ResultsStore(store_dir).latest()
    datasets, costs = {}, []
    for job in jobs:
        todo = len(job.keys - done)
        if not todo:
            continue
        config_hash = next(iter(job.keys))[0]
        mine = frame[(frame.config_hash == config_hash) & (frame.status == "ok")]
        if not frame.empty and len(mine):
            cost = JobCost(job.pooler, job.dataset, 0,
                           float(mine.sec_per_epoch.mean()), "store",
                           float(mine.epochs.mean()))  # fmt: skip
        else:
            name = job.cfg.dataset.name if "name" in job.cfg.dataset else job.dataset
            if name not in datasets:
                datasets[name] = load_dataset(job.cfg)
            exp = Experiment(job.cfg, datasets[name])
            start = time.perf_counter()
            cost = measure_within(exp, resolve_device(job.cfg.device), cap_sec)
            log(
                f"[bench] calibrated {job.pooler} × {job.dataset}: "
                f"{cost.sec_per_epoch:.3g} s/epoch ({cost.source}, "
                f"{time.perf_counter() - start:.1f} s)"
            )
        cost.runs = todo
        costs.append(cost)
    return costs


def print_projection(costs: list, cfg, n_jobs: int, calibration_sec: float):
    from omegaconf import OmegaConf

    from poolbench.bench.projection import format_duration, project
    from poolbench.tasks import make_task

    trainer = cfg.trainer
    task = make_task(OmegaConf.to_container(cfg.get("task") or {}), None)
    # without validation labels (community) nothing stops early: every run
    # trains all max_epochs
    patience = int(trainer.patience) if task.supervised else int(trainer.max_epochs)
    p = project(costs, patience, int(trainer.max_epochs), n_jobs)
    kinds = ("measured", "store", "oom", "untrained", "over_cap", "failed")
    sources = {s: sum(c.source == s for c in costs) for s in kinds}
    typical = ""
    if p.typical_sec is not None:
        typical = f"; typical {format_duration(p.typical_sec)} from stored runs"
    if task.supervised:
        span = (
            f"{format_duration(p.low_sec)} (every run stopping after "
            f"patience+1 = {trainer.patience + 1} epochs) to "
            f"{format_duration(p.high_sec)} (all {trainer.max_epochs} epochs)"
        )
    else:
        span = (
            f"{format_duration(p.high_sec)} (no early stopping in "
            f"{task.describe()}: every run trains all {trainer.max_epochs} epochs)"
        )
    print(f"[bench] projected wall time with {n_jobs} parallel jobs: {span}{typical}")
    precompute = sum(c.precompute_sec for c in costs)
    untrained = ""
    if sources["untrained"]:
        untrained = f", {sources['untrained']} untrained baselines (no epochs)"
    print(
        f"[bench] costs per epoch: {sources['measured']} jobs measured "
        f"({format_duration(calibration_sec)} of calibration, of which "
        f"{format_duration(precompute)} precomputing pooled graphs, now cached), "
        f"{sources['store']} from the store, {sources['oom']} will be oom rows"
        f"{untrained}"
    )
    over = [f"{c.pooler} × {c.dataset}" for c in costs if c.source == "over_cap"]
    if over:
        print(
            f"[bench] NOT in the projection ({len(over)} jobs whose calibration "
            f"took longer than the cap, precompute included): {', '.join(over)}; "
            "the projection is a lower bound"
        )
    failed = [f"{c.pooler} × {c.dataset}" for c in costs if c.source == "failed"]
    if failed:
        print(
            f"[bench] NOT in the projection ({len(failed)} jobs whose calibration "
            f"failed, said above; their runs will likely be failed rows): "
            f"{', '.join(failed)}"
        )
    known = [c for c in costs if c.source in ("measured", "store")]
    heavy = sorted(known, key=lambda c: -c.runs * c.sec_per_epoch)[:5]
    print(
        "[bench] heaviest: "
        + ", ".join(
            f"{c.pooler} × {c.dataset} {c.sec_per_epoch:.3g} s/epoch" for c in heavy
        )
    )
    return p


def watch(store_dir: Path, keys: set, stop: threading.Event) -> None:
    """Print overall progress whenever the store gains rows of this sweep."""
    from poolbench.results.store import ResultsStore

    store, last, stopped = ResultsStore(store_dir), -1, False
    while not stopped:
        stopped = stop.wait(5.0)  # one last count after the multirun ends
        frame = store.latest()
        if frame.empty:
            continue
        mine = frame[
            [
                (h, int(f), int(r)) in keys
                for h, f, r in zip(frame.config_hash, frame.fold, frame.run)
            ]
        ]
        done = int((mine.status == "ok").sum())
        failed = len(mine) - done
        if done + failed != last:
            last = done + failed
            print(
                f"[bench] progress: {done}/{len(keys)} runs ok, {failed} failed",
                file=sys.stderr,
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("preset", choices=sorted(PRESETS))
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides")
    parser.add_argument("--jobs", type=int, default=0, help="parallel jobs (joblib)")
    parser.add_argument("--launcher", help="hydra/launcher (default per preset)")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--dry-run", action="store_true", help="print the plan only")
    parser.add_argument("--poolers", help="comma list: only these of the preset's")
    parser.add_argument("--datasets", help="comma list: only these of the preset's")
    parser.add_argument(
        "--calibration-cap",
        type=float,
        default=120.0,
        help="seconds a job's calibration may take before it is left out (120)",
    )
    parser.add_argument(
        "--no-project",
        action="store_true",
        help="skip the wall-time projection (and its calibration epochs)",
    )
    args = parser.parse_args()

    from poolbench.results.store import ResultsStore
    from poolbench.training.device import usable_cores

    preset = PRESETS[args.preset]
    preset.datasets = narrow(parser, "datasets", args.datasets, preset.datasets)
    preset.poolers = narrow(parser, "poolers", args.poolers, preset_poolers(preset))
    skipped = {d: why for d in preset.datasets if (why := unavailable(d))}
    preset.datasets = [d for d in preset.datasets if d not in skipped]
    extra = [*args.overrides, f"results.dir={args.results_dir}"]
    jobs = plan(preset, extra)
    keys = set().union(*(job.keys for job in jobs))
    done = ResultsStore(args.results_dir).completed() & keys
    launcher = args.launcher or preset.launcher
    n_jobs = args.jobs or usable_cores()
    poolers = sorted({job.pooler for job in jobs})
    print(
        f"[bench] {args.preset}: {plural(len(poolers), 'pooler')} × "
        f"{plural(len(preset.datasets), 'dataset')} ({', '.join(preset.datasets)})"
    )
    print(f"[bench] poolers: {', '.join(poolers)}")
    for dataset, why in skipped.items():
        print(f"[bench] SKIPPED dataset {dataset}: {why}")
    print(
        f"[bench] {len(jobs)} jobs, {len(keys)} final runs "
        f"({len(done)} already done, {len(keys) - len(done)} to run); launcher "
        f"{launcher}"
        + (f" with {n_jobs} parallel jobs" if launcher == "joblib" else "")
    )
    command = [
        sys.executable,
        "-m",
        "poolbench",
        "train",
        "-m",
        f"pooler={','.join(poolers)}",
        f"dataset={','.join(preset.datasets)}",
        *preset.overrides,
        *extra,
    ]
    if launcher != "basic":
        command.append(f"hydra/launcher={launcher}")
    if launcher == "joblib":
        command.append(f"hydra.launcher.n_jobs={n_jobs}")
    print("[bench] $ " + shlex.join(["poolbench", *command[3:]]), flush=True)
    projection = None
    if jobs and not args.no_project:
        start = time.perf_counter()
        costs = job_costs(
            jobs,
            done,
            args.results_dir,
            lambda m: print(m, file=sys.stderr),
            args.calibration_cap,
        )
        parallel = n_jobs if launcher == "joblib" else 1
        projection = print_projection(
            costs, jobs[0].cfg, parallel, time.perf_counter() - start
        )
    if args.dry_run or not jobs:
        return 0
    sweep_start = time.perf_counter()
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch, args=(Path(args.results_dir), keys, stop), daemon=True
    )
    watcher.start()
    code = subprocess.call(command, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    stop.set()
    watcher.join()
    if code != 0:
        print(f"[bench] the multirun exited with {code}; rerun to resume", flush=True)
    protocol = next(o for o in preset.overrides if o.startswith("protocol="))
    # dataset settings of its own rename a generated set (SBM-nodes500), so
    # the preset's config names would match none of its rows
    renamed = any(o.lstrip("+~").startswith("dataset.") for o in args.overrides)
    datasets = [] if renamed else [f"dataset={','.join(preset.datasets)}"]
    table = [
        sys.executable,
        "-m",
        "poolbench",
        "table",
        f"pooler={','.join(poolers)}",
        *datasets,
        protocol,
        f"--results-dir={args.results_dir}",
    ]
    print("[bench] $ " + shlex.join(["poolbench", *table[3:]]), flush=True)
    table_code = subprocess.call(table)
    from poolbench.bench.projection import format_duration

    real = time.perf_counter() - sweep_start
    projected = ""
    if projection is not None:
        projected = (
            f" (projected {format_duration(projection.low_sec)} to "
            f"{format_duration(projection.high_sec)})"
        )
    print(f"[bench] real wall time: {format_duration(real)}{projected}")
    return table_code or code


if __name__ == "__main__":
    raise SystemExit(main())
