"""``poolbench train``: one composed config in, result rows and a summary out."""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
from functools import cache, partial
from pathlib import Path

import pandas as pd
import torch
import torch_geometric
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

import poolbench
from poolbench.errors import PoolbenchError, StoreWriteError
from poolbench.experiment import Experiment, config_hash, config_identity, load_dataset
from poolbench.report.console import table_console
from poolbench.report.summary import mean_std_text, summarize
from poolbench.report.tables import printed_decimals, table_protocols
from poolbench.results.claims import FoldClaims
from poolbench.results.configs import save_identity
from poolbench.results.row import METRIC_FAMILIES, METRICS, distinct_devices
from poolbench.results.store import CsvStore, ResultsStore, completed_runs
from poolbench.results.wandb_sink import WandbSink
from poolbench.training.device import (
    device_label,
    pin_job_to_gpu,
    resolve_device,
    run_threads,
    set_threads,
)
from poolbench.training.progress import Hooks, ProgressHooks
from poolbench.training.protocol import FailFast, ProtocolConfig, run_protocol
from poolbench.training.selection import (
    CandidateRow,
    SelectionLog,
    candidates_done,
    stored_candidates,
)
from poolbench.training.signals import Interrupted
from poolbench.validation.config import check_config

EXIT_RUN_FAILED = 1


