"""The README's measured figures: each produced by a stated command, regenerated.

    python scripts/readme_figures.py             # render the README's blocks
    python scripts/readme_figures.py --measure   # rerun every command, then render
    python scripts/readme_figures.py --measure headline
    python scripts/readme_figures.py --check     # README == what the data renders

A figure is a block of README.md between ``<!-- figure:ID -->`` and
``<!-- /figure -->``. Its numbers live in ``docs/figures/ID.json``, written by
``--measure`` together with the exact command, the date, the machine (cores,
load average), the versions and the commit; the block is rendered from that
file alone, so ``--check`` (run by the test suite) proves the README shows
what the recorded run produced. ``make readme-figures`` measures and renders
everything; timings depend on what else runs on the machine, and each block
says the load it was measured under.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DATA = REPO / "docs" / "figures"
BLOCK = re.compile(
    r"<!-- figure:(?P<id>[\w-]+) -->\n(?P<body>.*?)<!-- /figure -->", re.S
)


@dataclass
class Figure:
    command: list[str]  # what a user types (after `poolbench`)
    measure: Callable[[list[str], Path], dict]
    render: Callable[[dict], str]


def machine() -> dict:
    import torch

    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"],
        cwd=REPO, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    return {
        "date": date.today().isoformat(),
        "cores": os.cpu_count(),
        "load": round(os.getloadavg()[0], 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "commit": commit,
    }


def run_poolbench(args: list[str], cwd: Path) -> float:
    """Run ``poolbench ARGS`` as a user would; return its wall seconds."""
    env = {**os.environ, "POOLBENCH_DATA": str(cwd / "data"), "OMP_NUM_THREADS": "1"}
    env.setdefault("POOLBENCH_DATA_MIRROR", str(REPO.parent / "shared" / "datasets"))
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "poolbench", *args], cwd=cwd, env=env)
    if out.returncode != 0:
        raise SystemExit(f"readme_figures: `poolbench {' '.join(args)}` failed")
    return time.perf_counter() - start


def measure_train(command: list[str], cwd: Path) -> dict:
    """A train command's wall time and its summary (mean ± std, cost)."""
    wall = run_poolbench(command, cwd)
    summary = json.loads(
        (cwd / "results" / "summaries.jsonl").read_text().splitlines()[-1]
    )
    keep = ("dataset", "pooler", "metric", "mean", "std", "runs", "folds")
    return {
        "wall_sec": round(wall, 1),
        **{k: summary[k] for k in keep},
        "sec_per_epoch": round(summary["sec_per_epoch"], 4),
        "peak_mem_mb": round(summary["peak_mem_mb"]),
    }


def render_headline(d: dict) -> str:
    m = d["measured"]
    return (
        f"Measured with `poolbench {' '.join(d['command'])}` on "
        f"{d['machine']['date']} ({d['machine']['cores']}-core CPU, load "
        f"{d['machine']['load']}, torch {d['machine']['torch']}, commit "
        f"{d['machine']['commit']}): {m['wall_sec']:.0f} s wall time, "
        f"{100 * m['mean']:.2f} ± {100 * m['std']:.2f} % test accuracy on "
        f"{m['dataset']} over {m['folds']} folds ({m['runs']} runs), "
        f"{m['sec_per_epoch']:.4f} s per training epoch, peak RSS "
        f"{m['peak_mem_mb']} MiB.\n"
    )


def measure_json(command: list[str], cwd: Path) -> dict:
    """A ``--json`` command's rows, as it printed them."""
    env = {**os.environ, "POOLBENCH_DATA": str(cwd / "data"), "OMP_NUM_THREADS": "1"}
    env.setdefault("POOLBENCH_DATA_MIRROR", str(REPO.parent / "shared" / "datasets"))
    out = subprocess.run(
        [sys.executable, "-m", "poolbench", *command], cwd=cwd, env=env,
        capture_output=True, text=True,
    )  # fmt: skip
    if out.returncode != 0:
        tail = "\n".join(out.stderr.strip().splitlines()[-15:])
        raise SystemExit(
            f"readme_figures: `poolbench {' '.join(command)}` failed:\n{tail}"
        )
    return {"rows": json.loads(out.stdout)}


