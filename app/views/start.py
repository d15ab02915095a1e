"""Start here: the hypothesis, the IMP loop, and the one chart that tells the story."""

import streamlit as st
from lib import charts, data, picker

from lth.report import figures
from lth.runs.results import Run

st.title("The Lottery Ticket Hypothesis")
left, right = st.columns([3, 2], gap="large")
with left:
    st.markdown(
        """
A large, randomly initialised network contains a small **subnetwork**, a *winning ticket*,
that, trained **on its own from the same initial weights**, reaches the accuracy of the full
network, often in fewer iterations (Frankle & Carbin, ICLR 2019).

Tickets are found by **iterative magnitude pruning** (right): train, remove the smallest
weights of each layer, reset the survivors to their *original* values, and repeat.

The control that makes the point: keep the ticket's mask but draw **fresh random weights**
(*random reinitialisation*). That network learns slower and ends less accurate, so the
initial values matter, not only which connections survive.
"""
    )
with right:
    st.graphviz_chart(
        """
digraph { rankdir=TB; bgcolor="transparent"; node [shape=box, style="rounded,filled", fontname="Helvetica",
  fontsize=15, fillcolor="#E8F1FA", color="#0072B2"]; edge [color="#0072B2", penwidth=2, fontname="Helvetica"];
  init [label="Random init θ₀\\n(all weights)"]; train [label="Train"];
  prune [label="Prune the smallest surviving\\nweights (e.g. 20% per layer)"]; reset [label="Reset survivors to θ₀"];
  ticket [label="Winning ticket:\\nmask + θ₀", fillcolor="#FFF3D6", color="#E69F00"];
  init -> train; train -> prune; prune -> reset; reset -> train [label=" repeat"]; reset -> ticket [style=dashed];
}
""",
        width="stretch",
    )

run = picker.current_run()
if run is not None:
    summary = data.read(run, Run.summary)
    if summary is not None and not summary.empty:
        chart = charts.chart(run, ("start",), lambda: figures.sparsity_chart(
            {run.label: summary}, "test_acc_at_early_stop", ["ticket", "reinit"], charts.subtitle(run)))
        table = chart.data
        ticket, reinit = table[table.arm == "ticket"], table[table.arm == "reinit"]
        dense = ticket[ticket.level == 0]["mean"]
        best = ticket.loc[ticket["mean"].idxmax()]
        cols = st.columns(3)
        if not dense.empty:
            cols[0].metric("Dense network, test accuracy", f"{dense.iloc[0]:.2f}%")
        if best.level > 0:
            cols[1].metric(f"Best ticket ({best.percent_remaining:.1f}% of weights)", f"{best['mean']:.2f}%",
                           f"{best['mean'] - dense.iloc[0]:+.2f} points vs dense" if not dense.empty else None)
        else:
            cols[1].metric("Best ticket above dense", "none", help="In this run no pruned level's mean "
                           "test accuracy exceeded the dense network's (yet).")
        same = reinit[reinit.level == best.level]
        if not same.empty and best.level > 0:
            cols[2].metric("Same mask, fresh random weights", f"{same['mean'].iloc[0]:.2f}%",
                           f"{same['mean'].iloc[0] - best['mean']:+.2f} points vs the ticket")
        charts.show(chart, "start")
        st.caption("Lines: mean over trials; bands: min to max. Hover a point for its level and each trial's value. "
                   "The other pages go deeper: speed of learning, what the pruned weights were, what the masks look "
                   "like, and masks learned by gradient descent instead of pruned by magnitude.")
    elif summary is not None:
        st.info("This run has no finished level yet; pick another run in the sidebar.")
