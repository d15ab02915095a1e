"""Early stopping: how fast tickets learn, and their learning curves."""

import common
import streamlit as st

from lth.core import arms
from lth.report import figures
from lth.runs import tables

st.title("How fast do tickets learn?")
run = common.current_run()
if run is not None and (data := common.load("summary", run)) is not None and not data.empty:
    # Strong tickets are never trained (their "early stop" would be the end of mask learning): left out.
    arms_present = sorted(set(data.arm) - set(arms.of_kind("strong")), key=arms.order)
    imp_arms = [a for a in arms_present if arms.is_imp_family(a)]  # their levels are pruning rounds
    picked_arms = common.arm_picker(arms_present, "es_arms")
    common.show(common.chart(run, ("es", tuple(picked_arms)), lambda: figures.sparsity_chart(
        {run.label: data}, "early_stop_iteration", picked_arms, common.subtitle(run), show_dense=True)), "es")
    st.caption("Early-stop iteration: where validation loss is lowest. Lower means the network learned faster.")
    if len(imp_arms) < len(arms_present):
        st.caption("Gradient-found tickets: each point is one value of the penalty sweep (hover for it), retrained "
                   "with IMP's protocol. Strong tickets are never trained, so they have no early-stop iteration.")

    st.subheader("Learning curves")
    pct = tables.percent_by_level(data)
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
        curves = common.load("curves", run, tuple(picked))
        if curves is not None and not curves.empty:
            common.show(common.chart(run, ("curves", tuple(picked), metric, tuple(curve_arms)), lambda: figures.learning_curves(
                curves, data, picked, metric, tuple(curve_arms), common.subtitle(run))), "curves")
    else:
        st.info("Pick at least one level and one arm.")
elif run is not None:
    st.info("This run has no finished level yet.")
