"""Weight movement: which weights survive the next round, where they started, and how far they moved."""

import streamlit as st
from lib import charts, data, picker

from lth.report import figures
from lth.runs import tables
from lth.runs.results import Run

st.title("Which weights survive?")
st.markdown("At each level the ticket is trained, then its smallest weights are pruned. Compare the weights the "
            "**next level keeps** with those it **prunes**: where they started (θ₀), where training took them, "
            "and how far they moved.")
STAT_COLUMNS = {"count": "weights (per trial)", "mean_abs_initial": "mean |θ₀|", "mean_abs_final": "mean |θ_final|",
                "mean_movement": "mean |θ_final − θ₀|", "median_movement": "median |θ_final − θ₀|"}

run = picker.current_run()
if run is not None and run.levels:
    levels = run.levels
    c1, c2, c3 = st.columns([3, 1, 1])
    level = c1.select_slider("Level", levels, value=levels[min(len(levels) - 1, 1)], key="w_level")
    hist = data.cached(run, Run.weight_hist, level)
    if hist is not None and not hist.empty:
        layer = c2.selectbox("Layer", list(dict.fromkeys(hist.layer)), key="w_layer")
        trials = sorted(hist.trial.unique())
        trial = c3.selectbox("Trial", ["all", *trials], key="w_trial",
                             format_func=lambda t: "all trials" if t == "all" else f"trial {t}")
        rows = hist if trial == "all" else hist[hist.trial == trial]
        sub = charts.subtitle(run) + f" · level {level}" + ("" if trial == "all" else f", trial {trial}")
        for quantity in figures.QUANTITY_TITLES:
            charts.show(charts.chart(run, ("w", level, layer, trial, quantity),
                                     lambda q=quantity: figures.weight_histogram(rows, layer, q, sub)), f"w-{quantity}")
        stats = data.cached(run, Run.weight_stats, level)
        if stats is None:
            st.stop()
        if trial != "all":
            stats = stats[stats.trial == trial]
        stats = stats[stats.layer == layer]
        st.subheader("In numbers" + (f", mean over {len(trials)} trials" if trial == "all" and len(trials) > 1 else ""))
        table = tables.movement_kept_vs_pruned(stats).rename(columns=STAT_COLUMNS)
        st.dataframe(table.round(4), width="stretch")
        st.caption("Histograms share bins per trial; counts are normalised within each group so both shapes show "
                   "(the legend counts the weights of every trial shown). "
                   "In the paper, weights that survive moved further from their initial values.")
