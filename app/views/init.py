"""Pruning at initialization (SNIP, GraSP, SynFlow) next to IMP's ticket, and the sanity checks that tell them apart."""

import streamlit as st
from lib import charts, data, picker, texts

from lth.core import arms, catalog, paths
from lth.core.init_config import METHODS, PAPER_LEVELS
from lth.report import figures, init_figures
from lth.runs import tables
from lth.runs.results import Run

ABOUT = """
IMP needs a whole training run per level. **SNIP**, **GraSP** and **SynFlow** score the weights
**once, at initialization**, keep the best-scored ones (over all layers together) and train only that:
one training per sparsity. Each keeps exactly as many weights as IMP's ticket at the same level.

- **SNIP**: how much the loss on one batch changes if a weight is removed, |gradient × weight|.
- **GraSP**: keeps the weights whose removal would hurt the gradient's flow most (a Hessian–gradient product).
- **SynFlow**: no data at all: how much each weight carries of the product of all weight magnitudes
  through the network, pruned a little at a time over many rounds.

**The sanity checks** ask whether a mask knows *which* weights matter, or only *how many* each layer keeps:
shuffle the mask within each layer (same count per layer), or keep the mask and re-draw the weights.
IMP's ticket has both already: random pruning and random reinitialisation.
"""

st.title("Why not prune at the start?")
run = picker.current_run()
sweeps = data.cached(run, Run.methods) if run is not None else None
mine = sweeps[sweeps.family == "init"] if sweeps is not None and not sweeps.empty else None
if run is not None and (mine is None or mine.empty) and texts.refused_for_batch_norm(run, "Pruning at initialization"):
    st.markdown(ABOUT)
elif run is not None and (mine is None or mine.empty):
    st.markdown(ABOUT)
    st.info("This run has no pruning-at-initialization arms yet. Add them from the command line: each line scores "
            "this run's own θ₀ and trains the masks with its protocol, as further arms.")
    levels = ",".join(str(lv) for lv in range(1, run.config.experiment.levels + 1))
    if run.config.model.model == "lenet_300_100" and run.config.experiment.levels >= 18:
        levels = PAPER_LEVELS
    st.code("\n".join(f"python -m lth prune-init {texts.shown_path(run.path)} --method {m} --levels {levels} "
                      f"--data-dir {paths.data_dir()}" for m in METHODS), language="bash", wrap_lines=True)
    st.caption("`--trials N` for more trials, `--no-ablations` to skip the sanity checks; "
               "`python -m lth prune-init --help` lists every setting.")
elif mine is not None and (summary := data.read(run, Run.summary)) is not None:
    with st.expander("What are these methods?"):
        st.markdown(ABOUT)
        st.markdown("**How each scores:**\n" + "\n".join(f"- {init_figures.method_name(m)}: {catalog.METHODS[m].rule}"
                                                          for m in mine.method))
    done, total = int(mine.units_done.sum()), int(mine.units.sum())
    if done < total:
        st.caption(f"{done} of {total} (level, trial) units of these sweeps are finished; the charts fill in as "
                   "they do.")

    if summary.empty:
        st.info("No level of this run has finished yet: this page fills in as they do.")
        st.stop()
    found = [a for a in summary.arm.unique() if arms.get(a) is not None and arms.get(a).mask == "scored"
             and arms.get(a).init == "rewind"]
    if not found:
        st.info("No level of these sweeps has finished yet: this page fills in as they do.")
        st.stop()
    st.subheader("Accuracy: pruned at init vs IMP")
    present = sorted({"ticket", "random_prune", "reinit", *found} & set(summary.arm), key=arms.order)
    checks = st.toggle("Show the sanity checks too", key="init_checks", help="Dashed: each method's mask shuffled "
                       "within its layers. Dotted: its mask on re-drawn weights.")
    sanity = sorted(set(summary.arm) & set(arms.of_kind("init")) - set(found), key=arms.order)
    shown = present + (sanity if checks else [])
    trials = sorted(summary[summary.arm.isin(found)].trial.unique())
    same = summary[summary.trial.isin(trials)]  # IMP over the sweeps' own trials: the same θ0 and data order
    note = f"trial(s) {', '.join(map(str, trials))}: the sweeps' own, IMP's arms too"
    charts.show(charts.chart(run, ("init-acc", tuple(shown)), lambda: figures.sparsity_chart(
        {run.label: same}, "test_acc_at_early_stop", shown, figures.describe(run.config, f"{run.tag} · {note}"))),
        "init-acc")

    st.subheader("Where each method keeps its weights")
    levels = sorted(summary.imp_level.dropna().astype(int).unique()) if "imp_level" in summary else []
    if levels:
        pct = tables.percent_by_level(tables.imp_rows(summary))
        level = st.select_slider("IMP level", levels, value=levels[len(levels) // 2], key="init_level",
                                 format_func=lambda lv: f"level {lv} · {pct.get(lv, float('nan')):.1f}% remaining")
        charts.show(charts.chart(run, ("init-layers", level), lambda: init_figures.layer_chart(
            same, level, figures.describe(run.config, f"{run.tag} · {note}"))), "init-layers")
        p = run.config.pruning
        imp_rule = (f"IMP here ranks all weights together too ({p.rate_global:.0%} a level)" if p.strategy == "global"
                    else "IMP prunes each layer at its own rate ("
                         + (f"conv {p.rate_conv:.0%}, " if run.config.model.model != "lenet_300_100" else "")
                         + f"fc {p.rate_fc:.0%}, output {p.rate_output:.0%} a level)")
        st.caption(f"{imp_rule}; these methods rank all weights of all layers together, so each decides how sparse "
                   "each layer gets. Bars near the bottom: a layer almost cut off.")

    st.subheader("Sanity checks: does the mask know which weights matter?")
    table = data.cached(run, tables.init_table)
    if table is not None and not table.empty:
        charts.show(charts.chart(run, ("init-checks",), lambda: init_figures.sanity_chart(
            table, figures.describe(run.config, f"{run.tag} · {note}"))), "init-checks")
        st.caption("Bars below zero: the check cost accuracy, so the mask had picked *which* weights to keep. "
                   "Bars near zero: only the number of weights per layer mattered. Means over the trials shown.")
        st.dataframe(table.assign(method=table.method.map(init_figures.method_name)).round(2), hide_index=True,
                     width="stretch", column_config={
                         "level": "IMP level", "percent_remaining": "% remaining", "found": "as found (%)",
                         "shuffled": "shuffled (%)", "reinit": "re-drawn (%)", "shuffled_change": "shuffled − found",
                         "reinit_change": "re-drawn − found", "trials": "trials"})
