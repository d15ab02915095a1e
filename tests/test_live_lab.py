"""IMP live's runs (lth.lab.live): which preset, which run the page shows, what the button submits, and the state
read back from the run's folder and the server's queue, so a reload or a second browser shows the same."""

from __future__ import annotations

import pytest
from test_lab_queue import Process, launched  # noqa: F401 (a fixture)

from lth.core import config, paths, store
from lth.lab import jobs, live, queue

SHAPE = (1, 28, 28)


def folder(runs, cfg: config.Config, levels_done: int = 0):
    """A run folder of `cfg` with its first `levels_done` levels finished (their summaries), nothing computed."""
    run_dir = store.create(runs, cfg, SHAPE, 10)
    for level in range(levels_done):
        summary = paths.unit_summary(run_dir, level, 0)
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text("{}")
    return run_dir


def test_real_mnist_where_it_is_else_the_synthetic_set_saying_why(tmp_path):
    name, note = live.choose(tmp_path)
    assert name == "synthetic" and f"No mnist.npz in {tmp_path}" in note
    (tmp_path / "mnist.npz").touch()
    assert live.choose(tmp_path) == ("lenet-mnist-live", "")


def test_the_page_shows_the_highest_seed_and_the_button_starts_the_next_once_it_is_done(tmp_path):
    base = config.preset("synthetic")
    assert live.current("synthetic", tmp_path) is None and live.to_start("synthetic", tmp_path) == base
    folder(tmp_path, base, levels_done=4)  # seed 0, finished (levels 0-3)
    folder(tmp_path, base.override(lr=1e-2, seed=7))  # another experiment of the lab: not a live run
    assert live.current("synthetic", tmp_path) == base
    second = live.to_start("synthetic", tmp_path)
    assert second == base.override(seed=1)
    folder(tmp_path, second, levels_done=2)  # stopped half-way: the button resumes it, the page shows it
    assert live.current("synthetic", tmp_path) == second == live.to_start("synthetic", tmp_path)
    assert set(live.seeds("synthetic", tmp_path)) == {0, 1}


def test_a_run_still_in_the_queue_is_shown_before_its_folder_exists(tmp_path, launched):  # noqa: F811
    lab = queue.Lab(limit=1)
    other = config.preset("synthetic").override(lr=1e-2)
    assert lab.submit(other, "synthetic", tmp_path, tmp_path) == "started"
    first = live.to_start("synthetic", tmp_path, lab)
    assert lab.submit(first, "synthetic", tmp_path, tmp_path) == "queued"
    assert live.current("synthetic", tmp_path, lab) == first
    b = live.board(first, tmp_path, lab)
    assert (b.state, b.place, b.active) == ("waiting", 1, True)
    assert live.to_start("synthetic", tmp_path, lab) == first  # a second press joins it
    assert lab.submit(first, "synthetic", tmp_path, tmp_path) == "joined"


def test_the_board_reads_the_state_from_the_folder_and_the_queue(tmp_path, launched):  # noqa: F811
    lab, cfg = queue.Lab(limit=1), config.preset("synthetic")
    assert live.board(cfg, tmp_path, lab).state == "idle"
    lab.submit(cfg, "synthetic", tmp_path, tmp_path)
    assert live.board(cfg, tmp_path, lab).state == "starting"  # its process is loading: no folder yet
    run_dir = folder(tmp_path, cfg, levels_done=2)
    store.write_status(run_dir, state="running", eta_seconds=3.0, level=2, fraction=0.5)
    b = live.board(cfg, tmp_path, lab)
    assert (b.state, b.levels_done, b.status["eta_seconds"], b.active) == ("running", [0, 1], 3.0, True)
    live.cancel(b)
    assert paths.cancel_file(run_dir).exists()
    store.write_status(run_dir, state="cancelled")
    launched[cfg.run_id].code = 130
    b = live.board(cfg, tmp_path, lab)
    assert (b.state, b.active) == ("cancelled", False)
    for level in (2, 3):
        folder_unit = paths.unit_summary(run_dir, level, 0)
        folder_unit.parent.mkdir(parents=True, exist_ok=True)
        folder_unit.write_text("{}")
    assert live.board(cfg, tmp_path, lab).state == "done"
    assert live.board(cfg, tmp_path).state == "done"  # another server, or after a restart: the folder says it


@pytest.mark.parametrize("status, code, state, error", [
    ({"state": "running"}, None, "interrupted", ""),  # killed: its lock is gone
    ({"state": "failed", "error": "diverged: loss nan"}, None, "failed", "diverged: loss nan"),
    ({"state": "running"}, 1, "failed", "lth run: error: something"),  # this server's process, ended badly
])
def test_a_run_that_stopped_says_how(tmp_path, status, code, state, error):
    cfg = config.preset("synthetic")
    run_dir = folder(tmp_path, cfg, levels_done=1)
    store.write_status(run_dir, **status)
    lab = queue.Lab(limit=1)
    if code is not None:  # its log's last line is the error
        (tmp_path / "log").write_text("lth run: error: something\n")
        lab.jobs[cfg.run_id] = jobs.Job(cfg, run_dir, tmp_path / "log", Process())
        lab.jobs[cfg.run_id].process.code = code
    b = live.board(cfg, tmp_path, lab)
    assert (b.state, b.active, b.error) == (state, False, error)