def _stamp(d: dict) -> str:
    m = d["machine"]
    command = " ".join(c for c in d["command"] if c != "--json")
    return (
        f"Measured with `poolbench {command}` on {m['date']} "
        f"({m['cores']}-core CPU, load average {m['load']}, torch {m['torch']}, "
        f"commit {m['commit']})"
    )


def _geomean(values: list[float]) -> float:
    import math

    return math.exp(sum(math.log(v) for v in values) / len(values))


def render_bench(d: dict) -> str:
    rows = d["measured"]["rows"]
    lines = [
        _stamp(d) + ":",
        "",
        "| dataset | pooler | PyG tuned (1 thr) s/ep | poolbench s/ep | × tuned "
        "| overhead poolbench / PyG tuned | precompute s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['pooler']} | {r['tuned_sec_per_epoch']:.4f} | "
            f"{r['poolbench_sec_per_epoch']:.4f} | {r['speedup_vs_tuned']:.2f} | "
            f"{100 * r['overhead_share']:.0f} % / "
            f"{100 * r['tuned_overhead_share']:.0f} % | {r['precompute_sec']:.2f} |"
        )
    speed = [r["speedup_vs_tuned"] for r in rows]
    ours = [100 * r["overhead_share"] for r in rows]
    plain = [100 * r["tuned_overhead_share"] for r in rows]
    lines += [
        "",
        f"Geometric mean {_geomean(speed):.2f}× over the tuned PyG loop (min "
        f"{min(speed):.2f}×); the runner's overhead share is {min(ours):.0f}–"
        f"{max(ours):.0f} %, against {min(plain):.0f}–{max(plain):.0f} % for the "
        "plain loop.",
    ]
    return "\n".join(lines) + "\n"


def render_peer(d: dict) -> str:
    rows = d["measured"]["rows"]
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    by = {(r["dataset"], r["pooler"]): r for r in rows}
    poolers = sorted({r["pooler"] for r in rows})
    head = "| pooler |" + "".join(
        f" {ds} tgp s/ep | {ds} poolbench | {ds} × tgp |" for ds in datasets
    )
    lines = [_stamp(d) + " (median of the repeats' ratios):", "", head,
             "|---|" + "---|---|---|" * len(datasets)]  # fmt: skip
    for p in poolers:
        free = any(by.get((ds, p), {}).get("parameter_free") for ds in datasets)
        cells = []
        for ds in datasets:
            r = by.get((ds, p))
            cells.append(
                "– | – | –"
                if r is None
                else f"{r['tgp_sec_per_epoch']:.4f} | "
                f"{r['poolbench_sec_per_epoch']:.4f} | **{r['speedup_vs_tgp']:.2f}**"
            )
        name = f"{p} (parameter-free)" if free else p
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    summary = []
    for ds in datasets:
        ratios = [r["speedup_vs_tgp"] for r in rows if r["dataset"] == ds]
        worst = min(
            (r for r in rows if r["dataset"] == ds), key=lambda r: r["speedup_vs_tgp"]
        )
        summary.append(
            f"{_geomean(ratios):.2f}× on {ds} (min {worst['speedup_vs_tgp']:.2f}×, "
            f"{worst['pooler']})"
        )
    lines += ["", "Geometric mean " + " and ".join(summary) + "."]
    slower = [f"{r['pooler']} on {r['dataset']}" for r in rows
              if r["speedup_vs_tgp"] < 1]  # fmt: skip
    # Why a parameter-free pooler stays under 10x: what its pooling costs tgp
    # (tgp's epoch with it over tgp's epoch with no pooling). Caching the
    # pooling cannot save more than that; the rest is the GNN's own work.
    short = [
        f"{r['pooler']} on {r['dataset']}"
        + (
            f" (tgp's epoch {r['tgp_sec_per_epoch'] / none['tgp_sec_per_epoch']:.1f}×"
            " its none epoch)"
            if (none := by.get((r["dataset"], "none")))
            else ""
        )
        for r in rows
        if r["parameter_free"] and r["speedup_vs_tgp"] < 10
    ]
    lines.append(
        "Below 1.0× tgp: "
        + (", ".join(slower) or "none")
        + ". Parameter-free below 10×: "
        + (", ".join(short) or "none")
        + "."
    )
    return "\n".join(lines) + "\n"


