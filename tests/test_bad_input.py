"""Every kind of bad input, through the real CLI: one line, exit 2, no row.

Each case is its own ``poolbench train`` process in its own folder (results
and data root included). The processes run two at a time from a thread pool
started by the first test, so the table costs about half its serial time;
most cases stop before torch is imported (about 0.6 s each).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from tests.cli_helpers import QUICK, REPO, rows, run_cli
from tests.data.tu_files import edit_line, mutag_copy, toy_graphs, write_tu

WORKERS = 2


def read_only_dir(case: Path) -> Path | None:
    """A folder this process cannot write to (root ignores mode bits: sysfs)."""
    if os.geteuid() != 0:
        folder = case / "read_only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    try:
        with tempfile.TemporaryFile(dir="/sys/kernel"):
            return None
    except OSError:
        return Path("/sys/kernel")


@dataclass
class Case:
    """``args`` after ``train``; ``{dir}`` is the case's folder. ``setup`` may
    build files there and return a mirror to use instead of the shared one."""

    args: list[str]
    needle: str
    setup: Callable[[Path], Path | None] | None = None
    flags: list[str] = field(default_factory=list)  # before the overrides: -m


def bad_smiles(case: Path) -> Path:
    """A FreeSolv mirror whose third molecule has a ring that never closes."""
    from tests.conftest import mirror_path

    lines = (
        (mirror_path() / "MoleculeNet" / "freesolv" / "raw" / "SAMPL.csv")
        .read_text()
        .splitlines()
    )
    lines[3] = lines[3].replace(lines[3].split(",")[-3], "C1CC(")
    raw = case / "mirror" / "MoleculeNet" / "freesolv" / "raw"
    raw.mkdir(parents=True)
    (raw / "SAMPL.csv").write_text("\n".join(lines) + "\n")
    return case / "mirror"


def nan_target(case: Path) -> Path:
    """An ESOL mirror whose fifth molecule's target reads ``nan``, which
    ``float`` accepts but no loss can use."""
    from tests.conftest import mirror_path

    name = "delaney-processed.csv"
    source = mirror_path() / "MoleculeNet" / "esol" / "raw" / name
    lines = source.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[5].split(",")
    column = header.index("measured log solubility in mols per litre")
    cells[column - len(header)] = "nan"  # counted from the end: SMILES last
    lines[5] = ",".join(cells)
    raw = case / "mirror" / "MoleculeNet" / "esol" / "raw"
    raw.mkdir(parents=True)
    (raw / name).write_text("\n".join(lines) + "\n")
    return case / "mirror"


def broken_mutag(part: str, line: int, text: str | None) -> Callable:
    def setup(case: Path) -> Path:
        raw = mutag_copy(case / "mirror")
        edit_line(raw / f"MUTAG_{part}.txt", line, text)
        return case / "mirror"

    return setup


def mutag_without(part: str, replacement: bytes | None = None) -> Callable:
    def setup(case: Path) -> Path:
        raw = mutag_copy(case / "mirror")
        path = raw / f"MUTAG_{part}.txt"
        path.unlink()
        if replacement is not None:
            path.write_bytes(replacement)
        return case / "mirror"

    return setup


def toy_mirror(graphs_edit: Callable[[list], None] | None = None) -> Callable:
    def setup(case: Path) -> Path:
        graphs = toy_graphs(40)
        if graphs_edit is not None:
            graphs_edit(graphs)
        write_tu(case / "mirror" / "TOY" / "raw", "TOY", graphs)
        return case / "mirror"

    return setup


def lone_class(graphs: list) -> None:
    graphs[-1].label = 3


def damaged_splits(case: Path) -> None:
    folder = case / "data" / "splits" / "MUTAG"
    folder.mkdir(parents=True)
    (folder / "holdout0.1_val0.1_seed0.json").write_text('{"splits": [{"train": [1,')


def store_file(name: str, kind: str) -> Callable:
    """``results/<name>`` made a folder or a link to nothing: found when the
    first row was written, after a run had trained."""

    def setup(case: Path) -> None:
        path = case / "results" / name
        path.parent.mkdir()
        if kind == "folder":
            path.mkdir()
        else:
            path.symlink_to(case / "gone.csv")

    return setup


def a_file(name: str) -> Callable:
    def setup(case: Path) -> None:
        (case / name).write_text("not a folder\n")

    return setup


CASES = {
    # types and ranges
    "epochs not a number": Case(
        ["trainer.max_epochs=abc"], "trainer.max_epochs must be an integer"
    ),
    "epochs a fraction": Case(
        ["trainer.max_epochs=1.5"], "trainer.max_epochs must be an integer"
    ),
    "batch size a fraction": Case(
        ["trainer.batch_size=1.5"], "trainer.batch_size must be an integer"
    ),
    "negative epochs": Case(
        ["trainer.max_epochs=-3"], "trainer.max_epochs must be ≥ 1"
    ),
    "learning rate zero": Case(["trainer.lr=0"], "trainer.lr must be > 0"),
    "unknown monitor": Case(
        ["trainer.monitor=val_f1"], "trainer.monitor must be one of"
    ),
    "amp not a bool": Case(["trainer.amp=maybe"], "trainer.amp must be true or false"),
    "negative threads": Case(["trainer.threads=-1"], "trainer.threads must be ≥ 0"),
    "ratio not a number": Case(
        ["model.pool_ratio=abc"], "model.pool_ratio must be a number"
    ),
    "ratio above 1": Case(
        ["model.pool_ratio=1.5"], "model.pool_ratio must lie in (0, 1]"
    ),
    "ratio zero": Case(["model.pool_ratio=0"], "model.pool_ratio must lie in (0, 1]"),
    "hidden zero": Case(["model.hidden=0"], "model.hidden must be ≥ 1"),
    "dropout 1.5": Case(["model.dropout=1.5"], "model.dropout must lie in [0, 1)"),
    "an empty MP block": Case(["model.blocks=[2,0]"], "model.blocks must be ≥ 1"),
    "unknown MP layer": Case(["model.mp=gat"], "unknown model.mp 'gat'"),
    "unknown readout": Case(
        ["model.readout=avg"], "model.readout: unknown readout avg"
    ),
    "temperature zero": Case(["pooler.temp=0"], "pooler.temp must be > 0"),
    "no k-means restart": Case(
        ["pooler=kmeans", "pooler.n_init=0"], "pooler.n_init must be ≥ 1"
    ),
    "a value the pooler refuses": Case(
        ["pooler=nmf", "pooler.iterations=-1"],
        "pooler nmf: iterations must be >= 0, got -1; fix pooler.iterations",
    ),
    "a value the pooler refuses, in a grid": Case(
        ["pooler=kmis", "+protocol.grid.pooler.order_k=[1,0]"],
        "pooler kmis: order_k must be >= 1, got 0; fix pooler.order_k",
    ),
    # the authors' file, absent from the shared mirror: refused before any job
    "the published EXPWL1 without its file": Case(
        ["dataset=expwl1_original"], "EXPWL1.pkl not found"
    ),
    "a grid over the seed": Case(
        ["+protocol.grid.seed=[1,2]"],
        "protocol.grid.seed: a grid searches trainer.*, model.* and pooler.* keys only",
    ),
    "a grid over a dataset key": Case(
        ["+protocol.grid.dataset.name=[MUTAG,PTC_MR]"],
        "protocol.grid.dataset.name: a grid searches trainer.*",
    ),
    "a grid axis without its +": Case(
        ["protocol.grid.model.hidden=[8,16]"],
        "a grid axis is added with a leading +: +protocol.grid.model.hidden=[8,16]",
    ),
    "a bad value in a grid names the grid": Case(
        ["+protocol.grid.trainer.lr=[0.1,-1]"],
        "protocol.grid.trainer.lr value -1: trainer.lr must be > 0",
    ),
    # torch's own error names no key: the key whose default builds is named
    "a width torch refuses": Case(
        ["pooler=copool", "pooler.att_channels=-1"],
        "negative dimension -1: [-1, 16]; fix pooler.att_channels",
    ),
    "a width torch refuses, in a list": Case(
        ["pooler=maxcut", "pooler.mp_units=[32,-1]"], "; fix pooler.mp_units"
    ),
    "an unknown activation": Case(
        ["pooler=sag", "pooler.nonlinearity=nope"],
        "Could not resolve 'nope' among choices CELU, ELU, GELU",
    ),
    "negative seed": Case(["seed=-1"], "seed must be ≥ 0"),
    "seed not a number": Case(["seed=abc"], "seed must be an integer"),
    "unknown device": Case(["device=tpu"], "unknown device 'tpu'"),
    "unknown W&B mode": Case(
        ["logger=wandb", "logger.mode=bogus"],
        "unknown logger.mode 'bogus'; use one of auto, online, offline",
    ),
    "val share above 1": Case(
        ["protocol.val_size=1.5"], "protocol.val_size must lie in (0, 1)"
    ),
    "no final runs": Case(["protocol.runs=0"], "protocol.runs must be ≥ 1"),
    "max degree zero": Case(
        ["dataset=imdb_binary", "dataset.max_degree=0"],
        "dataset.max_degree must be ≥ 1",
    ),
    "unknown feature transform": Case(
        ["dataset.features=pagerank"], "dataset.features must be one of"
    ),
    # keys and choices
    "misspelled key": Case(["trainer.max_epoch=3"], "did you mean trainer.max_epochs?"),
    "misspelled added key": Case(
        ["+trainer.max_epoch=3"], "did you mean trainer.max_epochs?"
    ),
    "misspelled protocol key": Case(
        ["+protocol.fold=5"], "did you mean protocol.folds?"
    ),
    "misspelled root key": Case(["seeed=1"], "did you mean seed?"),
    # the hint comes from the config without the first one; the second one
    # must not turn it into "trainer takes no keys of its own"
    "two misspelled keys": Case(
        ["trainer.lrr=1", "trainer.max_epoch=1"],
        "unknown key trainer.lrr; did you mean trainer.lr?",
    ),
    "misspelled added root key": Case(["+seeed=1"], "did you mean seed?"),
    "misspelled pooler key": Case(
        ["+pooler.cut_coef=2"], "did you mean pooler.cut_coeff?"
    ),
    "injected pooler key": Case(
        ["+pooler.ratio=0.3"], "pooler.ratio is set by poolbench from model.pool_ratio"
    ),
    "unknown pooler": Case(["pooler=nopool"], "unknown pooler 'nopool'; available:"),
    "unknown dataset": Case(["dataset=mnist"], "unknown dataset 'mnist'; available:"),
    "unparsable override": Case(
        ["trainer.max_epochs=[1,"], "cannot parse 'trainer.max_epochs=[1,'"
    ),
    "own pooler without a class": Case(
        ["pooler=custom"], "pooler._target_ has no value"
    ),
    "own pooler not importable": Case(
        ["pooler=custom", "pooler._target_=nowhere.Pool"],
        "cannot import pooler._target_=nowhere.Pool",
    ),
    "any TU set without a name": Case(["dataset=tu"], "dataset.name has no value"),
    "missing config dir": Case(
        [], "--config-dir", flags=["--config-dir", "{dir}/nowhere"]
    ),
    # protocol against the data
    "more folds than graphs per class": Case(
        ["protocol=cv10", "protocol.folds=1000"],
        "protocol.folds=1000 needs 1000 graphs in every class",
    ),
    "a class with a single graph": Case(
        ["dataset=tu", "dataset.name=TOY"], "has a single graph", toy_mirror(lone_class)
    ),
    "damaged splits file": Case([], "is damaged", damaged_splits),
    # the data files
    "edge file cut mid-line": Case(
        [],
        "MUTAG_A.txt line 7442: expected 2 comma-separated values",
        broken_mutag("A", -1, "2,"),
    ),
    "non-numeric token": Case(
        [],
        "MUTAG_node_labels.txt line 5: 'x' is not an integer",
        broken_mutag("node_labels", 5, "x"),
    ),
    "node past the node count": Case(
        [],
        "MUTAG_A.txt line 3: node 9999 is past the 3371 nodes",
        broken_mutag("A", 3, "9999, 2"),
    ),
    "node index 0": Case(
        [],
        "MUTAG_A.txt line 1: node 0: TU node ids start at 1",
        broken_mutag("A", 1, "0, 1"),
    ),
    "edge across graphs": Case(
        [],
        "MUTAG_A.txt line 1: edge 2, 3371 joins graph 1 and graph 188",
        broken_mutag("A", 1, "2, 3371"),
    ),
    "empty label file": Case(
        [],
        "MUTAG_graph_labels.txt: the file is empty",
        mutag_without("graph_labels", b""),
    ),
    "indicator shorter than node labels": Case(
        [],
        "MUTAG_node_labels.txt has 3371 lines but MUTAG_graph_indicator.txt has 3370",
        broken_mutag("graph_indicator", -1, None),
    ),
    "labels shorter than graphs": Case(
        [],
        "MUTAG_graph_labels.txt has 187 lines but",
        broken_mutag("graph_labels", -1, None),
    ),
    "graph ids with a gap": Case(
        [],
        "MUTAG_graph_indicator.txt line 1: graph ids start at 1, got 2",
        broken_mutag("graph_indicator", 1, "2"),
    ),
    "not plain text": Case(
        [],
        "MUTAG_graph_labels.txt line 1: not plain text",
        mutag_without("graph_labels", b"\xff\xfe1\n"),
    ),
    "mirror lacks the graph indicator": Case(
        [], "lacks MUTAG_graph_indicator.txt", mutag_without("graph_indicator")
    ),
    "dataset missing from the mirror": Case(
        ["dataset=tu", "dataset.name=NOPE"], "dataset NOPE is not in the mirror"
    ),
    "mirror that is no folder": Case(
        ["data.mirror={dir}/nowhere"], "data.mirror={dir}/nowhere is not a directory"
    ),
    # paths
    "results dir is a file": Case(
        ["results.dir={dir}/taken"],
        "results.dir={dir}/taken is a file",
        a_file("taken"),
    ),
    "data root is a file": Case(
        ["data.root={dir}/taken"], "data.root={dir}/taken is a file", a_file("taken")
    ),
    "results dir read-only": Case(["results.dir={ro}/results"], "is not writable"),
    "results.csv is a folder": Case(
        [], "results/results.csv is not a file", store_file("results.csv", "folder")
    ),
    "the store's lock is a folder": Case(
        [],
        "results/.results.csv.lock is not a file",
        store_file(".results.csv.lock", "folder"),
    ),
    "results.csv links to nothing": Case(
        [],
        "results/results.csv is a link to nothing",
        store_file("results.csv", "link"),
    ),
    "data root read-only": Case(["data.root={ro}"], "is not writable"),
    "dataset name with a path": Case(
        ["dataset=tu", "dataset.name=../../x"],
        "dataset.name='../../x' must be a plain name",
    ),
    # sweeps: one bad job stops the command before any job trains
    "sweep with one bad value": Case(
        ["trainer.max_epochs=2,abc"],
        "trainer.max_epochs must be an integer",
        flags=["-m"],
    ),
    "sweep with a key one pooler lacks": Case(
        ["pooler=mincut,topk", "++pooler.cut_coeff=2"],
        "unknown key pooler.cut_coeff",
        flags=["-m"],
    ),
    "sweep with folds one dataset lacks": Case(
        ["dataset=ptc_mr,mutag", "protocol=cv10", "protocol.folds=100"],
        "class 0 of MUTAG has 63",
        flags=["-m"],
    ),
    # CUDA-only settings on a machine without a GPU: found before any data is
    # processed or any job of a sweep trains (they were found at model build)
    **(
        {}
        if torch.cuda.is_available()
        else {
            "amp on the CPU": Case(
                ["trainer.amp=true"], "trainer.amp=true needs a CUDA device"
            ),
            "compile on the CPU": Case(
                ["trainer.compile=true"], "trainer.compile=true needs a CUDA device"
            ),
            "device=cuda without a GPU": Case(["device=cuda"], "no GPU is visible"),
            "sweep with amp on its second job": Case(
                ["trainer.amp=false,true"],
                "trainer.amp=true needs a CUDA device",
                flags=["-m"],
            ),
            "sweep over devices": Case(
                ["device=cpu,cuda"], "no GPU is visible", flags=["-m"]
            ),
            "grid over amp": Case(
                ["+protocol.grid.trainer.amp=[false,true]"],
                "protocol.grid.trainer.amp value True: trainer.amp=true needs",
            ),
        }
    ),
    # a paper's own model against the pooler
    "a pooler for a model without pooling": Case(
        ["experiment=errica2020_baseline", "pooler=topk", "protocol.grid={{}}"],
        "model MolecularFingerprint has no pooling; use pooler=none",
    ),
    "the U-Net for graph classification": Case(
        ["model=unet"], "model=unet classifies nodes: add task=node"
    ),
    # tasks against data, models and poolers
    "graph-only dataset for task=node": Case(
        ["task=node", "dataset=mutag"], "MUTAG is many graphs"
    ),
    "node dataset for task=graph": Case(
        ["dataset=cora"], "cora is one graph with node labels"
    ),
    "task=node without the U-Net": Case(
        ["task=node", "dataset=cora", "model=hierarchical"], "use model=unet"
    ),
    "pooler that cannot cluster": Case(
        ["task=community", "dataset=sbm", "pooler=topk"],
        "pooler topk has no clustering objective",
    ),
    "community with folds": Case(
        ["task=community", "dataset=sbm", "protocol=cv10"], "use protocol=seeds"
    ),
    "community cluster count that is no number": Case(
        ["task=community", "dataset=sbm", "pooler=dmon", "task.num_clusters=abc"],
        "task.num_clusters must be an integer or classes, got 'abc'",
    ),
    "community with negative MP layers": Case(
        ["task=community", "dataset=sbm", "pooler=dmon", "task.mp_layers=-1"],
        "task.mp_layers",
    ),
    "community with a grid": Case(
        [
            "task=community",
            "dataset=sbm",
            "pooler=dmon",
            "+protocol.grid.trainer.lr=[0.01,0.001]",
        ],
        "task=community has no validation set, so protocol.grid",
    ),  # fmt: skip
    "node task on a generated graph without a public split": Case(
        ["task=node", "dataset=sbm"], "sbm has no public split: use protocol=random"
    ),
    "node task repeating the public split": Case(
        ["task=node", "dataset=cora", "protocol=cv10"],
        "task=node on the public split has one split, so protocol.folds=10",
    ),
    "node task with a pooler that cannot lift": Case(
        ["task=node", "dataset=cora", "pooler=custom", "pooler._target_=nolift.NoLift"],
        "pooler nolift.NoLift cannot map pooled features back",
        lambda case: (
            (case / "nolift.py").write_text(
                "from poolbench.pooling.poolers.topk import TopKPool\n\n\n"
                "class NoLift(TopKPool):\n    can_lift = False\n"
            )
            and None
        ),
    ),
    "more clusters than nodes": Case(
        ["task=community", "dataset=sbm", "pooler=dmon", "task.num_clusters=5000"],
        "task.num_clusters=5000 must lie in [2, 1000]",
    ),
    "a model whose output ends in a ReLU on real targets": Case(
        ["model=errica_fingerprint", "pooler=none", "dataset=freesolv"],
        "model MolecularFingerprint cannot regress freesolv's real-valued targets",
    ),
    "accuracy monitor on real targets": Case(
        ["dataset=esol", "trainer.monitor=val_acc"],
        "trainer.monitor=val_acc does not apply to task=graph (regression)",
    ),
    "stratified split of real targets": Case(
        ["dataset=esol", "protocol.split=stratified"],
        "protocol.split=stratified does not apply",
    ),
    "scaffold split without molecules": Case(
        ["dataset=mutag", "protocol.split=scaffold"],
        "protocol.split=scaffold needs molecules",
    ),
    "unparseable SMILES": Case(
        ["dataset=freesolv"], "line 4: cannot parse SMILES", bad_smiles
    ),
    # the mirror's file is named: the local copy is replaced from it each run
    "a target that is NaN": Case(
        ["dataset=esol"],
        "mirror/MoleculeNet/esol/raw/delaney-processed.csv, line 6: target 'nan'",
        nan_target,
    ),
}


@dataclass
class Outcome:
    out: object  # subprocess.CompletedProcess
    needle: str
    folder: Path
    read_only: Path | None


def run_case(name: str, folder: Path, shared_mirror: Path) -> Outcome:
    case = CASES[name]
    mirror = case.setup(folder) if case.setup else None
    ro = read_only_dir(folder) if "{ro}" in " ".join(case.args) else None
    fill = {"dir": folder, "ro": ro}
    flags = [a.format(**fill) for a in case.flags]
    args = [a.format(**fill) for a in case.args]
    base = ["dataset=mutag", "protocol=holdout", *QUICK]
    out = run_cli(
        ["train", *flags, *base, *args],
        folder,
        folder / "data",
        mirror or shared_mirror,
        timeout=300,
    )
    return Outcome(out, case.needle.format(**fill), folder, ro)


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory, mirror):
    """Start every selected case at once; each test waits for its own."""
    names = [
        item.callspec.params["name"]
        for item in request.session.items
        if item.module is request.module
        and "name" in getattr(getattr(item, "callspec", None), "params", {})
    ]
    folders = {name: tmp_path_factory.mktemp("bad") for name in names}
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        yield {
            name: pool.submit(run_case, name, folders[name], mirror) for name in names
        }


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_one_line_exit_2_and_no_row(outcomes, name):
    outcome = outcomes[name].result()
    if "{ro}" in " ".join(CASES[name].args) and outcome.read_only is None:
        pytest.skip("no read-only folder on this machine")
    out = outcome.out
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2, out.stderr
    assert len(lines) == 1 and lines[0].startswith("poolbench: error:"), out.stderr
    assert outcome.needle in lines[0], lines[0]
    assert "Traceback" not in out.stderr + out.stdout
    assert not [p for p in outcome.folder.rglob("results.csv") if p.is_file()]
    # refused before any work: no dataset processed, no Hydra job folder
    assert not list(outcome.folder.rglob("processed")), name
    assert not list(outcome.folder.rglob(".hydra")), name


def test_a_command_whose_runs_all_failed_exits_1(cli):
    """Not bad input: the runs start, fail, and are rows; the command says so."""
    explode = "pooler._target_=tests.test_sweeps.ExplodingPool"
    args = ["train", "pooler=custom", explode, "dataset=mutag", "protocol=holdout"]
    out = cli(*args, *QUICK, env={"PYTHONPATH": str(REPO)})
    assert out.returncode == 1, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("poolbench: every run failed (1 runs; the first failed:")
    assert "boom from ExplodingPool" in last and "Traceback" not in out.stderr
    assert rows(cli.cwd).status.tolist() == ["failed"]
    # the summary table has no score to show: a dash, never "nan ± nan"
    assert "nan" not in out.stdout.lower() and "—" in out.stdout


def test_only_a_command_with_no_ok_run_fails(tmp_path):
    """every_run_failed reads each run's latest row: one ok run is enough."""
    from hydra import compose, initialize_config_dir

    from poolbench.experiment import config_hash
    from poolbench.hydra_app import CONF_DIR
    from poolbench.results.row import ResultRow
    from poolbench.results.store import ResultsStore
    from poolbench.runner import every_run_failed

    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"results.dir={tmp_path}"])
    store, key = ResultsStore(tmp_path), config_hash(cfg)
    assert every_run_failed([cfg]) == ""  # nothing ran
    ident = dict(experiment="e", dataset="D", pooler="p", model="m", protocol="x")
    store.append(
        ResultRow(
            **ident,
            fold=0,
            run=0,
            seed=0,
            config_hash=key,
            status="failed",
            error="boom",
        )
    )
    assert "every run failed (1 runs; the first failed: boom)" in every_run_failed(
        [cfg]
    )
    ok = dict(fold=1, run=0, seed=0, config_hash=key, test_acc=0.5)
    store.append(ResultRow(**ident, **ok))  # an ok row carries its score
    assert every_run_failed([cfg]) == ""
    store.append(
        ResultRow(
            **ident,
            fold=1,
            run=0,
            seed=0,
            config_hash=key,
            status="nan",
            error="NaN loss",
        )
    )  # a failure after an ok row of the same run (a stopped second writer)
    assert every_run_failed([cfg]) == ""  # does not hide the ok result


