"""Pruning lab: prune a trained network live, and run your own small experiment in the background."""

import math

import streamlit as st
from lab import experiment, gate_sweep
from lib import charts, data, picker

from lth.report import figures
from lth.runs import tables
from lth.runs.results import Run

st.title("Pruning lab")

# --- (a) prune without retraining: instant, from precomputed measurements ---------------
st.subheader("Prune a trained network, no retraining")
run = picker.current_run()
curve = data.read(run, Run.prune_curve) if run is not None else None
summary = data.read(run, Run.summary) if curve is not None and not curve.empty else None
if summary is None or summary.empty:
    st.info("Pick a run in the sidebar: this uses its trained dense network's measured pruning curve.")
else:
    lowest = float(100 * curve.remaining.min())
    percent = st.slider("% of weights kept (largest magnitudes, each layer at the run's relative rates)",
                        min_value=math.ceil(lowest * 10) / 10, max_value=100.0, value=20.0, step=0.1, key="lab_pct")
    no_retrain = tables.pruned_accuracy(curve, percent)
    nearest = tables.at(summary, "ticket", level=tables.nearest_level(summary, percent))
    c1, c2 = st.columns(2)
    c1.metric(f"Pruned to {percent:.1f}%, not retrained", f"{no_retrain:.2f}%")
    c2.metric(f"Winning ticket at {nearest.percent_remaining:.1f}%, retrained",
              f"{100 * nearest.test_acc_at_early_stop:.2f}%")
    charts.show(figures.prune_without_retraining(curve, summary, percent, charts.subtitle(run)), "lab-slider")
    st.caption("Accuracies measured on the test set when the run was made (40 sparsities, every trial; the slider "
               "interpolates between them), so this works with no data set on this machine.")

# --- (b) your own experiment, in a background process ----------------------------------
st.subheader("Run your own experiment")
st.markdown("Runs in the background: switch pages while it trains; it appears in the run picker when a level is done. "
            "`lenet-mnist-live` runs IMP live: 10 levels of the ticket, its random reinitialisation and random "
            "pruning on real MNIST, about 15 seconds on a 2-core laptop (set `LTH_DATA_DIR` to the folder holding "
            "`mnist.npz`); **Run IMP live** runs it with one button and draws it as it goes. `synthetic` needs no "
            "data set.")


experiment.form()
experiment.progress()

# --- (c) masks learned by gradient descent on the picked run ----------------------------
st.subheader("Find tickets by gradient descent")
if run is None:
    st.info("Pick a run in the sidebar: a sweep learns masks from that run's own initial weights θ₀.")
else:
    st.markdown(f"Learn a mask for run `{run.run_id[:6]}` by gradient descent instead of pruning by magnitude, one "
                "mask per sweep value, in the background. The masks become new arms of the run "
                "(**Gradient-found tickets** compares them with IMP's). One sweep per method per run.")
    gate_sweep.form(run)
    gate_sweep.progress()