def render_dense(d: dict) -> str:
    rows = d["measured"]["rows"]
    lines = [
        _stamp(d) + " (median of the repeats' ratios):",
        "",
        "| dataset | pooler | s/epoch | none s/epoch | × none |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['pooler']} | {r['sec_per_epoch']:.4f} | "
            f"{r['none_sec_per_epoch']:.4f} | **{r['times_none']:.2f}** |"
        )
    within = [r["pooler"] for r in rows if r["times_none"] <= 2]
    over = [f"{r['pooler']} ({r['times_none']:.2f}×)" for r in rows
            if r["times_none"] > 2]  # fmt: skip
    lines += [
        "",
        "Within 2× of no pooling: "
        + (", ".join(within) or "none")
        + ". Above: "
        + (", ".join(over) or "none")
        + ".",
    ]
    return "\n".join(lines) + "\n"


FIGURES: dict[str, Figure] = {
    "headline": Figure(
        ["train", "pooler=mincut", "dataset=mutag"], measure_train, render_headline
    ),
    "bench": Figure(["bench", "--epochs", "10", "--json"], measure_json, render_bench),
    "peer": Figure(
        [
            "bench",
            "--peer",
            "tgp",
            "--datasets",
            "mutag,proteins",
            "--repeats",
            "3",
            "--json",
        ],
        measure_json,
        render_peer,
    ),  # fmt: skip
    "dense": Figure(
        [
            "bench",
            "--versus",
            "none",
            "--datasets",
            "proteins",
            "--repeats",
            "3",
            "--json",
        ],
        measure_json,
        render_dense,
    ),  # fmt: skip
}


def measure(ids: list[str]) -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    for fid in ids:
        figure = FIGURES[fid]
        before = machine()  # the load before the run, not including it
        with tempfile.TemporaryDirectory() as tmp:
            measured = figure.measure(figure.command, Path(tmp))
        record = {"command": figure.command, "machine": before, "measured": measured}
        (DATA / f"{fid}.json").write_text(json.dumps(record, indent=1) + "\n")
        print(f"readme_figures: measured {fid}")


def rendered(text: str) -> str:
    """README text with every figure block rendered from its data file."""

    def block(match: re.Match) -> str:
        fid = match["id"]
        if fid not in FIGURES:
            raise SystemExit(f"readme_figures: README has an unknown figure {fid!r}")
        path = DATA / f"{fid}.json"
        if not path.is_file():
            raise SystemExit(f"readme_figures: no {path}; run with --measure {fid}")
        body = FIGURES[fid].render(json.loads(path.read_text()))
        return f"<!-- figure:{fid} -->\n{body}<!-- /figure -->"

    return BLOCK.sub(block, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--measure", nargs="*", metavar="ID", help="rerun (all)")
    parser.add_argument("--check", action="store_true", help="README is current")
    args = parser.parse_args(argv)
    if args.measure is not None:
        unknown = set(args.measure) - set(FIGURES)
        if unknown:
            parser.error(f"unknown figure(s) {', '.join(sorted(unknown))}")
        measure(args.measure or list(FIGURES))
    text = README.read_text()
    new = rendered(text)
    if args.check:
        if new != text:
            print("readme_figures: README.md is stale; run `make readme`")
            return 1
        print(f"readme_figures: {len(BLOCK.findall(text))} figure(s) current")
        return 0
    if new != text:
        README.write_text(new)
        print("readme_figures: README.md updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
