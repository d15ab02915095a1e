"""The lab's warm worker (lth.lab.warm, lth.cli.worker): a child forked per experiment computes what `lth run` does,
reports its exit code and its one-line error, and a worker that died is started again.

One real worker for the module (its imports take a few seconds); the runs are tiny synthetic ones.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from helpers import options

from lth.core import config, paths, store
from lth.lab import jobs, warm
from lth.tickets import lottery

CFG = config.preset("synthetic").override(levels=1, iterations=40, eval_every=20)
ARGS = ["--preset", "synthetic", "--levels", "1", "--iterations", "40", "--eval-every", "20", "--device", "cpu",
        "--no-download", "--quiet"]


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    w = warm.Worker(tmp_path_factory.mktemp("worker") / "worker.log")
    w.start()
    yield w
    w.stop()


def wait(child, timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while (code := child.poll()) is None:
        assert time.monotonic() < deadline, "the child never ended"
        time.sleep(0.05)
    return code


def test_a_forked_child_computes_the_run_as_lth_run_does(worker, tmp_path):
    log = tmp_path / "run.log"
    child = worker.launch(["run", *ARGS, "--runs-dir", str(tmp_path / "forked")], log)
    assert child.poll() is None or child.poll() == 0
    assert wait(child) == 0, log.read_text()
    forked = tmp_path / "forked" / CFG.run_id
    assert store.read_status(forked)["state"] == "done" and store.is_complete(forked, CFG)
    reference = lottery.run(CFG, tmp_path / "here", options())
    for level in (0, 1):  # the same numbers, bit for bit
        a = store.read_json(paths.unit_summary(forked, level, 0))
        b = store.read_json(paths.unit_summary(reference, level, 0))
        assert [r["test_acc_at_early_stop"] for r in a["rows"]] == [r["test_acc_at_early_stop"] for r in b["rows"]]
        ma, mb = (store.read_npz(paths.unit_masks(run, level, 0)) for run in (forked, reference))
        assert ma.keys() == mb.keys() and all(np.array_equal(ma[k], mb[k]) for k in ma)
    assert paths.prune_curve(forked, 0).exists() and not paths.pending_dense(forked, 0).exists()


def test_a_failing_child_reports_its_code_and_the_cli_error(worker, tmp_path):
    log = tmp_path / "bad.log"
    child = worker.launch(["run", *ARGS, "--runs-dir", str(tmp_path), "--lr", "-1"], log)
    assert wait(child) == 2  # the CLI's code for bad input
    job = jobs.Job(CFG, tmp_path / CFG.run_id, log, child)
    assert not job.running and job.error().startswith("lth run: error: --lr=")


def test_a_worker_that_died_is_started_again(worker, tmp_path):
    worker.process.kill()
    worker.process.wait()
    child = worker.launch(["run", *ARGS, "--runs-dir", str(tmp_path)], tmp_path / "again.log")
    assert wait(child) == 0 and worker.process.poll() is None


def test_the_worker_ends_when_the_app_goes_and_a_child_outlives_it(tmp_path):
    w = warm.Worker(tmp_path / "worker.log")
    cancel = paths.cancel_file(tmp_path / CFG.override(iterations=4000).run_id)
    child = w.launch(["run", *ARGS, "--iterations", "4000", "--runs-dir", str(tmp_path)], tmp_path / "long.log")
    w.process.stdin.close()  # the app's end of the pipe: the worker stops taking experiments
    deadline = time.monotonic() + 120
    while store.read_status(cancel.parent).get("state") != "running":
        assert child.poll() is None and time.monotonic() < deadline  # the experiment goes on
        time.sleep(0.05)
    cancel.touch()  # Cancel, as the page does it
    assert wait(child) == 130 and w.process.wait(timeout=60) == 0
    assert store.read_status(cancel.parent)["state"] == "cancelled"


def test_the_lab_starts_its_experiments_through_the_shared_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(warm, "_shared", {})
    monkeypatch.setenv(warm.WORKER_VARIABLE, "0")  # off: a subprocess of its own, as before the worker
    job = jobs.start(CFG, "synthetic", tmp_path / "own", Path("unused"), device="cpu")
    assert not isinstance(job.process, warm.Child) and job.process.wait(timeout=180) == 0 and not warm._shared
    monkeypatch.setenv(warm.WORKER_VARIABLE, "1")
    job = jobs.start(CFG, "synthetic", tmp_path, Path("unused"), device="cpu")
    try:
        assert isinstance(job.process, warm.Child)
        assert wait(job.process) == 0 and not job.running and job.error() == ""
        assert store.is_complete(job.run_dir, CFG)
        assert jobs.start(CFG, "synthetic", tmp_path, Path("unused")).process is None  # done: nothing to start
    finally:
        warm._shared["worker"].stop()
