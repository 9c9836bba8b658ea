"""Run a benchmark preset (poolers × datasets) as one Hydra multirun, then the table.

Prints the job list and the run count first (with what an earlier, interrupted
sweep already finished), shows overall progress while the multirun goes, and
ends with ``poolbench table`` restricted to the preset. Rerunning resumes.

    python scripts/bench.py smoke                  # minutes: a few poolers, MUTAG
    python scripts/bench.py tu --jobs 8            # every pooler × 9 TU sets, CV
    python scripts/bench.py synthetic --dry-run    # only print the plan
    python scripts/bench.py smoke -- trainer.max_epochs=20   # extra overrides
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
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
    poolers: list[str] | None  # None: every registered pooler
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
}


@dataclass
class Job:
    pooler: str
    dataset: str
    keys: set[tuple[str, int, int]]  # (config_hash, fold, run) of its final runs


def plan(preset: Preset, extra: list[str]) -> list[Job]:
    """Compose every job's config to learn its run keys, as the runner will."""
    from hydra import compose, initialize_config_dir

    from poolbench.experiment import config_hash
    from poolbench.hydra_app import CONF_DIR
    from poolbench.pooling.registry import discover

    poolers = preset.poolers or sorted(discover())
    jobs = []
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        for dataset in preset.datasets:
            for pooler in poolers:
                overrides = [f"pooler={pooler}", f"dataset={dataset}"]
                cfg = compose("config", overrides=overrides + preset.overrides + extra)
                h, p = config_hash(cfg), cfg.protocol
                keys = {(h, f, r) for f in range(p.folds) for r in range(p.runs)}
                jobs.append(Job(pooler, dataset, keys))
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
    for raw in (Path(mirror) / name / "raw", Path(mirror) / "TUDataset" / name / "raw"):
        if (raw / f"{name}_A.txt").is_file():
            return None
    return (
        f"not in the mirror {mirror}; add it there, or run with "
        "POOLBENCH_DATA_MIRROR= (empty) to let PyG download it"
    )


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
    args = parser.parse_args()

    from poolbench.results.store import ResultsStore
    from poolbench.training.device import usable_cores

    preset = PRESETS[args.preset]
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
        f"[bench] {args.preset}: {len(poolers)} poolers × {len(preset.datasets)} "
        f"datasets ({', '.join(preset.datasets)})"
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
    print("[bench] $ " + " ".join(command[1:]), flush=True)
    if args.dry_run or not jobs:
        return 0
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
    table = [
        sys.executable,
        "-m",
        "poolbench",
        "table",
        f"pooler={','.join(poolers)}",
        f"dataset={','.join(preset.datasets)}",
        protocol,
        f"--results-dir={args.results_dir}",
    ]
    print("[bench] $ " + " ".join(table[1:]), flush=True)
    return subprocess.call(table) or code


if __name__ == "__main__":
    raise SystemExit(main())
