"""Masks: what the ticket keeps, layer by layer, and (for 28x28 inputs) pixel by pixel."""

import streamlit as st
from lib import charts, data, picker, present

from lth.core import arms, catalog
from lth.report import figures, mask_figures, structure_figures
from lth.runs import tables
from lth.runs.results import Run

st.title("What does the ticket keep?")
run = picker.current_run()
if run is not None and run.levels and (summary := data.read(run, Run.summary)) is not None:
    # Every arm with a stored mask (reinit shares the ticket's); a gradient method's arm has sweep points, not levels.
    stored = sorted(filter(arms.has_own_mask, set(summary.arm)), key=arms.order)
    c1, c2, c3 = st.columns([2, 3, 1])
    arm = c1.selectbox("Arm", stored, format_func=arms.label, key="m_arm")
    gate = not arms.is_imp_family(arm)
    pct = tables.percent_by_level(summary, arm)
    levels = list(pct.index)
    setting = tables.settings_by_point(summary, arm) if gate else {}
    if st.session_state.get("m_level") not in levels:  # picked for another arm
        st.session_state.pop("m_level", None)
    level = c2.select_slider("Sweep point" if gate else "Level", levels, value=levels[-1], key="m_level",
                             format_func=lambda lv: (f"{setting.get(lv)} · " if gate else f"{lv} · ")
                             + f"{pct.get(lv, float('nan')):.1f}%")
    spot = {"point": level} if gate else {"level": level}
    all_masks = data.cached(run, Run.masks, **spot)
    keys = sorted(k for k in (all_masks or {}) if k[0] == arm)
    if keys:
        key = c3.selectbox("Trial", keys, key=f"m_trial_{arm}",  # options follow the arm
                           format_func=lambda k: f"trial {k[1]}" + (f", control {k[2]}" if k[2] else ""))
        where = f"{setting.get(level)}" if gate else f"level {level}"
        sub = charts.subtitle(run) + f"<br>{where}, {arms.label(arm)}, trial {key[1]}"
        charts.show(charts.chart(run, ("m-bars", level, arm), lambda: mask_figures.remaining_by_layer(
            summary, level, charts.subtitle(run), arm)), "m-bars")
        layers = all_masks[key]
        prunable = [c.split(":", 1)[1] for c in summary.columns if c.startswith("channels:")]
        if arms.get(arm) is not None and arms.get(arm).kind == "structured" and prunable:
            st.markdown("Network slimming removes **whole channels**: a removed channel's filter, its batch-norm "
                        "scale and shift, and every weight that reads it are gone. The three slimming arms share "
                        "these channels.")
            charts.show(charts.chart(run, ("m-channels", key, level), lambda: structure_figures.channel_map(
                layers, prunable, sub)), "m-channels")
        tabs = st.tabs(list(layers))
        for tab, (name, mask) in zip(tabs, layers.items()):
            with tab:
                charts.show(charts.chart(run, ("m-layer", key, level, name),
                                         lambda: mask_figures.mask_heatmap(mask, name, sub)), f"m-{name}")
        first = next(iter(layers.values()))
        if first.ndim == 2 and first.shape[1] == 784:
            st.subheader("The first layer, seen as images")
            edge, centre = mask_figures.border_and_centre(first, 28)
            st.markdown(f"Each {catalog.dataset_name(run.config.data.dataset)} input is a 28×28 image. Left: how "
                        "many hidden units each pixel still feeds. Right: the inputs kept by the 16 hidden units "
                        f"that keep the most. Here a pixel of the 4-pixel border feeds **{edge:.1f}** units on "
                        f"average, a pixel inside it **{centre:.1f}**. On MNIST, whose border is empty, tickets "
                        "drop the border and keep the centre, where the digits are; Fashion-MNIST's garments "
                        "fill the frame, and its tickets keep the border almost as well as the centre.")
            half = (figures.describe(run.config, short=True)
                    + f"<br>{where} · {arms.label(arm)} · trial {key[1]} · run {run.run_id[:6]}")
            c1, c2 = present.columns(2)  # half-width charts (stacked on a projector): a short subtitle
            with c1:
                charts.show(charts.chart(run, ("m-pixels", key, level),
                                         lambda: mask_figures.pixel_map(first, 28, half)), "m-pixels")
            with c2:
                charts.show(charts.chart(run, ("m-fields", key, level),
                                         lambda: mask_figures.receptive_fields(first, 28, 16, half)), "m-fields")
    elif all_masks is not None:
        st.info(f"No stored mask of {arms.label(arm)} at this point yet.")
