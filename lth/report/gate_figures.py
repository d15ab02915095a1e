"""Figures for masks found by gradient descent (lth gates): how they overlap IMP's, and what they cost.

Pure functions like lth.report.figures (tidy frame or masks in, ``Chart`` out), one module for the gate
sweeps' charts; arm styles come from the arm registry, layout from lth.report.figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..core import arms
from .figures import Chart, _layout, _percent_axis

ALL_LAYERS = "all layers"


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|a ∧ b| / |a ∨ b| of two boolean masks; two empty masks are identical: 1."""
    either = np.logical_or(a, b).sum()
    return 1.0 if either == 0 else float(np.logical_and(a, b).sum() / either)


def overlap_frame(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per layer (and all layers together): weights kept by each mask, by both, by either, and the Jaccard index.

    `chance` is the Jaccard index two independent random masks of the same densities would have on average.
    """
    rows = []
    for layer in [n for n in a if n in b] + [ALL_LAYERS]:
        if layer == ALL_LAYERS:
            x = np.concatenate([a[n].ravel() for n in a if n in b])
            y = np.concatenate([b[n].ravel() for n in a if n in b])
        else:
            x, y = a[layer].ravel(), b[layer].ravel()
        pa, pb = x.mean(), y.mean()
        union = pa + pb - pa * pb
        rows.append({"layer": layer, "weights": x.size, "kept_a": int(x.sum()), "kept_b": int(y.sum()),
                     "kept_both": int(np.logical_and(x, y).sum()), "kept_either": int(np.logical_or(x, y).sum()),
                     "jaccard": jaccard(x, y), "chance": 1.0 if union == 0 else float(pa * pb / union)})
    return pd.DataFrame(rows)


def mask_overlap(a: dict[str, np.ndarray], b: dict[str, np.ndarray], names: tuple[str, str],
                 subtitle: str = "", name: str = "mask_overlap") -> Chart:
    """Jaccard index of two masks per layer and overall, next to what two random masks would share."""
    data = overlap_frame(a, b)
    colours = ["#0072B2" if layer != ALL_LAYERS else "#000000" for layer in data.layer]
    fig = go.Figure(go.Bar(
        x=data.layer, y=data.jaccard, marker_color=colours, name="Jaccard index (shared / kept by either)",
        text=[f"{v:.2f}" for v in data.jaccard], textposition="outside",
        customdata=np.stack([data.kept_both, data.kept_either, data.kept_a, data.kept_b], axis=1),
        hovertemplate=("%{x}: %{y:.3f}<br>kept by both %{customdata[0]:,} of %{customdata[1]:,} kept by either"
                       f"<br>{names[0]}: %{{customdata[2]:,}} · {names[1]}: %{{customdata[3]:,}}<extra></extra>")))
    fig.add_trace(go.Scatter(x=data.layer, y=data.chance, mode="markers", name="two random masks of these densities",
                             marker=dict(symbol="line-ew-open", size=36, color="#D55E00", line=dict(width=3)),
                             hovertemplate="%{x}: random masks would share %{y:.3f}<extra></extra>"))
    fig.update_yaxes(range=[0, 1.12])
    _layout(fig, "How much two masks agree, layer by layer", f"{names[0]} vs {names[1]}<br>{subtitle}", "Layer",
            "Jaccard index", height=460)
    return Chart(fig, data.assign(mask_a=names[0], mask_b=names[1]), name)


def cost_chart(costs: pd.DataFrame, subtitle: str = "") -> Chart:
    """Accuracy (top) and what finding and training each ticket cost (bottom, model-iterations, log) vs % remaining.

    `costs` is lth.runs.tables.cost_table's frame: one row per arm and level (or sweep point). The panels share
    the sparsity axis, so at any sparsity one reads both how good each ticket is and what it cost.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.55, 0.45])
    if costs.empty:
        return Chart(_layout(fig, "Accuracy and cost", "no finished levels yet", "", ""), costs, "accuracy_and_cost")
    data = costs.assign(setting=costs.setting.fillna("").astype(str))
    data = data.assign(label=[s or f"level {int(lv)}" for s, lv in zip(data.setting, data.level)])
    shown = data[data.percent_remaining > 0]
    if len(shown) < len(data):  # a log axis has no 0
        subtitle += f" · {len(data) - len(shown)} point(s) with no weight left not drawn"
    for arm in sorted(shown.arm.unique(), key=arms.order):
        rows = shown[shown.arm == arm].sort_values("percent_remaining", ascending=False)
        style = dict(mode="lines+markers", line=dict(color=arms.colour(arm), width=2.5), legendgroup=arm,
                     marker=dict(size=9, symbol=arms.marker(arm), color=arms.colour(arm)),
                     customdata=np.stack([rows.label, rows.accuracy, rows.model_iterations, rows.seconds], axis=1),
                     hovertemplate=("%{customdata[0]} · %{x:.1f}% of weights remaining<br>accuracy "
                                    "%{customdata[1]:.2f}%<br>cost %{customdata[2]:,.0f} model-iterations, "
                                    "%{customdata[3]:.1f} s<extra>" + arms.label(arm) + "</extra>"))
        accuracy = go.Scatter(x=rows.percent_remaining, y=rows.accuracy, name=arms.label(arm), **style)
        fig.add_trace(accuracy, row=1, col=1)
        fig.add_trace(go.Scatter(x=rows.percent_remaining, y=rows.model_iterations, showlegend=False, **style),
                      row=2, col=1)
    _percent_axis(fig, shown.percent_remaining)
    legend_rows = -(-shown.arm.nunique() // 3)
    _layout(fig, "Accuracy, and what finding and training each ticket cost", subtitle, "", "Test accuracy (%)",
            height=720 + 40 * max(0, legend_rows - 2))
    fig.update_xaxes(title_text="% of weights remaining (log scale)", row=2, col=1)
    fig.update_yaxes(title_text="Model-iterations (log)", type="log", row=2, col=1)
    values = sorted(shown.model_iterations.unique())
    if len(values) <= 8:  # label the costs there are, not plotly's minor log ticks
        fig.update_yaxes(tickvals=values, ticktext=[f"{v:,.0f}" for v in values], row=2, col=1)
    else:  # powers of ten only
        fig.update_yaxes(dtick=1, tickformat=",.0f", row=2, col=1)
    fig.update_layout(legend=dict(y=-0.16))
    return Chart(fig, data, "accuracy_and_cost")
