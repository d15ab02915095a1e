"""Steps 8-9 of the lesson, where the simple story ends: deeper networks and stability (the shipped ResNet-8 run's
instability analysis), and what a ticket saves when it runs (the shipped VGG-6 run with network slimming)."""

from __future__ import annotations

import streamlit as st
from lib import charts, data

from lesson import common
from lth.core import catalog
from lth.report import stability_figures, structure_figures
from lth.runs import barriers, tables
from lth.runs.results import Run


def _has_stability(run: Run) -> bool:
    sweeps = data.cached(run, Run.methods)
    return sweeps is not None and not sweeps.empty and "stability" in set(sweeps.family)


def _ticket(table, k: int, stable: float) -> str:
    """What the analysis says of the ticket forked at k, and of its random reinit, in a sentence ('' if not forked)."""
    rows = table[(table.level > 0) & (table.k == k)]
    ticket, reinit = (rows[rows.arm == arm] for arm in ("ticket", "reinit"))
    if ticket.empty:
        return ""
    t = ticket.iloc[0]
    said = f" The ticket ({t.percent_remaining:.1f}%) at k = {k:,}: {t.test_barrier:.2f}"
    said += ", stable: rewinding to θ0 worked in this small run" if t.test_barrier < stable else ", unstable"
    return said + (f"; its random reinit: {reinit.iloc[0].test_barrier:.2f}." if not reinit.empty else ".")


def stability(p: common.Panes) -> None:
    run = common.shipped("resnet8-fashion-reduced", _has_stability, " with a stability analysis")
    if run is None:
        return
    forks = data.cached(run, barriers.summary)
    table = barriers.barrier_table(forks) if forks is not None and not forks.empty else None
    dense = table[table.level == 0].sort_values("k") if table is not None else None
    if dense is None or dense.empty:
        st.info("This run's stability analysis has no fork of the dense network yet.")
        return
    first, stable = dense.iloc[0], stability_figures.STABLE
    model, lr = catalog.model_name(run.config.model.model), run.config.training.lr
    st.markdown(f"Deeper networks at a high learning rate found no tickets at θ0. Why? Copy a **{model}** (rate "
                f"{lr:g}) at iteration k, train the copies on two data orders, walk the line between them.")
    later = "".join(f"; k = {row.k:,}: {row.test_barrier:.2f}" for row in dense.iloc[1:].itertuples())
    why = (f"The bump (**barrier**) at k = {first.k:,}: {first.test_barrier:.2f} points{later}. Under {stable:g}: "
           f"**stable**.{_ticket(table, first.k, stable)}")
    question = f"Copied at k = {first.k:,}: is the error along the line flat, or is there a bump?"
    if common.ask(p, "stability", question, {"bump": "A bump", "flat": "Flat"},
                  "bump" if first.test_barrier >= stable else "flat", why):
        points = tuple(sorted(forks[forks.level == 0].point.unique()))
        errors = data.cached(run, barriers.path_errors, points)
        if errors is not None and not errors.empty:
            common.show(p, charts.chart(run, ("lesson-stability", points), lambda: stability_figures.path_chart(
                errors, forks[forks.level == 0], "test_error", common.subtitle(run, "dense network"))),
                "lesson-stability")
    common.deeper("views/stability.py", "Stability: every fork's barrier")


def speed(p: common.Panes) -> None:
    run = common.shipped("vgg6-slim-fashion-reduced", lambda r: r.config.experiment.slimming, " with slimming")
    if run is None:
        return
    costs = data.cached(run, tables.structure_table)
    if costs is None or costs.empty:
        st.info("This run has no measured inference times yet.")
        return
    chart = charts.chart(run, ("lesson-speed",), lambda: structure_figures.speedup_chart(costs, common.subtitle(run)))
    last = costs.level.max()
    at_last = chart.data[chart.data.level == last].set_index("network")
    (slimmed, _), (imp, _) = structure_figures.NETWORKS
    if not {slimmed, imp} <= set(at_last.index):
        st.info(f"This run has not measured both networks at level {last}.")
        return
    slim, ticket = at_last.loc[slimmed], at_last.loc[imp]
    rows = costs[costs.level == last]
    ticket_acc = rows[rows.arm == "ticket"]["acc %"].mean()
    slim_acc = rows[rows.arm.isin(structure_figures.SLIMMED)]["acc %"].mean()
    st.markdown("IMP removes **single weights**: zeros stay in the network. **Network slimming** removes **whole "
                f"channels**: a narrower network. Both on a {catalog.model_name(run.config.model.model)}, each "
                "forward pass timed.")
    question = (f"Which runs faster: IMP's ticket ({ticket.percent:.1f}% of the weights) or the slimmed network "
                f"({slim.percent:.1f}%)?")
    why = (f"Slimmed: {slim.measured:.2f}x the dense network's speed; the ticket: {ticket.measured:.2f}x, its zeros "
           f"still multiplied. But the ticket keeps {ticket_acc:.2f}% accuracy, the slimmed one {slim_acc:.2f}%.")
    if common.ask(p, "speed", question, {"ticket": "IMP's ticket", "slim": "The slimmed network"},
                  "slim" if slim.measured > ticket.measured else "ticket", why):
        common.show(p, chart, "lesson-speed")
    common.deeper("views/structure.py", "Structured tickets: what each level costs")
    common.deeper("views/paper.py", "Paper vs this run: every claim, checked")
