"""`--cluster`: a run and a sweep on a real two-node Ray cluster equal local ones, even when a node dies mid-run.

The cluster is real: a head and a worker node started with `ray start` as separate process groups on this
machine (one CPU each), the driver a separate `python -m lth` process, as a user runs them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import GATE_SWEEPS, STABILITY, lth_command, options, run_lth, stamps, subprocess_env

from lth.bench.classroom import free_port
from lth.cluster import execute as cluster_mod
from lth.core import config, paths, store
from lth.core.init_config import InitConfig
from lth.runs import results
from lth.tickets import gate_search, init_search, lottery, stability

pytest.importorskip("ray")

RAY = str(Path(sys.executable).with_name("ray"))
# Long enough that the worker node is mid-task when it is killed: 3 trials x 4 levels, one trial per task.
ARGS = ["--preset", "synthetic", "--iterations", "300", "--eval-every", "50", "--levels", "3", "--trials", "3",
        "--trials-together", "1", "--device", "cpu", "--no-download", "--quiet"]
SWEEP = InitConfig(method="snip", levels="1,3", trials=2)


def timeless(summary):
    """A summary without its wall-clock times (any key naming seconds), which no two runs share."""
    if isinstance(summary, dict):
        return {k: timeless(v) for k, v in summary.items() if "seconds" not in k}
    if isinstance(summary, list):
        return [timeless(v) for v in summary]
    return summary


def assert_same_arrays(a: Path, b: Path) -> None:
    """Two .npz files hold the same arrays, bit for bit, but wall-clock times (and their zip headers carry the
    time they were written)."""
    x, y = store.read_npz(a), store.read_npz(b)
    assert x.keys() == y.keys(), (a, b)
    for k in (k for k in x if "seconds" not in k):
        np.testing.assert_array_equal(x[k], y[k], err_msg=f"{a}: {k}", strict=True)


def assert_same_files(mine: Path, theirs: Path) -> None:
    """Every array and curve file under `mine` is under `theirs` with the same contents."""
    for f in sorted(mine.rglob("*")):
        other = theirs / f.relative_to(mine)
        if f.suffix == ".npz":
            assert_same_arrays(f, other)
        elif f.suffix == ".parquet":
            assert other.read_bytes() == f.read_bytes(), f


def wait_for(what: str, ready, timeout: float) -> None:
    deadline = time.time() + timeout
    while not ready():
        if time.time() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.25)


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def stop(proc: subprocess.Popen) -> None:
    """The node's whole process group (raylet, GCS, its workers), as a crash or `kill -9` would."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head node and a worker node (1 CPU each) behind one token; yields (address, env, worker process)."""
    logs = tmp_path_factory.mktemp("ray_logs")
    # Ray's own folder, short (socket paths are limited to 107 bytes) and not /tmp/ray, where a killed cluster
    # would be left as the one `--cluster auto` finds
    scratch = tempfile.mkdtemp(prefix="lth-ray-")
    token = secrets.token_hex(32)
    # a dead node is noticed in about 3 s rather than Ray's default 30 s
    env = subprocess_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token, RAY_health_check_period_ms="1000",
                         RAY_health_check_failure_threshold="3", RAY_health_check_initial_delay_ms="1000")
    port = free_port()
    address = f"127.0.0.1:{port}"

    def node(name: str, *flags: str) -> subprocess.Popen:
        return subprocess.Popen([RAY, "start", "--block", "--num-cpus", "1", "--disable-usage-stats",
                                 f"--temp-dir={scratch}", *flags],
                                env=env, start_new_session=True, stdout=open(logs / f"{name}.log", "w"),
                                stderr=subprocess.STDOUT)

    head = node("head", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--include-dashboard=false")
    worker = None
    try:
        wait_for("the head node", lambda: answers(port), 90)
        worker = node("worker", f"--address={address}")
        status = [RAY, "status", f"--address={address}"]
        wait_for("the worker node", lambda: subprocess.run(status, env=env, capture_output=True, text=True,
                                                           timeout=30).stdout.count(" node_") == 2, 90)
        yield address, env, worker
    finally:
        for proc in (worker, head):
            if proc is not None:
                stop(proc)
        shutil.rmtree(scratch, ignore_errors=True)


def test_a_run_on_a_cluster_equals_a_local_run_though_a_node_and_the_driver_die(cluster, tmp_path):
    """A worker node killed mid-task (Ray runs its task again elsewhere), then the driver killed (a new one
    computes only the missing units): the run's numbers are a local run's."""
    address, env, worker = cluster
    cfg = config.preset("synthetic").override(iterations=300, eval_every=50, levels=3, trials=3)
    runs = tmp_path / "cluster_runs"
    run_dir = runs / cfg.run_id
    command = lth_command("run", *ARGS, "--runs-dir", str(runs), "--cluster", address)

    def units() -> int:
        return len(list(runs.rglob("summary.json")))

    log = tmp_path / "driver.log"
    driver = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    try:
        wait_for("the first unit", lambda: units() >= 1 or driver.poll() is not None, 120)
        assert driver.poll() is None, log.read_text()
        # progress as a local run reports it (written at most once a second)
        wait_for("progress", lambda: store.read_json(paths.status_file(run_dir)).get("fraction", 0) > 0, 30)
        status = store.read_json(paths.status_file(run_dir))
        assert status["state"] == "running" and status["fraction"] < 1 and status["eta_seconds"] > 0
        stop(worker)  # both nodes are mid-task: 3 trials' chains on 2 CPUs
        wait_for("the driver to see the node leave",
                 lambda: "a node left the cluster" in log.read_text() or driver.poll() is not None, 120)
        assert driver.poll() is None and units() < 12, log.read_text()
    finally:
        driver.kill()
        driver.wait(timeout=30)
    before = stamps(run_dir / "levels")
    done_before = {p.parent for p in (run_dir / "levels").rglob("summary.json")}

    resumed = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    after = stamps(run_dir / "levels")
    assert {k: v for k, v in after.items() if (run_dir / "levels" / k).parent in done_before} == \
           {k: v for k, v in before.items() if (run_dir / "levels" / k).parent in done_before}  # not redone
    assert store.read_json(paths.status_file(run_dir))["state"] == "done"

    cfg = config.preset("synthetic").override(iterations=300, eval_every=50, levels=3, trials=3)
    local = lottery.run(cfg, tmp_path / "local_runs", options(trials_together=1))
    remote = results.Run(run_dir)
    assert store.read_execution(remote.path) == store.read_execution(local)  # threads 1: OMP_NUM_THREADS here
    assert sorted(remote.units) == sorted(results.Run(local).units) == [(lv, t) for lv in range(4) for t in range(3)]
    order = ["level", "trial", "arm", "replicate", "iteration"]
    pd.testing.assert_frame_equal(remote.curves().sort_values(order, ignore_index=True),
                                  results.Run(local).curves().sort_values(order, ignore_index=True),
                                  check_exact=True)
    for level, trial in remote.units:  # every recorded number but the wall-clock time
        a, b = (store.read_json(paths.unit_summary(r, level, trial)) for r in (remote.path, local))
        assert timeless(a) == timeless(b)
    assert_same_files(local, remote.path)

    # a sweep's trials as tasks on the same cluster (now the head alone): the same masks and curves
    result = run_lth("prune-init", str(remote.path), "--method", SWEEP.method, "--levels", SWEEP.levels,
                     "--trials", str(SWEEP.trials), "--device", "cpu", "--no-download", "--quiet",
                     "--cluster", address, timeout=240, **{k: env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")})
    assert result.returncode == 0, result.stderr
    mine = init_search.run(local, SWEEP, options())
    theirs = remote.path / mine.relative_to(local)
    assert store.read_json(theirs / "status.json")["state"] == "done"
    assert sorted(p.relative_to(theirs) for p in theirs.rglob("*") if p.name != ".lock") == \
           sorted(p.relative_to(mine) for p in mine.rglob("*") if p.name != ".lock")
    assert_same_files(mine, theirs)


SLIM = dict(dataset="synthetic", synthetic_shape="1x12x12", synthetic_train=400, validation_size=100,
            synthetic_test=100, model="vgg6_w8", optimizer="sgd", lr=0.05, iterations=20, eval_every=10,
            batch_size=32, levels=2, slimming=True, random_prune=0, one_shot=False, strategy="global",
            global_layers="conv")


def test_a_slimming_run_on_a_cluster_equals_a_local_one(cluster, tmp_path):
    """Network slimming's fine-tuned network continues from the level before's saved weights: on a cluster each
    level's task gets them, and every number but the wall-clock and inference times is a local run's."""
    address, env, _ = cluster
    cfg = config.Config().override(**SLIM)
    flags = [f for k, v in SLIM.items() for f in ((config.flag(k),) if v is True else (f"--no-{config.flag(k)[2:]}",)
                                                  if v is False else (config.flag(k), str(v)))]
    result = run_lth("run", *flags, "--runs-dir", str(tmp_path / "cluster_runs"), "--device", "cpu", "--no-download",
                     "--quiet", "--cluster", address, timeout=240,
                     **{k: env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")})
    assert result.returncode == 0, result.stderr
    remote = tmp_path / "cluster_runs" / cfg.run_id
    local = lottery.run(cfg, tmp_path / "local_runs", options())
    assert sorted(results.Run(remote).units) == [(lv, 0) for lv in range(3)]

    def untimed(blob):
        """`blob` without its timings (seconds, measured inference), at every depth."""
        if isinstance(blob, dict):
            return {k: untimed(v) for k, v in blob.items() if "seconds" not in k and "inference" not in k}
        if isinstance(blob, list):
            return [untimed(v) for v in blob]
        return blob

    for level in range(3):
        a, b = (store.read_json(paths.unit_summary(r, level, 0)) for r in (remote, local))
        assert untimed(a) == untimed(b)
    assert (paths.unit_slim_weights(remote, 1, 0)).exists()
    assert_same_files(local, remote)


@pytest.mark.parametrize("flags, message", [
    (["--cluster", ""], "--cluster='' is not allowed: give auto, local, or a Ray address"),
    (["--cluster", "nonsense"], "--cluster=nonsense is not allowed: give auto, local, or a Ray address host:port"),
    (["--cluster", "local", "--cluster-cpus", "0"], "--cluster-cpus=0 is not allowed: an integer >= 1"),
    (["--cluster-cpus", "2"], "--cluster-cpus=2 is not allowed without --cluster"),
])
def test_bad_cluster_flags_are_refused_before_any_work(flags, message, tmp_path):
    result = run_lth("run", *ARGS, "--runs-dir", str(tmp_path / "runs"), *flags)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_cluster_nobody_serves_is_refused_at_once(tmp_path):
    port = free_port()  # bound, then released: nothing listens there
    result = run_lth("prune-init", "unused", "--method", "snip", "--cluster", f"127.0.0.1:{port}",
                     "--runs-dir", str(tmp_path))
    assert result.returncode == 2
    assert f"--cluster=127.0.0.1:{port}: no Ray cluster answered" in result.stderr
    assert "ray start --head" in result.stderr  # at once, not after Ray's minutes of retries (run_lth's timeout)


@pytest.fixture
def local_cluster():
    """`--cluster local`: a one-machine Ray cluster inside this process, shut down after the test."""
    import ray

    yield cluster_mod.connect(cluster_mod.check("local", 1))
    ray.shutdown()


@pytest.mark.parametrize("kind", ["gates", "stability"])
def test_sweeps_on_a_local_cluster_equal_local_sweeps(kind, local_cluster, gated_run, init_run, tmp_path):
    """A gate sweep (whose trials keep learned masks between rounds) and an instability analysis (pairs of
    copies per trial) as cluster tasks: the arrays and curves a local sweep wrote, bit for bit."""
    reference, job = {
        "gates": (gated_run, partial(gate_search.job, gcfg=GATE_SWEEPS[2])),
        "stability": (init_run, partial(stability.job, scfg=STABILITY)),
    }[kind]
    path = Path(shutil.copytree(reference.path, tmp_path / reference.path.name,
                                ignore=shutil.ignore_patterns("methods")))
    folder = cluster_mod.run_sweep(job(path), options(), cluster_mod.check("local", 1))
    mine = reference.path / folder.relative_to(path)
    assert store.read_json(folder / "status.json")["state"] == "done"
    assert sorted(p.relative_to(folder) for p in folder.rglob("*") if p.name != ".lock") == \
           sorted(p.relative_to(mine) for p in mine.rglob("*") if p.name != ".lock")
    assert_same_files(mine, folder)
    for f in mine.rglob("summary.json"):
        assert timeless(store.read_json(folder / f.relative_to(mine))) == timeless(store.read_json(f)), f


@pytest.mark.parametrize("flags, message", [
    (["--workers", "1,1"], "--workers=1,1 is not allowed: distinct integers >= 1"),
    (["--workers", "two"], "--workers='two' is not allowed: comma-separated integers >= 1"),
    (["--trials", "1"], "--trials=1 is not allowed: at least 2"),
])
def test_cluster_bench_refuses_bad_input(flags, message):
    result = run_lth("cluster-bench", *flags)
    assert result.returncode == 2 and message in result.stderr