# Names that only need the config files are refused before torch and PyG load
# (seconds on a small machine): one process tries each command in turn.
REFUSED_BEFORE_TORCH = """
import sys
from poolbench.cli import main

for argv in {commands!r}:
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code == 2, (argv, exc.code)
    else:
        raise AssertionError(f"{{argv}} was not refused")
    assert "torch" not in sys.modules, f"{{argv}} imported torch first"
print("ok")
"""


def test_names_are_refused_before_torch_is_imported(tmp_path):
    commands = [
        ["train", "pooler=nope", "dataset=mutag"],
        ["bench", "--datasets", "nope"],
        ["bench", "--versus", "none", "--poolers", "mincut,nope"],
        ["bench", "--peer", "tgp", "--poolers", "nope"],
        ["reproduce", "nope"],
        ["reproduce", "errica2020", "--budget", "huge"],
        ["reproduce", "errica2020", "--only", "SAGE"],
        ["eval", "nope"],
        ["eval", "autoencoder", "pooler=mincut,nope"],
    ]
    script = REFUSED_BEFORE_TORCH.format(commands=commands)
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
    assert out.stderr.count("poolbench: error: ") == len(commands), out.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["table", "--kind", "evals"],
        ["list", "pooler"],
        ["list"],
        ["bench", "--epochs", "x"],
        ["reproduce"],
    ],
)
def test_a_usage_error_is_one_line_naming_help(tmp_path, args):
    out = subprocess.run(
        [sys.executable, "-m", "poolbench", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    (line,) = out.stderr.strip().splitlines()  # no usage block above it
    assert line.startswith(f"poolbench: error: poolbench {args[0]}: ")
    assert line.endswith(f"see poolbench {args[0]} --help")
