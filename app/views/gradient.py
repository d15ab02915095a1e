"""Gradient-found tickets: masks learned by gradient descent (gates, continuous sparsification) next to IMP's."""

import streamlit as st
from lib import charts, data, picker, present, texts

from lth.core import arms, catalog, paths
from lth.core.gate_config import DEFAULT_SWEEPS, GateConfig
from lth.report import figures, gate_figures, mask_figures
from lth.runs import tables
from lth.runs.results import Run

ABOUT = """
IMP finds a mask by **magnitude**: train, drop the smallest weights, rewind, repeat. These methods
**learn** the mask by gradient descent instead, one gate per weight, with a penalty on how many
gates are open; a sweep of the penalty gives masks of different sparsities.

- **Gaussian gates** and **hard-concrete gates**: two ways to make an on/off gate differentiable.
  The weights stay frozen at the run's own initial values θ₀; only the gates learn.
  - *strong ticket*: θ₀ under the learned mask, **never trained**: its accuracy is what the mask
    alone achieves.
  - *weak ticket*: the same mask retrained from θ₀ exactly like IMP's tickets (same iterations,
    optimiser and early stopping), so the two compare directly.
- **Continuous sparsification**: weights and a soft mask learn together over a few rounds; the
  final mask is retrained from the early weights θk, like a late-rewound ticket.

Each sweep value is a separate mask; its *setting* is λ (gate penalty) or s0 (initial mask score).
"""

st.title("Tickets found by gradient descent")
run = picker.current_run()
sweeps = data.cached(run, Run.methods) if run is not None else None
if sweeps is not None and not sweeps.empty:
    sweeps = sweeps[sweeps.family == "gradient"]  # pruning at init has its own page
if sweeps is not None and sweeps.empty and texts.refused_for_batch_norm(run, "Learning masks by gradient descent"):
    st.markdown(ABOUT)
elif sweeps is not None and sweeps.empty:
    st.markdown(ABOUT)
    st.info("This run has no gradient-found masks yet. Add a sweep from the command line (each line learns one "
            "method's masks from this run's θ₀ and stores them as new arms), or from the **Pruning lab**.")
    data_dir = paths.data_dir()
    commands = [f"python -m lth gates {texts.shown_path(run.path)} --method {m} --data-dir {data_dir}"
                for m in DEFAULT_SWEEPS]
    st.code("\n".join(commands), language="bash", wrap_lines=True)
    st.caption(f"Default sweeps: λ = {DEFAULT_SWEEPS['gaussian']} for the gates, s0 = {DEFAULT_SWEEPS['cs']} for "
               f"continuous sparsification (`--sweep` to choose); `--gate-iterations N` sets how long each mask "
               f"learns (default {GateConfig().gate_iterations:,}); `--no-retrain` skips the weak tickets. "
               "`python -m lth gates --help` lists every setting.")