def place_sweep_job(device: str) -> str:
    """In a multirun: the job's GPU and the parallel-jobs count its threads divide.

    Runs before anything touches CUDA. ``POOLBENCH_PARALLEL_JOBS`` comes from
    the joblib launcher's ``n_jobs`` (-1: one job per core) unless already set.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return device
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return device
    n_jobs = hydra_cfg.launcher.get("n_jobs")
    if n_jobs is not None and "POOLBENCH_PARALLEL_JOBS" not in os.environ:
        jobs = int(n_jobs) if int(n_jobs) > 0 else (os.cpu_count() or 1)
        os.environ["POOLBENCH_PARALLEL_JOBS"] = str(jobs)
    return pin_job_to_gpu(int(hydra_cfg.job.num), device)


@cache
def git_commit() -> str:
    """The commit of the poolbench source tree; with local edits ``+dirty.``
    and 8 hex digits of the diff, so rows made by two states of uncommitted
    code (a pooler being written) are told apart, and a cell mixing them is
    marked (§) like one mixing commits."""
    src = Path(poolbench.__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=src,
            capture_output=True,
            text=True,
            timeout=10,
        )
        if head.returncode != 0:
            return ""
        commit = head.stdout.strip()[:12]
        edits = _local_edits(src.parent)
        return f"{commit}+dirty.{edits}" if edits else commit
    except (OSError, subprocess.TimeoutExpired):
        return ""


# what a run's numbers come from: the package and its configs (an edit to
# the README or the tests is not another version of the code)
CODE_PATHS = ("poolbench", "conf")


def _local_edits(root: Path) -> str:
    """8 hex digits of the uncommitted changes to :data:`CODE_PATHS`, new
    untracked files included (a pooler being written); "" without any."""

    def git(*args) -> bytes:
        out = subprocess.run(
            ["git", *args, "--", *CODE_PATHS], cwd=root, capture_output=True,
            timeout=10,
        )  # fmt: skip
        return out.stdout if out.returncode == 0 else b""

    digest = hashlib.sha1(git("diff", "HEAD", "--no-ext-diff"))
    untracked = sorted(git("ls-files", "-o", "--exclude-standard", "-z").split(b"\0"))
    for name in filter(None, untracked):
        digest.update(name)
        try:
            digest.update((root / name.decode()).read_bytes())
        except OSError:
            pass
    if digest.hexdigest() == hashlib.sha1(b"").hexdigest():
        return ""
    return digest.hexdigest()[:8]


def every_run_failed(cfgs: list[DictConfig]) -> str:
    """Why the command failed when no run of these configs ended ``ok``, else "".

    Reads each run's latest row, so runs finished earlier and skipped count.
    """
    wanted: dict[str, set[str]] = {}
    for cfg in cfgs:
        wanted.setdefault(str(cfg.results.dir), set()).add(config_hash(cfg))
    failed = []
    for directory, hashes in wanted.items():
        rows = ResultsStore(directory).latest()
        mine = rows[rows["config_hash"].isin(hashes)]
        if (mine["status"] == "ok").any():
            return ""
        failed += [(directory, r.status, r.error) for r in mine.itertuples()]
    if not failed:
        return ""
    directory, status, error = failed[0]
    return (
        f"every run failed ({len(failed)} runs; the first {status}: {error}); "
        f"status and error of each are in {directory}/results.csv"
    )


def print_summary(frame, console: Console, expected: int) -> None:
    """The experiment's scores (its task's metrics), counts and cost."""
    metric = frame["metric"].iloc[0] if len(frame) else "acc"
    family = [METRICS[m] for m in METRIC_FAMILIES[metric]]
    spread = frame["spread"].iloc[0] if len(frame) else "folds"
    table = Table(title=f"poolbench results (mean ± std over {spread})")
    columns = ["dataset", "pooler", *(m.label for m in family)]
    for col in columns + ["folds", "ok runs", "failed", "s/epoch", "peak MiB"]:
        table.add_column(
            col, no_wrap=True, justify="left" if col == "pooler" else "right"
        )
    for r in frame.itertuples():
        scores = []
        for m in family:
            mean, std = getattr(r, f"{m.name}_mean"), getattr(r, f"{m.name}_std")
            # the digits `poolbench table` prints: one number, one spelling
            scale = 100 if m.percent else 1
            scores.append(mean_std_text(mean, std, printed_decimals(m), scale))
        table.add_row(
            r.dataset,
            r.pooler,
            *scores,
            str(r.folds),
            f"{r.runs}/{expected}",
            str(r.failed),
            "—" if math.isnan(r.sec_per_epoch) else f"{r.sec_per_epoch:.4f}",
            "—" if math.isnan(r.peak_mem_mb) else f"{r.peak_mem_mb:.0f} {r.mem_kind}",
        )
    console.print(table)


def run_experiment(cfg: DictConfig) -> dict:
    """Run the protocol for one config; rows go to the store as runs finish."""
    device_name = place_sweep_job(cfg.device)
    # `poolbench train` checked this config already; a direct call is checked here
    check_config(cfg)
    # first: interop threads are fixed at first use; with fold workers the
    # parent's own runs get the workers' count
    set_threads(run_threads(cfg.trainer.threads, cfg.protocol.get("n_jobs", 1)))
    protocol = ProtocolConfig(**OmegaConf.to_container(cfg.protocol, resolve=True))
    device = resolve_device(device_name)
    dataset = load_dataset(cfg)
    exp = Experiment(cfg, dataset)
    exp.task.check(exp)  # e.g. a pooler that cannot cluster, K above N
    exp.splits()  # data that the protocol cannot split fails before any output
    _ = exp.trainer  # bad trainer, model or pooler settings fail before any row
    exp.build_model(device)
    store = ResultsStore(cfg.results.dir)
    done, recorded = resume_point(store, exp.config_hash, dataset.fingerprint)
    # what the hash stands for, so tables can name config variants
    save_identity(cfg.results.dir, exp.config_hash, config_identity(cfg))
    total = protocol.folds * protocol.runs
    todo = sum(
        (exp.config_hash, f, r) not in done
        for f in range(protocol.folds)
        for r in range(protocol.runs)
    )
    console = Console(stderr=True, soft_wrap=True)
    console.print(
        f"[bold]{exp.name}[/] {exp.model_name} on {dataset.name} "
        f"({len(dataset)} graphs), protocol {protocol_label(protocol)}: {todo} of "
        f"{total} runs "
        f"to do, device {device_label(device)}, config {exp.config_hash}, "
        f"data {dataset.fingerprint}"
    )
    if todo and done:
        warn_mixed_provenance(
            recorded, exp.config_hash, dataset.fingerprint, device_label(device)
        )
    provenance = {
        "device": device_label(device),
        "torch": torch.__version__,
        "torch_geometric": torch_geometric.__version__,
        "poolbench_version": poolbench.__version__,
        "git_commit": git_commit(),
        "data_fingerprint": dataset.fingerprint,
    }
    sink = None
    if cfg.logger.name == "wandb":
        sink = WandbSink(
            OmegaConf.to_container(cfg, resolve=True),
            project=cfg.logger.project,
            mode=cfg.logger.mode,
            directory=str(cfg.results.dir),  # wandb adds its own wandb/ folder
            entity=cfg.logger.entity,
        )
    claims = FoldClaims(cfg.results.dir, exp.config_hash, dataset.fingerprint)
    selection = None
    if protocol.grid:  # every grid candidate is a row of selection.csv
        candidates = CsvStore(cfg.results.dir, "selection.csv", CandidateRow)
        done_points = candidates_done(candidates.read())
        if warning := candidates.read_warning():  # those are trained again
            print(warning, file=sys.stderr)
        selection = SelectionLog(
            candidates.append,
            done_points,
            partial(stored_candidates, str(cfg.results.dir)),
        )
    try:
        with ProgressHooks(exp.name, todo, exp.trainer.max_epochs) as progress:
            hooks = Hooks(progress, sink)
            run_protocol(
                exp, protocol, device, provenance, done, store.record, hooks,
                selection, claims,
            )  # fmt: skip
        rows = store.latest()
        mine = rows[
            (rows["config_hash"] == exp.config_hash)
            & (rows["data_fingerprint"] == dataset.fingerprint)
        ]
        summary = summarize(mine)
        print_summary(summary, table_console(), total)
        say_folds_elsewhere(claims, protocol.folds)
        record = summary.iloc[0].to_dict() if len(summary) else {}
        store.append_summary(record)
    except FailFast as exc:
        # SystemExit, unlike an exception, is not held back by Hydra until the
        # end of a multirun (Hydra 2284): the sweep stops here.
        print(f"poolbench: run failed: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_RUN_FAILED) from None
    except StoreWriteError as exc:  # nothing more could be recorded: stop
        print(f"poolbench: error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_RUN_FAILED) from None
    except Interrupted as stop:
        print(
            f"poolbench: {stop.reason}; rerunning the same command redoes the "
            "unfinished runs",
            file=sys.stderr,
        )
        if not stop.time_limit:  # asked to terminate: the whole process stops
            raise SystemExit(128 + stop.signum) from None
        # At a time-limit warning the job ends normally, so the launcher takes
        # its result and waits for the sweep's other jobs; the experiment is
        # unfinished, so it gets no summary line.
        return {}
    return record


def say_folds_elsewhere(claims: FoldClaims, folds: int) -> None:
    """After the summary: folds another command of this config still runs, so
    the summary above lacks their runs for now."""
    busy = claims.held_elsewhere(range(folds))
    if busy:
        who = "; ".join(sorted(set(busy.values())))
        folds_are = "fold {} is" if len(busy) == 1 else "folds {} are"
        print(
            f"poolbench: {folds_are.format(', '.join(map(str, sorted(busy))))} "
            f"still being run by another process ({who}), so the table above "
            "lacks their runs; `poolbench table` shows them once it is done",
            file=sys.stderr,
        )


def protocol_label(protocol: ProtocolConfig) -> str:
    """The protocol as its tables will name it (``cv10``, ``cv10-3folds``)."""
    one = pd.DataFrame(
        {"protocol": [protocol.name], "protocol_folds": [protocol.folds]}
    )
    return str(table_protocols(one).iloc[0])


def warn_mixed_provenance(
    frame, config_hash: str, fingerprint: str, device: str
) -> None:
    """Say so when the runs this command adds join runs of the same config made
    by another poolbench commit or on another device: their numbers may
    differ, and the tables mark such a cell (§)."""
    kept = frame[
        (frame["config_hash"] == config_hash)
        & (frame["data_fingerprint"] == fingerprint)
        & (frame["status"] == "ok")
    ]
    now = {"git_commit": git_commit(), "device": device}
    for column, value in now.items():
        made = kept[column].astype(str)
        seen = set(made) | {value}
        if column == "device":  # an older row's bare "cpu" matches any count
            seen = distinct_devices(seen)
        others = sorted(seen - {value, ""})
        if others and value:
            what = "by commit" if column == "git_commit" else "on device"
            count = int(made.isin(others).sum())
            print(
                f"poolbench: {count} run(s) of config {config_hash} already "
                f"recorded were made {what} {', '.join(others)} (now {value}); "
                "the tables mark a cell that mixes them (§)",
                file=sys.stderr,
            )


def resume_point(
    store: ResultsStore, config_hash: str, fingerprint: str
) -> tuple[set, pd.DataFrame]:
    """The runs of the store already done on this data, and the rows read;
    says what it skipped."""
    frame = store.read()
    warning = store.read_warning()
    if warning:
        print(warning, file=sys.stderr)
    if store.last_read is not None and store.last_read.header_state == "unknown":
        raise PoolbenchError(store.foreign_header())
    mine = frame[frame["config_hash"] == config_hash]
    other = mine[mine["data_fingerprint"] != fingerprint]
    if len(other):
        was = ", ".join(sorted(set(other["data_fingerprint"])))
        print(
            f"poolbench: {len(other)} earlier row(s) of config {config_hash} were "
            f"made on other data (fingerprint {was}, now {fingerprint}): their "
            "runs are done again",
            file=sys.stderr,
        )
    return completed_runs(frame, fingerprint), frame
