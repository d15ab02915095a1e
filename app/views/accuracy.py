"""Accuracy vs sparsity: every arm, every run you want to compare."""

import streamlit as st
from lib import charts, data, picker, texts

from lth.core import arms
from lth.report import figures
from lth.runs.results import Run

st.title("Accuracy vs weights remaining")
run = picker.current_run()
if run is not None:
    c1, c2 = st.columns([2, 3])
    metric = c1.radio("Accuracy", ["test_acc_at_early_stop", "test_acc_final", "train_acc_final"], horizontal=False,
                      format_func=lambda m: figures.METRICS[m][0].replace(" (%)", ""), key="acc_metric",
                      help="Early stop = the iteration of minimum validation loss, as in the paper.")
    others = picker.healthy_runs()
    others = others[others["path"] != str(run.path)]
    compare = c2.multiselect("Overlay other runs", list(others["path"]), key="acc_compare",
                             format_func=lambda p: dict(zip(others["path"], others["label"])).get(p, p))
    frames, shown = {}, []
    for path in [str(run.path), *compare]:
        r = data.open_run(path)
        s = data.read(r, Run.summary)
        if s is not None and not s.empty:
            frames[r.label] = s
            shown.append(r)
    if frames:
        arms_present = sorted({a for s in frames.values() for a in s.arm.unique()}, key=arms.order)
        picked = picker.arm_picker(arms_present, "acc_arms")
        sub = charts.subtitle(run) if len(frames) == 1 else f"{len(frames)} runs compared (line style = run)"
        charts.show(charts.chart(shown, ("accuracy", metric, tuple(picked)),
                                 lambda: figures.sparsity_chart(frames, metric, picked, sub)), "accuracy")
        with st.expander("What am I looking at?"):
            st.markdown(
                "- **Winning ticket (IMP)**: pruned by magnitude level after level, survivors reset to their original "
                "initial values.\n- **Random reinitialisation**: the ticket's mask with fresh random weights.\n"
                "- **Random pruning**: a random mask with the same number of weights in each layer.\n"
                "- **One-shot pruning**: the trained dense network pruned straight to that sparsity, then reset. "
                "At level 1 it is the ticket's own mask (both prune the trained dense network once), so the two "
                "points coincide and one hides the other.\n\n"
                "The x axis is logarithmic: each step left to right removes a fixed share of what is left.")
            if any(arm in arms.of_kind("gradient", "strong") for arm in arms_present):
                st.markdown(texts.GATE_ARMS)
            if any(arm in arms.of_kind("init") for arm in arms_present):
                st.markdown(texts.INIT_ARMS)
