"""The live page's board: the run's chart growing a point per arm as each level finishes, beside it the level
reached, the time left and Cancel, under it the sentence that says what the class saw. Everything is read from the
run's folder (lth.lab.live), so a reload or a second browser shows the same; a fragment polls while it trains."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st
from lib import charts, present

from lab import shared
from lth.core.config import Config
from lth.lab import live
from lth.report import figures
from lth.report import live as live_report
from lth.runs import results, tables

POLL_SECONDS = 0.5
NOTES = {  # what the button did, shown once
    "started": "Started: the first level appears in a second or two.",
    "queued": "Queued: another lab experiment is training on this server; this one starts when it ends.",
    "joined": "Already running: you joined it.",
    "done": "This run is already finished: here it is.",
}


@st.cache_resource(show_spinner=False, max_entries=64)
def drawn(run_dir: str, levels: tuple[int, ...], _config: Config) -> tuple[figures.Chart, str, float | None]:
    """The chart, the sentence and the % remaining at the last finished level, built once per (run, levels
    finished) and shared by every session watching it."""
    summary = results.Run(Path(run_dir)).summary() if levels else pd.DataFrame()
    chart = live_report.chart(summary, _config)
    if summary.empty:
        return chart, "", None
    percent = float(tables.at(summary, "ticket", level=max(levels)).percent_remaining)
    return chart, live_report.sentence(summary), percent


def show(config: Config, runs_dir: Path) -> None:
    """The board of the live run of `config`; it polls while the run waits, starts or trains."""
    active = live.board(config, runs_dir, shared.lab()).active
    st.fragment(run_every=POLL_SECONDS if active else None)(_board)(config, runs_dir, active)


def _board(config: Config, runs_dir: Path, polling: bool) -> None:
    lab = shared.lab()
    lab.pump()  # a finished experiment frees its slot: a waiting live run starts
    b = live.board(config, runs_dir, lab)
    if b.active != polling:  # started elsewhere, or ended: the whole page again, polling or not
        st.rerun()
    chart, sentence, percent = drawn(str(b.run_dir), tuple(b.levels_done), config)
    left, right = st.columns([4, 1], gap="medium")
    figure = charts.projector(chart.figure, 0.8) if present.on() else chart.figure  # a styled copy, cache kept
    left.plotly_chart(figure, key="live-chart", theme=None, width="stretch")
    with right:
        reached = max(b.levels_done) if b.levels_done else None
        st.metric("Level reached", "–" if reached is None else f"{reached} of {b.levels}")
        st.metric("Weights remaining", "–" if percent is None else f"{percent:.1f}%")
        _progress(b)
    if config.experiment.label:  # what was cut to make it live, said under the chart
        left.caption(config.experiment.label)
    if b.state == "done" and sentence:
        st.success(f"#### {sentence}", icon=":material/emoji_events:")
    elif b.state == "idle":
        st.info("Nothing has run here yet: press **Run IMP live**.", icon=":material/play_circle:")
    elif b.state == "cancelled":
        st.warning("Cancelled" + (f" after level {reached}" if reached is not None else "")
                   + ". Press **Run IMP live** to go on from there.", icon=":material/pause_circle:")
    elif b.state == "interrupted":
        st.warning("This run stopped before its last level. Press **Run IMP live** to go on from there.",
                   icon=":material/pause_circle:")
    elif b.state == "failed":
        st.error(f"The run failed: {b.error or 'see its log in the runs folder'}")


def _progress(b: live.Board) -> None:
    """The time left and Cancel while the run trains; what it waits for otherwise."""
    if b.state == "waiting":
        st.metric("Time left", "waiting")
        st.caption(f"Place {b.place} in this server's queue: another lab experiment is training.")
    elif b.state == "starting":
        st.metric("Time left", "starting")
        st.caption("Loading the data set and the network.")
    elif b.state == "running":
        eta = b.status.get("eta_seconds")
        # no progress bar: its animation alone cost the browser ~7% of a core at each poll, which the training's
        # two threads on a 2-core laptop paid many times over
        st.metric("Time left", f"≈ {eta:.0f} s" if eta is not None else "measuring")
    elif b.state == "done":
        st.metric("Time left", "done")
    if b.active and st.button("Cancel", key="live-cancel", icon=":material/stop_circle:"):
        live.cancel(b)
