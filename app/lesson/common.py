"""What every step of the lesson shares: the shipped run it reads (by folder), the question asked before the answer
is shown, the link to the page that goes deeper, and a chart's subtitle short enough for a projector."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import pandas as pd
import streamlit as st
from lib import charts, data, present
from streamlit.delta_generator import DeltaGenerator

from lth.core import paths
from lth.core.config import ConfigError
from lth.report import figures
from lth.runs import tables
from lth.runs.results import Run

VIEWS = Path(__file__).resolve().parent.parent / "views"
HINT = "Think, discuss, then pick an answer: the chart appears once you have."
PICTURE = 590  # px: the most a chart takes in presenter mode, under the lesson's first row on a 720 px screen


def shipped(folder: str, wants: Callable[[Run], bool] = lambda run: True, what: str = "") -> Run | None:
    """The shipped run in pretrained_runs/<folder> (or $LTH_PRETRAINED_DIR's) that `wants`; where there is none, or
    it cannot be read, a note saying so and None: the lesson goes on without this step's chart."""
    root = (paths.pretrained_dir() / folder).resolve()
    index = data.run_index()
    rows = index[(index.damaged == "") & (index.units_done > 0)]
    for path in rows.path:
        if Path(path).resolve().parent != root:
            continue
        try:
            run = data.open_run(str(path))
        except (ConfigError, OSError, ValueError):
            continue
        if wants(run):
            data.report(run)
            return run
    st.info(f"This step reads the shipped run `{folder}/`{what}, which is missing or damaged in "
            f"`{paths.pretrained_dir()}`. The other steps still work, and **Pruning lab** makes a run of your own.",
            icon=":material/folder_off:")
    return None


def imp_summary(run: Run | None) -> pd.DataFrame | None:
    """The run's IMP rows (every arm of IMP and its controls); None, after a message, where there are none."""
    summary = data.read(run, Run.summary) if run is not None else None
    rows = None if summary is None else tables.imp_rows(summary)
    if rows is not None and rows.empty:
        st.info("This run has no finished level yet: this step fills in as they land.")
    return None if rows is None or rows.empty else rows


@dataclass(frozen=True)
class Panes:
    """Where a step draws: its story (text, question, verdict, link) and its picture (the chart). In presenter mode
    side by side, so that a step is one screen of a projector (1280x720); otherwise one below the other."""

    story: DeltaGenerator
    picture: DeltaGenerator


def panes() -> Panes:
    if present.on():
        return Panes(*st.columns([5, 7], gap="large"))
    box = st.container()
    return Panes(box, box)


def show(p: Panes, chart: figures.Chart, key: str) -> None:
    """The step's chart in its picture pane: in presenter mode 7/12 of the page wide, at most the screen's height
    left under the lesson's first row."""
    with p.picture:
        charts.show(chart, key, share=7 / 12, height=PICTURE)


def ask(p: Panes, key: str, question: str, options: dict[str, str], right: str, why: str) -> bool:
    """Ask first, show after: the question with no answer picked; once one is, whether it was right (`right` is
    computed from the run by the caller) and why. True once answered: the caller then shows its chart.
    The answer is kept for the session, so a step visited again shows its answer."""
    kept = f"lesson_answer_{key}"
    p.story.markdown(f"**{question}**")
    choice = p.story.pills(question, list(options), format_func=options.get, key=f"lesson_q_{key}",
                           default=st.session_state.get(kept), label_visibility="collapsed")
    st.session_state[kept] = choice
    if choice is None and present.on():
        p.picture.container(border=True, height=PICTURE - 40, vertical_alignment="center").markdown(
            f"<p style='text-align:center; color:#999; margin:0'><span style='font-size:6rem'>?</span><br>{HINT}</p>",
            unsafe_allow_html=True)
    elif choice is None:
        p.story.caption(HINT)
    if choice is None:
        return False
    if choice == right:
        p.story.success(f"**Right.** {why}", icon=":material/check_circle:")
    else:
        p.story.warning(f"**Not quite.** {why}", icon=":material/lightbulb:")
    return True


def deeper(page: str, label: str) -> None:
    """The link to the page that goes deeper (only to a page the app has: one being written may not be there)."""
    if (VIEWS / Path(page).name).exists():
        st.page_link(page, label=label, icon=":material/arrow_forward:")


def subtitle(run: Run, note: str = "") -> str:
    """A lesson chart's subtitle, one line for a projector to wrap: what the run is, in short, and its id; a reduced
    run's label says REDUCED."""
    label = run.config.experiment.label.split(":")[0]  # "REDUCED protocol", without what was reduced
    config = replace(run.config, experiment=replace(run.config.experiment, label=label))
    return figures.describe(config, run.tag + (f" · {note}" if note else ""), short=True).replace("<br>", " · ")


def lenet() -> tuple[Run, pd.DataFrame] | None:
    """The main run of the lesson, LeNet-300-100 on MNIST, and its IMP rows; None after a message."""
    run = shipped("lenet-mnist")
    rows = imp_summary(run)
    return None if rows is None else (run, rows)

