"""Results folders for the app tests, built from the one synthetic run the whole suite shares.

The app scans two roots: the shipped runs ($LTH_PRETRAINED_DIR) and the user's
own (`$LTH_RUNS_DIR`, where the Pruning lab writes). A store here is a shipped
root holding a copy of conftest's `finished_run` (synthetic preset, levels 0-2,
2 trials, every arm) and a run folder whose config.json is corrupt. Copying
takes milliseconds; training it again would take most of a minute on a busy
2-core machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lth.core import config as config_mod
from lth.core import paths

REPO = Path(__file__).resolve().parent.parent
ENTRY = REPO / "app" / "streamlit_app.py"
DAMAGED_NAME = "broken-run"

# The pages (the entry point's st.Page files, by file stem, in its order) and the title each shows.
TITLES = {
    "lesson": "The lesson",
    "start": "The Lottery Ticket Hypothesis",
    "accuracy": "Accuracy vs weights remaining",
    "early_stopping": "How fast do tickets learn?",
    "paper": "Paper vs this run",
    "weights": "Which weights survive?",
    "masks": "What does the ticket keep?",
    "gradient": "Tickets found by gradient descent",
    "init": "Why not prune at the start?",
    "stability": "Why tickets win: stability",
    "structure": "Structured tickets: does pruning save anything?",
    "live": "Run IMP live",
    "lab": "Pruning lab",
    "export": "Figures for this run",
}
# Plotly charts each page draws for the synthetic run (export draws none, it offers a zip).
# The synthetic run has no gate, pruning-at-init or stability sweep and no slimming: those pages explain how to
# add one and draw nothing. The lesson reads the shipped runs by folder (pretrained_runs/lenet-mnist/...), which
# these stores do not have: each step says so and draws nothing.
CHARTS = {"lesson": 0, "start": 1, "accuracy": 1, "early_stopping": 2, "paper": 0, "weights": 3, "masks": 6,
          "gradient": 0, "init": 0, "stability": 0, "structure": 0, "live": 1, "lab": 1, "export": 0}


@dataclass(frozen=True)
class Store:
    shipped: Path  # LTH_PRETRAINED_DIR: the synthetic run and one damaged folder
    run: Path  # the synthetic run's folder inside it
    damaged: Path

    @property
    def run_id(self) -> str:
        return self.run.name


# Pages whose chart is of the run they start themselves, not of the picked run: empty axes until it starts, and no
# downloads (the run is then a run like any other, on every other page).
OWN_RUN = {"live"}
DEFAULT_PAGE = next(iter(TITLES))  # the entry point's default page (its first), served at the app's root


def entry_pages() -> list[str]:
    """The stems of the page files the entry point registers, in its order; a page whose file is not there (yet)
    is left out, as the entry point leaves it out of its list."""
    named = re.findall(r'st\.Page\(\s*"([^"]+\.py)"', ENTRY.read_text())
    return [Path(p).stem for p in named if (ENTRY.parent / p).exists()]


def page_file(stem: str) -> Path:
    """The page script of that name next to the entry point (whatever its folder is called)."""
    hits = sorted(p for p in ENTRY.parent.glob(f"*/{stem}.py") if p.parent.name != "__pycache__")
    assert len(hits) == 1, f"expected one page file {stem}.py under {ENTRY.parent}, found {hits}"
    return hits[0]


def make_store(run: Path, folder: Path) -> Store:
    """A shipped root in `folder` with a copy of `run` and a damaged run folder."""
    shipped = folder / "shipped"
    copy = Path(shutil.copytree(run, shipped / run.name, ignore=shutil.ignore_patterns(".lock", "CANCEL")))
    damaged = shipped / DAMAGED_NAME
    damaged.mkdir()
    paths.config_file(damaged).write_text('{"run_id": "broken", "config": {')  # cut off mid-write
    return Store(shipped, copy, damaged)


def twin_run(run: Path, root: Path, seed: int = 1) -> Path:
    """A second healthy run: `run`'s files under a config that differs only by its seed (so its own run id).

    Its numbers are the original's; the app only needs a second run to pick and overlay.
    """
    blob = json.loads(paths.config_file(run).read_text())
    cfg = config_mod.Config.from_dict(blob["config"]).override(seed=seed)
    twin = Path(shutil.copytree(run, Path(root) / cfg.run_id, ignore=shutil.ignore_patterns(".lock", "CANCEL")))
    paths.config_file(twin).write_text(json.dumps({**blob, "run_id": cfg.run_id, "config": cfg.to_dict()}))
    return twin


@contextmanager
def app_on(runs: Path):
    """AppTest pages reading `runs` as the shipped root (and no user runs), with the app's caches empty before and
    after; yields open(stem, run_id) -> the AppTest after switching to that page."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    saved = {k: os.environ.get(k) for k in ("LTH_PRETRAINED_DIR", "LTH_RUNS_DIR")}
    os.environ["LTH_PRETRAINED_DIR"], os.environ["LTH_RUNS_DIR"] = str(runs), str(runs.parent / "none")
    st.cache_data.clear()
    st.cache_resource.clear()

    def open_page(stem: str, run_id: str, **state) -> AppTest:
        at = AppTest.from_file(str(ENTRY), default_timeout=60)
        at.query_params["run"] = run_id[:12]
        for k, v in state.items():
            at.session_state[k] = v
        at.run()
        at.switch_page(str(page_file(stem).relative_to(ENTRY.parent))).run()
        assert not at.exception and not at.error, (stem, [e.value for e in [*at.exception, *at.error]])
        return at

    try:
        yield open_page
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        st.cache_data.clear()
        st.cache_resource.clear()
