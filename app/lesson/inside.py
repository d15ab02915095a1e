"""Steps 5-7 of the lesson, on the shipped LeNet-300-100 run: tickets learn faster, the two controls (what the
ticket's success depends on), and what the ticket keeps of the image, pixel by pixel."""

from __future__ import annotations

import math

import streamlit as st
from lib import charts, data

from lesson import common
from lth.report import figures, mask_figures
from lth.runs import tables
from lth.runs.results import Run

ACC, STOP = "test_acc_at_early_stop", "early_stop_iteration"
AT_FAST, AT_CONTROLS, AT_MASK = 21.1, 3.6, 7.0  # % remaining each step asks about (the paper's labels; nearest level)
BORDER = 4  # pixels: the frame of the image step 7 compares with its inside


def faster(p: common.Panes) -> None:
    found = common.lenet()
    if found is None:
        return
    run, rows = found
    level = tables.nearest_level(rows, AT_FAST)
    t, d = tables.at(rows, "ticket", level=level), tables.at(rows, "ticket", level=0)
    pct = t.percent_remaining
    st.markdown("How fast does a network learn? Its **early-stop iteration**, where the validation loss is lowest, "
                "says: sooner is faster.")
    pace = f"{d[STOP] / t[STOP]:.1f}x as soon" if t[STOP] < d[STOP] else f"{t[STOP] / d[STOP]:.1f}x as late"
    why = (f"The ticket: iteration {t[STOP]:,.0f}; the dense network: {d[STOP]:,.0f} (means of "
           f"{rows[rows.level == level].trial.nunique()} trials). {pace[0].upper() + pace[1:]}.")
    question = f"Which gets there sooner: the dense network, or the ticket at {pct:.1f}%?"
    if common.ask(p, "faster", question, {"ticket": f"The ticket ({pct:.1f}%)", "dense": "The dense network"},
                  "ticket" if t[STOP] < d[STOP] else "dense", why):
        common.show(p, charts.chart(run, ("lesson-faster",), lambda: figures.sparsity_chart(
            {run.label: rows}, STOP, ["ticket"], common.subtitle(run))), "lesson-faster")
    common.deeper("views/early_stopping.py", "Early stopping: every arm")


def controls(p: common.Panes) -> None:
    found = common.lenet()
    if found is None:
        return
    run, rows = found
    level = tables.nearest_level(rows, AT_CONTROLS)
    t, ri, rp = (100 * tables.at(rows, arm, level=level).get(ACC, math.nan) for arm in ("ticket", "reinit",
                                                                                         "random_prune"))
    if math.isnan(ri) or math.isnan(rp):
        st.info(f"This run has no random reinitialisation or random pruning at level {level}.")
        return
    pct = tables.at(rows, "ticket", level=level).percent_remaining
    st.markdown("Two controls, one thing taken away each:\n"
                "- **random reinit**: its mask, fresh weights;\n"
                "- **random pruning**: a random mask, on θ0.")
    worse = "reinit" if ri < rp else "random_prune"
    both = ("The ticket needs its mask *and* its θ0." if max(ri, rp) < t else "Not both lose against the ticket here.")
    why = f"Ticket {t:.2f}%, random reinit {ri:.2f}%, random pruning {rp:.2f}%. {both}"
    if common.ask(p, "controls", f"At {pct:.1f}%, which control loses more?",
                  {"reinit": "Random reinit", "random_prune": "Random pruning"}, worse, why):
        common.show(p, charts.chart(run, ("lesson-controls",), lambda: figures.sparsity_chart(
            {run.label: rows}, ACC, ["ticket", "reinit", "random_prune"], common.subtitle(run))), "lesson-controls")
    common.deeper("views/weights.py", "Weight movement: which weights survive")


def masks(p: common.Panes) -> None:
    found = common.lenet()
    if found is None:
        return
    run, rows = found
    level = tables.nearest_level(rows, AT_MASK)
    stored = data.cached(run, Run.masks, level) or {}
    trials = sorted(k for k in stored if k[0] == "ticket")
    first = next(iter(stored[trials[0]].values())) if trials else None
    side = math.isqrt(first.shape[1]) if first is not None and first.ndim == 2 else 0
    if not side or side * side != first.shape[1]:
        st.info(f"No square image enters this run's first layer at level {level}: no pixel map to show.")
        return
    pct = tables.at(rows, "ticket", level=level).percent_remaining
    edge, inside = mask_figures.border_and_centre(first, side, BORDER)
    st.markdown(f"The first layer links each of the {side}×{side} pixels of an image to each of its "
                f"{first.shape[0]} hidden units. Which links does the ticket keep?")
    lesson = ("It keeps where the digits are, and drops the empty frame." if inside > edge
              else "It keeps the frame as well as the middle.")
    why = f"A border pixel keeps {edge:.1f} links on average, a middle one {inside:.1f}. {lesson}"
    if common.ask(p, "masks", f"In the ticket at {pct:.1f}%, which pixels keep more links?",
                  {"border": f"The {BORDER}-pixel border", "inside": "The middle"},
                  "inside" if inside > edge else "border", why):
        note = f"ticket at level {level}, trial {trials[0][1]}"
        common.show(p, charts.chart(run, ("lesson-pixels", level), lambda: mask_figures.pixel_map(
            first, side, common.subtitle(run, note))), "lesson-pixels")
    common.deeper("views/masks.py", "Masks: every layer, every level")
