"""Stability: copies of a network forked at iteration k, and the error on the straight line between them."""

import streamlit as st
from lib import charts, data, picker, texts

from lth.core import paths
from lth.report import figures, stability_figures
from lth.runs import barriers
from lth.runs.results import Run

ABOUT = """
Take a network's weights at iteration **k** of its training and make two copies. Train each to the end with
its own **data order** (the only difference between them), then walk the **straight line** between the two
results and measure the error at each point.

- **Flat line**: the copies ended in one connected valley: training from iteration k is **stable**: the
  data order no longer decides where it ends.
- **A bump**: an error **barrier** between them: two different outcomes, decided by the noise.

The follow-up work to the paper found that IMP's subnetworks reach the dense network's accuracy only when
they are stable. On LeNet that already holds at k = 0, so rewinding to θ₀ works; deeper networks become stable
only some iterations into training, which is why they need **late rewinding**.

Here a sparse network's k is an iteration of **its own training** at that level (the ticket's mask on the
weights the run rewinds to, trained with the run's protocol): how soon that training stops depending on the data
order. With k = 0 this is the follow-up paper's experiment on the rewound subnetwork itself: θ₀ for a run that
rewinds to the start; in a run with late rewinding to iteration r, the dense network's weights at r, so k counts
from there.
"""

st.title("Why tickets win: stability")
run = picker.current_run()
sweeps = data.cached(run, Run.methods) if run is not None else None
mine = sweeps[sweeps.family == "stability"] if sweeps is not None and not sweeps.empty else None
if run is not None and (mine is None or mine.empty):
    st.markdown(ABOUT)
    st.info("This run has no stability analysis yet. Add one from the command line: it forks the dense network "
            "and the ticket's levels at each k you give, and trains the copies with the run's own protocol.")
    top, t = run.config.experiment.levels, run.config.training
    levels = ",".join(map(str, sorted({0, max(1, top // 2), top})))
    rewinds = ",".join(map(str, sorted({0, min(t.eval_every, t.iterations - 1)})))
    st.code(f"python -m lth stability {texts.shown_path(run.path)} --levels {levels} --rewinds {rewinds} "
            f"--masks ticket,reinit --data-dir {paths.data_dir()}",
            language="bash", wrap_lines=True)
    st.caption("`--copies N` trains N copies per fork (every pair is compared), `--points N` sets the points on "
               "each line; `python -m lth stability --help` lists every setting.")
elif mine is not None and (forks := data.cached(run, barriers.summary)) is not None:
    with st.expander("What am I looking at?"):
        st.markdown(ABOUT)
    row = mine.iloc[0]
    if row.units_done < row.units:
        st.caption(f"{row.units_done} of {row.units} (fork, trial) units finished; the charts fill in as they do.")
    if forks.empty:
        st.info("No fork has finished yet: this page fills in as they do.")
        st.stop()
    sub = figures.describe(run.config, f"{run.tag} · trial(s) {', '.join(map(str, sorted(forks.trial.unique())))}")

    st.subheader("Along the line between two copies")
    networks = forks.drop_duplicates(["arm", "level"])
    names = {(a, lv): stability_figures.fork_name(a, lv, p)
             for a, lv, p in zip(networks.arm, networks.level, networks.percent_remaining)}
    c1, c2 = st.columns([3, 1])
    picked = c1.selectbox("Network", list(names), format_func=names.get, key="st_network")
    metric = c2.radio("Error", ["test_error", "train_error"], key="st_metric",
                      format_func=lambda m: m.split("_")[0].capitalize())
    points = forks[(forks.arm == picked[0]) & (forks.level == picked[1])]
    errors = data.cached(run, barriers.path_errors, tuple(sorted(points.point.unique())))
    if errors is not None and not errors.empty:
        charts.show(charts.chart(run, ("st-path", picked, metric), lambda: stability_figures.path_chart(
            errors, points, metric, f"{names[picked]} · {sub}")), "st-path")

    st.subheader("Barrier vs the iteration of the fork")
    charts.show(charts.chart(run, ("st-k",), lambda: stability_figures.barrier_chart(forks, sub)), "st-k")
    st.caption(f"Barrier: the highest test error on the line minus the mean of its two ends. Under "
               f"{stability_figures.STABLE:g} points (shaded) the network counts as stable. Error bars: min to max "
               "over trials.")

    st.subheader("Stable networks are the ones that match")
    gain = data.cached(run, barriers.ticket_gain, tuple(sorted(forks.trial.unique())))
    if gain is not None:
        charts.show(charts.chart(run, ("st-sparsity",), lambda: stability_figures.barrier_vs_sparsity(
            forks, gain, sub)), "st-sparsity")
        st.caption("Top: barrier of each forked network vs its sparsity. Bottom: how much the ticket gains over the "
                   "dense network at each level (test accuracy at early stop, the analysis's trials).")
    st.dataframe(barriers.barrier_table(forks).round(2), hide_index=True, width="stretch", column_config={
        "percent_remaining": "% remaining", "train_barrier": "train barrier", "test_barrier": "test barrier",
        "end_test_error": "copies' test error (%)", "trials": "trials", "pairs": "pairs of copies",
        "test_min": "test barrier, lowest pair", "test_max": "test barrier, highest pair"})
