"""Structured tickets (network slimming) beside IMP's unstructured one: accuracy, and what each saves at inference."""

import streamlit as st
from lib import charts, data, picker

from lth.core import arms, catalog
from lth.core.config import BATCH_NORM_MODELS
from lth.report import figures, structure_figures
from lth.runs import tables
from lth.runs.results import Run

ABOUT = """
IMP removes **single weights**: the network keeps its shape, with zeros in it. Stored and run as it is, it
is no smaller and no faster; only sparse kernels or special hardware could make the zeros pay.

**Network slimming** (Liu et al. 2017) removes **whole channels**. Training adds a penalty λ·Σ|γ| on the
batch-norm scale γ of each channel, which pushes the scales of unneeded channels toward zero; then the
channels with the smallest |γ| over the whole network are removed (here level after level, like IMP).
What is left is a genuinely narrower network: fewer parameters, fewer multiply-adds, a faster forward pass.

The slimmed network trains three ways, each from a different start:
- **fine-tuned**: from its own trained weights (the original method; its channels pick the next level's),
- **rewound**: from the run's θ₀ (a *structured ticket*, the lottery ticket question for channels),
- **fresh init**: from new random weights: if it does as well, the structure is all that matters
  (Liu et al. 2019, "Rethinking the Value of Network Pruning").
"""

st.title("Structured tickets: does pruning save anything?")
run = picker.current_run()
if run is not None and not run.config.experiment.slimming:
    st.markdown(ABOUT)
    if run.config.model.model in BATCH_NORM_MODELS:
        st.info("This run was trained without network slimming. Slimming is part of an IMP run (its arms train "
                "with the ticket's protocol), so it is a new run: the same settings plus `--slimming`.")
    else:
        st.info(f"Network slimming prunes channels by their batch-norm scales, and this run's "
                f"{catalog.model_name(run.config.model.model)} has no batch norm. "
                "Pick a slimming run in the sidebar, or start one:")
    st.code("python -m lth run --preset vgg6-slim-fashion-reduced --data-dir DATA_DIR", language="bash")
elif run is not None and (summary := data.read(run, Run.summary)) is not None:
    with st.expander("What is network slimming?"):
        st.markdown(ABOUT)
    costs = data.cached(run, tables.structure_table)
    if summary.empty or costs is None or costs.empty:
        st.info("No level of this run has finished yet: this page fills in as they do.")
        st.stop()
    note = figures.describe(run.config, run.tag)
    present = [a for a in ("ticket", "reinit", *structure_figures.SLIMMED) if a in set(summary.arm)]
    st.subheader("Accuracy: slimmed networks vs IMP's ticket")
    charts.show(charts.chart(run, ("s-acc",), lambda: figures.sparsity_chart(
        {run.label: summary}, "test_acc_at_early_stop", present, note)), "s-acc")
    st.caption("The three slimmed networks share one set of channels per level (picked by the fine-tuned one), "
               "so they sit at the same % of weights; the ticket's ladder is IMP's.")

    st.subheader("Speed: what the FLOPs promise, and what a forward pass measured")
    charts.show(charts.chart(run, ("s-speed",), lambda: structure_figures.speedup_chart(costs, note)), "s-speed")
    last = costs[costs.level == costs.level.max()]
    slim, ticket = last[last.arm.isin(structure_figures.SLIMMED)], last[last.arm == "ticket"]
    if not slim.empty and not ticket.empty:
        st.markdown(
            f"At level {int(last.level.iloc[0])} the slimmed network keeps **{slim['% remaining'].mean():.1f}%** of "
            f"the weights and needs **{slim['x fewer FLOPs'].mean():.1f}x** fewer multiply-adds; measured, one "
            f"forward pass is **{slim['x faster'].mean():.2f}x** as fast as the dense network's. IMP's ticket keeps "
            f"{ticket['% remaining'].mean():.1f}% of the weights and, run dense with its mask, is "
            f"**{ticket['x faster'].mean():.2f}x** as fast: its zeros save nothing here.")
    device = summary.inference_device.dropna().iloc[0] if "inference_device" in summary else "?"
    st.caption(f"Measured on {device} while the run trained: the median of 7 forward passes of 256 test images, "
               "each network timed right after the dense one, so both saw the same machine load. Small networks "
               "on a CPU gain less than their FLOPs promise: each layer has a fixed cost.")

    st.subheader("Every level and arm")
    dense_params = int(costs["params dense"].iloc[0])
    shown = costs.assign(arm=costs.arm.map(lambda a: arms.label(a).split(" (")[0])).drop(columns="params dense")
    shown = shown[["level", "arm", "acc %", "% remaining", "channels", "params", "MFLOPs", "x fewer FLOPs", "x faster",
                   "ms", "ms dense"]]
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "% remaining": st.column_config.NumberColumn(format="%.1f"),
        "channels": st.column_config.NumberColumn("channels kept", format="%d"),
        "params": st.column_config.NumberColumn("parameters", format="%d",
                                                help="Slimmed: of the network without its removed channels. "
                                                     "Ticket: its non-zero ones (it is stored dense)."),
        "MFLOPs": st.column_config.NumberColumn(format="%.3f", help="Multiply-adds x2 per example"),
        "x fewer FLOPs": st.column_config.NumberColumn(format="%.2f"),
        "ms": st.column_config.NumberColumn("ms / 256 images", format="%.2f"),
        "ms dense": st.column_config.NumberColumn("ms dense", format="%.2f"),
        "x faster": st.column_config.NumberColumn("x faster (measured)", format="%.2f"),
        "acc %": st.column_config.NumberColumn("test acc % at early stop", format="%.2f")})
    st.download_button("CSV", shown.to_csv(index=False).encode(), file_name="structure_costs.csv", mime="text/csv",
                       key="s-table-csv", on_click="ignore")
    st.caption(f"The dense network has {dense_params:,} parameters and {costs['channels'].max():.0f} prunable "
               "channels. Which channels each layer keeps: the Masks page, arm \"Slimmed, fine-tuned\".")
