"""Masks: what the ticket keeps, layer by layer, and (for 28x28 inputs) pixel by pixel."""

import streamlit as st

import common
from lth import figures

st.title("What does the ticket keep?")
run = common.current_run()
if run is not None and run.levels and (data := common.load("summary", run)) is not None:
    levels = run.levels
    pct = data[data.arm == "ticket"].groupby("level")["percent_remaining"].mean()
    level = st.select_slider("Level", levels, value=levels[-1], key="m_level",
                             format_func=lambda lv: f"{lv} · {pct.get(lv, float('nan')):.1f}%")
    all_masks = common.load("masks", run, level)
    if all_masks:
        keys = sorted((k for k in all_masks if k[0] != "next"), key=lambda k: (figures.arm_order(k[0]), k[1], k[2]))
        c1, c2 = st.columns(2)
        arm = c1.selectbox("Arm", sorted({k[0] for k in keys}, key=figures.arm_order), format_func=figures.arm_label,
                           key="m_arm")
        key = c2.selectbox("Trial", [k for k in keys if k[0] == arm], key=f"m_trial_{arm}",  # options follow the arm
                           format_func=lambda k: f"trial {k[1]}" + (f", control {k[2]}" if k[2] else ""))
        sub = common.subtitle(run) + f" · level {level}, {figures.arm_label(arm)}, trial {key[1]}"
        common.show(figures.remaining_by_layer(data, level, common.subtitle(run)), "m-bars")
        layers = all_masks[key]
        tabs = st.tabs(list(layers))
        for tab, (name, mask) in zip(tabs, layers.items()):
            with tab:
                common.show(figures.mask_heatmap(mask, name, sub), f"m-{name}")
        first = next(iter(layers.values()))
        if first.ndim == 2 and first.shape[1] == 784:
            st.subheader("The first layer, seen as images")
            st.markdown("Each MNIST input is a 28×28 image. Left: how many hidden units each pixel still feeds. "
                        "Tickets keep the centre, where the digits are, and drop the empty border.")
            c1, c2 = st.columns(2)
            with c1:
                common.show(figures.pixel_map(first, 28, sub), "m-pixels")
            with c2:
                common.show(figures.receptive_fields(first, 28, 16, sub), "m-fields")
