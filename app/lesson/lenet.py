"""Steps 1-4 of the lesson, on the shipped LeNet-300-100 run: a dense network learns, pruning it without retraining
breaks it, its survivors retrained from θ0 beat the same mask on fresh weights, and IMP repeats it level by level."""

from __future__ import annotations

import math

import streamlit as st
from lib import charts, data

from lesson import common
from lth.core import catalog
from lth.report import figures
from lth.runs import tables
from lth.runs.results import Run

ACC = "test_acc_at_early_stop"
KEEP = 10.0  # % of the trained weights step 2 asks about (the slider starts there)
CLOSE = 1.0  # points: what step 2's question calls "within" the dense network's accuracy
AT_RETRAIN, AT_REPEAT = 7.0, 13.5  # % remaining steps 3 and 4 ask about (the paper's labels; the nearest level)


def dense(p: common.Panes) -> None:
    found = common.lenet()
    if found is None:
        return
    run, rows = found
    d, curves = tables.at(rows, "ticket", level=0), data.cached(run, Run.curves, (0,))
    c = run.config
    st.markdown(
        f"**{catalog.model_name(c.model.model)}** learns **{catalog.dataset_name(c.data.dataset)}** from random "
        f"weights **θ0** in {c.training.iterations:,} iterations. At its **early-stop iteration** (★: the lowest "
        f"validation loss, iteration {d.early_stop_iteration:,.0f} on average over "
        f"{rows[rows.level == 0].trial.nunique()} trials) it gets **{100 * d[ACC]:.2f}%** of unseen test images "
        "right. Every step compares with this dense network.")
    if curves is not None and not curves.empty:
        common.show(p, charts.chart(run, ("lesson-dense",), lambda: figures.learning_curves(
            curves, rows, [0], "test_acc", ("ticket",), common.subtitle(run))), "lesson-dense")
    common.deeper("views/early_stopping.py", "Early stopping: every level's curves")


def prune(p: common.Panes) -> None:
    found = common.lenet()
    if found is None:
        return
    run, rows = found
    curve = data.read(run, Run.prune_curve)
    if curve is None or curve.empty:
        st.info("This step needs the run's pruning curve, measured when the run was made; this copy has none.")
        return
    dense = 100 * tables.at(rows, "ticket", level=0)[ACC]
    lowest = math.ceil(1000 * curve.remaining.min()) / 10
    keep = max(KEEP, lowest)
    pruned = tables.pruned_accuracy(curve, keep)
    st.markdown("Most trained weights are tiny. Delete the smallest, keep the rest as they are, and do not retrain.")
    question = (f"Keep the largest {keep:g}% of the weights: still within {CLOSE:g} point of the dense "
                f"network's {dense:.2f}%?")
    why = f"At {keep:g}% it gets {pruned:.2f}%: {dense - pruned:.2f} points lost. Slide to see where it breaks."
    if common.ask(p, "prune", question, {"yes": f"Yes, within {CLOSE:g} point", "no": "No, it loses more"},
                  "yes" if dense - pruned <= CLOSE else "no", why):
        percent = p.story.slider("% of the trained weights kept (the largest)", min_value=lowest,
                                 max_value=100.0, value=keep, step=0.1, key="lesson_keep")
        note = f"not retrained, at {percent:.1f}%: {tables.pruned_accuracy(curve, percent):.2f}%"
        common.show(p, charts.chart(run, ("lesson-prune", percent), lambda: figures.prune_without_retraining(
            curve, rows, percent, common.subtitle(run, note))), "lesson-prune")
    common.deeper("views/lab.py", "Pruning lab: prune to any sparsity")


def retrain(p: common.Panes) -> None:
    found = common.lenet()
    if found is None:
        return
    run, rows = found
    level = tables.nearest_level(rows, AT_RETRAIN)
    t, r = tables.at(rows, "ticket", level=level), tables.at(rows, "reinit", level=level)
    if math.isnan(r.get(ACC, math.nan)):
        st.info(f"This run has no random reinitialisation at level {level}.")
        return
    gap = 100 * (t[ACC] - r[ACC])
    st.markdown(f"Keep IMP's mask at **{t.percent_remaining:.1f}%** of the weights and train only those, from one "
                "of two starts.")
    lesson = "Same mask, other start: the initial values matter." if gap > 0 else "Here the start did not matter."
    why = (f"The ticket gets {100 * t[ACC]:.2f}%, fresh weights {100 * r[ACC]:.2f}% ({gap:+.2f} points, means of "
           f"{rows[rows.level == level].trial.nunique()} trials). {lesson}")
    if common.ask(p, "retrain", "Which ends more accurate?", {"ticket": "θ0 (the ticket)", "reinit": "Fresh weights"},
                  "ticket" if gap >= 0 else "reinit", why):
        curves = data.cached(run, Run.curves, (level,))
        if curves is not None and not curves.empty:
            common.show(p, charts.chart(run, ("lesson-retrain", level), lambda: figures.learning_curves(
                curves, rows, [level], "test_acc", ("ticket", "reinit"), common.subtitle(run))), "lesson-retrain")
    common.deeper("views/accuracy.py", "Accuracy vs sparsity: every control")


def repeat(p: common.Panes) -> None:
    found = common.lenet()
    if found is None:
        return
    run, rows = found
    rates = run.config.pruning
    rate = f"{rates.rate_global:.0%}" if rates.strategy == "global" else f"{rates.rate_fc:.0%} of each layer"
    st.markdown(f"**Iterative magnitude pruning (IMP)**: train, prune the smallest {rate}, rewind the survivors "
                "to θ0, repeat. Each round's survivors are that level's **ticket**.")
    level = tables.nearest_level(rows, AT_REPEAT)
    ticket = tables.at(rows, "ticket", level=level)
    t, dense = 100 * ticket[ACC], 100 * tables.at(rows, "ticket", level=0)[ACC]
    chart = charts.chart(run, ("lesson-imp",), lambda: figures.sparsity_chart(
        {run.label: rows}, ACC, ["ticket"], common.subtitle(run)))
    best = chart.data.loc[chart.data["mean"].idxmax()]
    why = (f"The ticket gets {t:.2f}%, the dense network {dense:.2f}%. The best ticket: {best['mean']:.2f}% "
           f"at {best.percent_remaining:.1f}% of the weights.")
    question = f"After {level} rounds, {ticket.percent_remaining:.1f}% left: is the ticket more or less accurate?"
    if common.ask(p, "repeat", question, {"more": "More than dense", "less": "Less than dense"},
                  "more" if t >= dense else "less", why):
        common.show(p, chart, "lesson-imp")
    common.deeper("views/live.py", "Run IMP live: watch this curve grow")
    common.deeper("views/accuracy.py", "Accuracy vs sparsity: every arm")
