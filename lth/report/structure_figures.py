"""Figures for structured tickets (network slimming): what pruning saves, and which channels a slimmed
network keeps.

Pure functions like lth.report.figures: lth.runs.tables.structure_table's frame (or a unit's masks) in,
``Chart`` out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..core import arms
from .figures import Chart, _layout, _percent_axis

SLIMMED = ("slim_finetune", "slim_rewind", "slim_fresh")  # one network, three trainings: one cost
NETWORKS = (  # what the speed-up chart compares: its name there, and the arms whose rows it averages
    ("Slimmed network (channels removed)", SLIMMED),
    ("IMP ticket (dense, with its mask)", ("ticket",)),
)


def speedup_chart(table: pd.DataFrame, subtitle: str = "") -> Chart:
    """Speed-up over the dense network vs % of weights remaining: what the FLOPs promise (dashed) and what a forward
    pass measured (solid), for the slimmed network and for IMP's ticket run dense with its mask."""
    fig = go.Figure()
    title = "What pruning saves at inference"
    if table.empty:
        return Chart(_layout(fig, title, "no finished level yet", "", ""), table, "speedup")
    rows = []
    for who, arm_names in NETWORKS:
        part = table[table.arm.isin(arm_names)].groupby("level").agg(
            percent=("% remaining", "mean"), flops=("x fewer FLOPs", "mean"), measured=("x faster", "mean"),
            ms=("ms", "mean"), ms_dense=("ms dense", "mean")).reset_index()
        colour = arms.colour(arm_names[0])
        for series, dash, column in (("FLOPs", "dash", "flops"), ("measured", "solid", "measured")):
            name = f"{who}: {'x fewer FLOPs' if series == 'FLOPs' else 'x faster, measured'}"
            timing = "<br>%{customdata[1]:.2f} ms vs %{customdata[2]:.2f} ms dense" if column == "measured" else ""
            hover = "level %{customdata[0]} · %{x:.1f}% of weights remaining<br>%{y:.2f}x" + timing
            fig.add_trace(go.Scatter(
                x=part.percent, y=part[column], name=name, mode="lines+markers",
                line=dict(color=colour, dash=dash, width=3), marker=dict(size=9, symbol=arms.marker(arm_names[0])),
                customdata=np.stack([part.level, part.ms, part.ms_dense], axis=1),
                hovertemplate=hover + f"<extra>{name}</extra>"))
        rows.append(part.assign(network=who))
    fig.add_hline(y=1, line=dict(color="black", dash="dot", width=1.5), annotation_text="dense network",
                  annotation_position="bottom right", annotation_bgcolor="rgba(255,255,255,0.85)")
    _percent_axis(fig, table["% remaining"])
    _layout(fig, title, subtitle, "% of weights remaining (log scale)", "Speed-up over the dense network (x)",
            height=560, legend_rows=2)
    return Chart(fig, pd.concat(rows, ignore_index=True), "speedup_vs_sparsity")


def channel_map(masks: dict[str, np.ndarray], layers: list[str], subtitle: str = "") -> Chart:
    """Which output channels each prunable layer keeps (a channel is kept while its filter has a weight left):
    one row per layer, one cell per channel."""
    kept = {n: masks[n].reshape(masks[n].shape[0], -1).any(1) for n in layers if n in masks}
    width = max((len(v) for v in kept.values()), default=1)
    z = np.full((len(kept), width), np.nan)
    for i, v in enumerate(kept.values()):
        z[i, :len(v)] = v
    names = [f"{n} ({int(v.sum())}/{len(v)})" for n, v in kept.items()]
    colour = arms.colour("slim_finetune")
    fig = go.Figure(go.Heatmap(
        z=z, y=names, x=list(range(width)), zmin=0, zmax=1, xgap=2, ygap=4, showscale=False,
        colorscale=[[0, "#DDDDDD"], [0.5, "#DDDDDD"], [0.5, colour], [1, colour]],
        hovertemplate="%{y} · channel %{x}: %{z}<extra>1 = kept, 0 = removed</extra>"))
    fig.update_yaxes(autorange="reversed")
    key = f"<span style='color:{colour}'>■</span> kept   <span style='color:#BBBBBB'>■</span> removed"
    fig.add_annotation(text=key, showarrow=False, xref="paper", yref="paper", x=1, y=1.02,
                       xanchor="right", yanchor="bottom", font=dict(color="#555555"))
    _layout(fig, "Channels kept per layer", subtitle, "Channel", "", height=160 + 48 * max(3, len(kept)),
            legend_rows=0)
    cells = [{"layer": n, "channel": j, "kept": bool(k)} for n, v in kept.items() for j, k in enumerate(v)]
    return Chart(fig, pd.DataFrame(cells), "channels_kept")
