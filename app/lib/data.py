"""Runs read through lth.runs: one Run per (folder, stamp), shared by every session, and what it cannot read.

A run's stamp (results.stamp) changes whenever it records progress, so a run still training shows new levels as
they land. A page calls the Run's own methods and lth.runs' tables on it: through `read` where that is cheap or
kept on the Run (its summary), through `cached` where it opens many files (masks, curves, histograms, tables of
every unit). Either returns None after one visible error naming what could not be read, never an exception.
What the run itself names as damaged (`Run.problems`: a damaged sweep, an old layout, an unreadable unit) shows
once per page, as warnings at its top.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Callable, TypeVar

import pandas as pd
import streamlit as st

from lth.core import paths
from lth.runs import results

T = TypeVar("T")
DAMAGED = (OSError, ValueError, KeyError)  # what a damaged file raises on reading
TOP = "_run_problems"  # session state: the page's warnings container (at its top) and the problems it shows


def roots() -> dict[str, Path]:
    """Shipped results first, then the user's own runs (where the pruning lab writes)."""
    return {"shipped": paths.pretrained_dir(), "yours": paths.runs_dir()}


@st.cache_data(ttl=2, show_spinner=False)
def run_index() -> pd.DataFrame:
    return results.index(roots())


def stamp(path: str) -> float:
    """The run's stamp (results.stamp), read at most once a second per run: a page asks for it at every read and
    chart, and a class asks together; a run's progress shows within a second."""
    return _stamp_in(path, int(time.monotonic()))


@functools.lru_cache(maxsize=256)
def _stamp_in(path: str, second: int) -> float:
    return results.stamp(Path(path))


@st.cache_resource(show_spinner=False, max_entries=32)
def _open(path: str, stamp: float) -> results.Run:
    return results.Run(Path(path))


def open_run(path: str) -> results.Run:
    """The run as it is now: opened once per (folder, stamp) on this server, its damaged parts in `problems`."""
    return _open(path, stamp(path))


def read(run: results.Run, what: Callable[..., T], *args, **kwargs) -> T | None:
    """`what(run, *args, **kwargs)`, e.g. read(run, Run.summary) or read(run, Run.weight_stats, level); None after a
    visible error where the run's files are damaged."""
    return _guarded(run, what, lambda: what(run, *args, **kwargs))


def cached(run: results.Run, what: Callable[..., T], *args, **kwargs) -> T | None:
    """As `read`, kept per (run as it is now, what, arguments) on this server, each session given its own copy:
    for reads that open many files, e.g. cached(run, Run.masks, point=2) or cached(run, tables.cost_table)."""
    path = str(run.path)
    now = stamp(path)
    key = (what.__module__, what.__qualname__, args, tuple(sorted(kwargs.items())))
    return _guarded(_open(path, now), what, lambda: _cached(path, now, key, what))


@st.cache_data(show_spinner=False, max_entries=128)
def _cached(path: str, stamp: float, key: tuple, _what: Callable):
    _, _, args, kwargs = key
    return _what(_open(path, stamp), *args, **dict(kwargs))


def _guarded(run: results.Run, what: Callable, get: Callable[[], T]) -> T | None:
    try:
        return get()
    except DAMAGED as err:
        st.error(f"This run's {what.__name__.replace('_', ' ')} could not be read ({err}). The folder may be "
                 "damaged: the other runs and pages still work.")
        return None
    finally:
        report(run)  # a read names what it could not read in run.problems


def watch() -> None:
    """Here, at the top of the page, a place for the warnings `report` writes while the page reads its runs."""
    st.session_state[TOP] = (st.container(), set())


def report(run: results.Run) -> None:
    """Each of the run's problems not yet on this page, as a warning at the page's top (see `watch`)."""
    top, shown = st.session_state.get(TOP) or (st.container(), set())
    for problem in list(run.problems):
        if problem not in shown:
            shown.add(problem)
            top.warning(f"Part of run `{run.run_id[:6]}` is left out, as it could not be read: {problem}",
                        icon=":material/warning:")
