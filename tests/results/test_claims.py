"""Fold claims: a second command on the same config leaves the folds the first
holds, skips the runs it finished, and a claim dies with its process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest

from poolbench.results.claims import FoldClaims
from poolbench.results.store import ResultsStore
from poolbench.training.protocol import FoldJob, ProtocolConfig, run_fold
from tests.cli_helpers import QUICK, rows
from tests.results.test_store_writes import row
from tests.training.test_selection import CPU, make_exp

HOLD = textwrap.dedent(
    """
    import sys, time
    from poolbench.results.claims import FoldClaims
    claims = FoldClaims(sys.argv[1], sys.argv[2], sys.argv[3])
    with claims.fold(int(sys.argv[4])) as holder:
        print("free" if holder is None else "taken", flush=True)
        time.sleep(600)
    """
)


@pytest.fixture
def holder():
    """Hold a fold in another process, as a second ``poolbench train`` would."""
    procs = []

    def hold(directory, config, data, fold) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(directory), config, data, str(fold)],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout.readline().strip() == "free"  # it holds the fold now
        return proc

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()


def test_a_held_fold_is_refused_to_others_until_its_holder_dies(tmp_path, holder):
    claims = FoldClaims(tmp_path, "c0ffee", "d1")
    proc = holder(tmp_path, "c0ffee", "d1", 1)
    with claims.fold(1) as who:
        assert who.startswith(f"pid {proc.pid} on ")  # says who has it
    with claims.fold(0) as who:
        assert who is None  # other folds are free
    assert list(claims.held_elsewhere(range(3))) == [1]
    # the same fold of another config or other data is another claim
    with FoldClaims(tmp_path, "beef", "d1").fold(1) as who:
        assert who is None
    with FoldClaims(tmp_path, "c0ffee", "d2").fold(1) as who:
        assert who is None
    proc.send_signal(signal.SIGKILL)  # the kernel drops the lock with it
    proc.wait()
    with claims.fold(1) as who:
        assert who is None
    assert claims.held_elsewhere(range(3)) == {}


def test_runs_done_are_this_configs_ok_runs_of_the_fold_on_this_data(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(row(run=0))
    store.append(row(run=1, status="failed"))  # to do again
    store.append(replace(row(run=2), fold=1))  # another fold
    store.append(replace(row(run=3), config_hash="other"))
    store.append(row(run=4, fingerprint="d2"))  # other data
    assert FoldClaims(tmp_path, "abc", "d1").runs_done(0) == {0}


def test_a_place_where_no_claim_can_be_made_runs_the_fold_unclaimed(tmp_path):
    (tmp_path / ".claims").write_text("a file where the folder goes")
    with FoldClaims(tmp_path, "abc", "d1").fold(0) as who:
        assert who is None


def provenance(exp) -> dict:
    return dict(device="cpu", torch="t", torch_geometric="g",
                poolbench_version="v", git_commit="c",
                data_fingerprint=exp.dataset.fingerprint)  # fmt: skip


def test_run_fold_leaves_a_held_fold_and_the_runs_finished_meanwhile(
    tmp_path, holder, capsys
):
    exp = make_exp(tmp_path, ["protocol.runs=2"])
    protocol = ProtocolConfig(name="holdout", folds=1, runs=2)
    store = ResultsStore(tmp_path / "results")
    claims = FoldClaims(store.dir, exp.config_hash, exp.dataset.fingerprint)
    job, split = FoldJob(0, [0, 1]), exp.splits()[0]

    def fold():
        return run_fold(exp, protocol, job, split, CPU, provenance(exp),
                        store.record, claims=claims)  # fmt: skip

    proc = holder(store.dir, exp.config_hash, exp.dataset.fingerprint, 0)
    assert fold() == [] and not store.path.exists()  # nothing trained or written
    err = capsys.readouterr().err
    assert f"fold 0 is being run by another process (pid {proc.pid} on " in err
    proc.kill()
    proc.wait()
    # the holder finished run 0 before it stopped: only run 1 is left
    done = row(run=0, fingerprint=exp.dataset.fingerprint)
    store.record(replace(done, config_hash=exp.config_hash, fold=0))
    assert [r.run for r in fold()] == [1]
    assert "1 run(s) were finished by another process" in capsys.readouterr().err
    assert sorted(store.read().run) == [0, 1]


def test_a_second_command_leaves_the_held_fold_and_a_rerun_takes_it(cli, holder):
    args = ["train", "pooler=topk", "dataset=mutag", "protocol.folds=3"]
    args += ["protocol.runs=1", *QUICK]
    assert cli(*args, "results.dir=whole").returncode == 0
    whole = rows(cli.cwd, "whole")
    config, data = whole.config_hash[0], whole.data_fingerprint[0]

    proc = holder(cli.cwd / "shared", config, data, 1)
    out = cli(*args, "results.dir=shared", "protocol.n_jobs=2")  # fold workers
    assert out.returncode == 0, out.stderr
    assert sorted(rows(cli.cwd, "shared").fold) == [0, 2]
    assert f"fold 1 is being run by another process (pid {proc.pid} " in out.stderr
    assert "fold 1 is still being run by another process" in out.stderr
    proc.kill()
    proc.wait()

    out = cli(*args, "results.dir=shared")
    assert out.returncode == 0, out.stderr
    assert "1 of 3 runs to do" in out.stderr
    shared = rows(cli.cwd, "shared").sort_values("fold").reset_index(drop=True)
    assert shared.fold.tolist() == [0, 1, 2]  # each once
    # the same numbers as one command that ran every fold
    assert shared.test_acc.tolist() == whole.sort_values("fold").test_acc.tolist()
    assert "still being run" not in out.stderr
    assert os.path.exists(cli.cwd / "shared" / ".claims")


def test_a_look_that_holds_the_lock_for_a_moment_does_not_cost_the_fold(tmp_path):
    """Another command's end-of-run look (held_elsewhere) takes the lock for
    an instant: a claim tried then waits it out rather than leave the fold."""
    import fcntl
    import threading

    claims = FoldClaims(tmp_path, "c0ffee", "d1")
    claims.dir.mkdir(parents=True)
    look = open(claims.path(1), "a+")
    fcntl.flock(look, fcntl.LOCK_EX | fcntl.LOCK_NB)
    threading.Timer(0.04, look.close).start()  # closing drops the lock
    with claims.fold(1) as who:
        assert who is None


def test_a_fold_taken_over_rereads_the_grid_points_finished_meanwhile(tmp_path):
    """A command that takes a fold over (its former holder died mid-selection)
    reuses the candidates that holder wrote after this command read
    selection.csv, rather than train them again."""
    from poolbench.training.selection import SelectionLog

    exp = make_exp(tmp_path)
    claims = FoldClaims(tmp_path / "results", exp.config_hash, exp.dataset.fingerprint)
    finished = {("point", 0): "written by the former holder"}
    log = SelectionLog(None, {}, reread=lambda: finished)
    run_fold(exp, ProtocolConfig(name="holdout", folds=1, runs=1), FoldJob(0, [0]),
             exp.splits()[0], CPU, provenance(exp), lambda row: None,
             selection=log, claims=claims)  # fmt: skip
    assert log.done == finished