elif sweeps is not None and (summary := data.read(run, Run.summary)) is not None:
    with st.expander("What are these methods?"):
        st.markdown(ABOUT)
    st.subheader("Sweeps on this run")
    st.dataframe(sweeps.assign(
        method=sweeps.method.map(catalog.method_name),
        arms=sweeps.arms.map(lambda arms: ", ".join(a.rsplit("_", 1)[-1] if a != "cs" else "retrained" for a in arms)),
        sweep=[", ".join(f"{'s0' if m == 'cs' else 'λ'}={v:g}" for v in values)
               for m, values in zip(sweeps.method, sweeps.sweep)],
        progress=[f"{d}/{n}" for d, n in zip(sweeps.units_done, sweeps.units)],
    )[["method", "arms", "sweep", "gate_iterations", "trials", "state", "progress"]],
        hide_index=True, width="stretch",
        column_config={"arms": "tickets", "sweep": "settings",
                       "gate_iterations": "mask-learning iterations (cs: per round)",
                       "progress": "points × trials done"})
    st.markdown("**How each method turns what it learned into the final binary mask:**\n"
                + "\n".join(f"- {catalog.method_name(m)}: {rule}" for m, rule in zip(sweeps.method, sweeps.rule)))

    gate = tables.sweep_rows(summary)
    gate = gate[gate.arm.map(lambda a: arms.group(a) == "Found by gradient descent")]
    if gate.empty:
        st.info("No sweep point has finished yet: this page fills in as they do.")
        st.stop()
    st.subheader("One learned mask next to IMP's")
    c1, c2, c3 = st.columns([2, 3, 1])
    arm = c1.selectbox("Arm", sorted(gate.arm.unique(), key=arms.order), format_func=arms.label,
                       key="g_arm")
    rows = gate[gate.arm == arm]
    pct = tables.percent_by_level(rows, arm)
    setting = tables.settings_by_point(rows, arm)
    if st.session_state.get("g_point") not in pct.index:  # picked for another arm
        st.session_state.pop("g_point", None)
    point = c2.select_slider("Sweep point", list(pct.index), key="g_point",
                             format_func=lambda p: f"{setting[p]} · {pct[p]:.1f}%")
    trial = c3.selectbox("Trial", sorted(rows[rows.point == point].trial.unique()), key="g_trial",
                         format_func=lambda t: f"trial {t}")
    level = tables.nearest_level(summary, pct[point])
    gate_masks = data.cached(run, Run.masks, point=point)
    imp_masks = data.cached(run, Run.masks, level)
    mine, imp = (gate_masks or {}).get((arm, trial, 0)), (imp_masks or {}).get(("ticket", trial, 0))
    if mine is None or imp is None:
        st.info("The masks of this point (or of IMP's ticket at that trial) are not stored yet.")
        st.stop()
    imp_row = tables.at(summary, "ticket", level=level, trial=trial)  # the masks shown
    name_gate, name_imp = f"{arms.label(arm)} at {setting[point]}", f"IMP ticket at level {level}"
    short = figures.describe(run.config, f"{run.tag} · trial {trial}", short=True)
    overlap = charts.chart(run, ("g-overlap", arm, point, trial), lambda: gate_figures.mask_overlap(
        mine, imp, (name_gate, name_imp), short, f"mask_overlap_{arm}_point{point}"))
    m = st.columns(3)
    acc = 100 * tables.at(rows, arm, point=point, trial=trial).test_acc_at_early_stop
    m[0].metric(f"Learned mask, {setting[point]}", f"{acc:.2f}%",
                help=f"Test accuracy; {pct[point]:.2f}% of weights remaining. Strong tickets: at the end of mask "
                     "learning (never trained). Weak and continuous sparsification: at early stop after retraining.")
    m[1].metric(f"IMP ticket, level {level} (closest sparsity)", f"{100 * imp_row.test_acc_at_early_stop:.2f}%",
                help=f"{imp_row.percent_remaining:.2f}% of weights remaining; test accuracy at early stop.")
    m[2].metric("Masks agree (Jaccard, all layers)", f"{overlap.data.jaccard.iloc[-1]:.2f}",
                help="Weights kept by both ÷ weights kept by either: 1 = the same mask, 0 = nothing shared.")
    charts.show(overlap, "g-overlap")
    st.caption("Bars: how much the learned mask and IMP's share, layer by layer and overall. Orange ticks: "
               "what two random masks of the same densities would share; bars above them mean the two methods "
               "pick the same weights more often than chance.")
    st.markdown("**The two masks, layer by layer** (dark = kept)")

    def heatmap(masks: dict, layer: str, name: str, side: str) -> None:
        """A layer's mask, built once per server (charts.chart): the heatmaps are this page's costliest figures."""
        key = ("g-mask", side, arm, point, level, trial, layer, name)
        build = lambda: mask_figures.mask_heatmap(masks[layer], layer, f"{name}<br>{short}", True)  # noqa: E731
        charts.show(charts.chart(run, key, build), f"g-{layer}-{side}")

    for tab, layer in zip(st.tabs(list(mine)), mine):
        with tab:
            left, right = present.columns(2)  # stacked on a projector
            with left:
                heatmap(mine, layer, name_gate, "gate")
            with right:
                heatmap(imp, layer, name_imp, "imp")

    st.subheader("What each ticket cost")
    costs = data.cached(run, tables.cost_table)
    if costs is not None and not costs.empty:
        charts.show(charts.chart(run, ("g-cost",), lambda: gate_figures.cost_chart(
            costs, charts.subtitle(run) + tables.cost_note(run))), "g-cost")
        st.dataframe(costs.assign(arm=costs.arm.map(arms.label)).round(
            {"percent_remaining": 2, "accuracy": 2, "seconds": 1}), hide_index=True, width="stretch",
            column_config={"arm": st.column_config.TextColumn("arm", width="medium"), "setting": "λ / s0",
                           "percent_remaining": "% remaining", "accuracy": "test accuracy (%)",
                           "model_iterations": st.column_config.NumberColumn("model-iterations", format="%d"),
                           "seconds": "seconds", "level": "level / point", "trials": "trials"})
        st.caption("Model-iterations per trial: one model trained for one iteration counts one. IMP's ticket at "
                   "level L needs its whole chain (L + 1 trainings); one-shot needs the dense training and its own; a "
                   "gate or continuous-sparsification mask needs its search plus, for weak tickets, one retraining; a "
                   "mask pruned at initialization (SNIP, GraSP, SynFlow), one training (scoring it takes seconds). "
                   "IMP's rows are over the trials the sweeps ran on (same θ0 and data order). Seconds are each "
                   "model's share of its batch's wall time; blank where a ticket's chain trained on more than one "
                   "device, since a CPU's and a GPU's seconds do not add up.")
