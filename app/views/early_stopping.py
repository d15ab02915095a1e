"""Early stopping: how fast tickets learn, and their learning curves."""

import streamlit as st
from lib import charts, data, picker

from lth.core import arms
from lth.report import figures, paper
from lth.runs import tables
from lth.runs.results import Run

st.title("How fast do tickets learn?")
run = picker.current_run()
if run is not None and (summary := data.read(run, Run.summary)) is not None and not summary.empty:
    # Strong tickets are never trained (their "early stop" would be the end of mask learning): left out.
    arms_present = sorted(set(summary.arm) - set(arms.of_kind("strong")), key=arms.order)
    imp_arms = [a for a in arms_present if arms.is_imp_family(a)]  # their levels are pruning rounds
    picked_arms = picker.arm_picker(arms_present, "es_arms")
    budget = run.config.training.iterations
    charts.show(charts.chart(run, ("es", tuple(picked_arms)), lambda: figures.sparsity_chart(
        {run.label: summary}, "early_stop_iteration", picked_arms, charts.subtitle(run), show_dense=True,
        budget=budget)), "es")
    st.caption("Early-stop iteration: where validation loss is lowest. Lower means the network learned faster.")
    trained = summary[~summary.arm.isin(arms.of_kind("strong"))]
    censored = int(paper.censored(trained, budget).sum())
    if censored:
        st.warning(f"{censored} of {len(trained)} networks in this run stopped at their last evaluation "
                   f"(iteration {budget:,}), ringed on the chart: their validation loss was still falling, so "
                   "their early-stop iteration is a lower bound, not evidence of when they would stop. "
                   "**Paper vs this run** marks a claim that rests on them as censored.",
                   icon=":material/hourglass_bottom:")
    if len(imp_arms) < len(arms_present):
        st.caption("Gradient-found tickets: each point is one value of the penalty sweep (hover for it), retrained "
                   "with IMP's protocol. Strong tickets are never trained, so they have no early-stop iteration.")

    st.subheader("Learning curves")
    pct = tables.percent_by_level(summary)
    levels = list(pct.index)
    default = sorted({levels[0], levels[len(levels) // 2], levels[-1]})
    c1, c2, c3 = st.columns([3, 2, 2])
    if any(lv not in levels for lv in st.session_state.get("es_levels", [])):  # picked on another run
        del st.session_state["es_levels"]
    picked = c1.multiselect("Levels", levels, default=default, key="es_levels",
                            format_func=lambda lv: f"level {lv} · {pct.get(lv, float('nan')):.1f}%")
    curve_arms = c2.multiselect("Arms ", imp_arms, default=[a for a in ("ticket", "reinit") if a in imp_arms],
                                format_func=arms.label, key="es_curve_arms")
    metric = c3.radio("Show", ["test_acc", "val_loss"], format_func=lambda m: figures.CURVE_METRICS[m][0],
                      key="es_curve_metric")
    if picked and curve_arms:
        curves = data.cached(run, Run.curves, tuple(picked))
        if curves is not None and not curves.empty:
            key = ("curves", tuple(picked), metric, tuple(curve_arms))
            charts.show(charts.chart(run, key, lambda: figures.learning_curves(
                curves, summary, picked, metric, tuple(curve_arms), charts.subtitle(run))), "curves")
    else:
        st.info("Pick at least one level and one arm.")
elif run is not None:
    st.info("This run has no finished level yet.")
