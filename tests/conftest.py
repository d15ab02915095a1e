"""Fixtures: an isolated data/runs location, tiny data, and one small finished run.

Nothing here downloads or reads ../shared/data: LTH_DATA_DIR points at an empty
temporary folder for the whole session, and subprocesses inherit it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `lth` importable from a bare `pytest` too
# One intra-op thread (unless the caller chose): the tests' models are tiny, and on a busy 2-core machine
# OpenMP threads spin waiting for each other, which made the suite 3-4x slower. Set before torch loads, so
# subprocesses inherit it and compute bit-for-bit what this process computes.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Lab experiments as plain subprocesses, unless a test asks for the warm worker (tests/test_live_worker.py and
# tests/test_browser_live.py do): a page visit in AppTest would otherwise start one in the pytest process.
os.environ.setdefault("LTH_LAB_WORKER", "0")

from helpers import GATE_SWEEPS, INIT_SWEEPS, SMALL, STABILITY, FinishedRun, options  # noqa: E402

from lth.core import config  # noqa: E402
from lth.engine import data  # noqa: E402
from lth.tickets import gate_search, init_search, lottery, stability  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def isolated_env(tmp_path_factory):
    saved = {k: os.environ.get(k) for k in ("LTH_DATA_DIR", "LTH_RUNS_DIR")}
    os.environ["LTH_DATA_DIR"] = str(tmp_path_factory.mktemp("empty_data"))
    os.environ["LTH_RUNS_DIR"] = str(tmp_path_factory.mktemp("default_runs"))
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, isolated_env) -> FinishedRun:
    """preset('synthetic') with SMALL overrides (all arms, 2 trials, levels 0-2), computed once.

    Shared by many tests: read it, never write into it.
    """
    cfg = config.preset("synthetic").override(**SMALL)
    runs_dir = tmp_path_factory.mktemp("shared_runs")
    path = lottery.run(cfg, runs_dir, options())
    return FinishedRun(cfg, runs_dir, path, data.load(cfg.data, Path("unused")))


@pytest.fixture(scope="session")
def gated_run(tmp_path_factory, isolated_env) -> FinishedRun:
    """A SMALL run (1 trial) plus a tiny sweep of every gate method (3 points each): arms of every kind.

    Shared: read it, never write into it.
    """
    cfg = config.preset("synthetic").override(**{**SMALL, "trials": 1})
    runs_dir = tmp_path_factory.mktemp("gated_runs")
    path = lottery.run(cfg, runs_dir, options())
    for gcfg in GATE_SWEEPS:
        gate_search.run(path, gcfg, options())
    return FinishedRun(cfg, runs_dir, path, data.load(cfg.data, Path("unused")))


@pytest.fixture(scope="session")
def init_run(finished_run, tmp_path_factory) -> FinishedRun:
    """A copy of `finished_run` plus SNIP, GraSP and SynFlow with their sanity checks at levels 1 and 2, trial 0,
    and a small stability analysis (STABILITY).

    Shared: read it, never write into it.
    """
    path = Path(shutil.copytree(finished_run.path, tmp_path_factory.mktemp("init_runs") / finished_run.path.name))
    for icfg in INIT_SWEEPS:
        init_search.run(path, icfg, options())
    stability.run(path, STABILITY, options())
    return FinishedRun(finished_run.config, path.parent, path, finished_run.dataset)


@pytest.fixture(scope="session")
def tiny_data() -> data.Dataset:
    """300 synthetic 1x8x8 images (240 train / 60 val) and 60 test: for training-loop tests."""
    cfg = config.DataConfig(dataset="synthetic", synthetic_shape="1x8x8", synthetic_train=300,
                            synthetic_test=60, validation_size=60)
    return data.load(cfg, Path("unused"))


@pytest.fixture(scope="module")
def browser():
    """One headless Debian Chromium for a browser test module (tests/test_browser*.py skip without it)."""
    from playwright import sync_api
    from test_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
