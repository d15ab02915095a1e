"""Figures of masks: a layer as an image, what each layer keeps, and (for 28x28 inputs) pixel by pixel.

Pure functions like lth.report.figures (a mask or tidy frame in, ``Chart`` out), one module for the
charts of masks; arm styles come from the arm registry, layout from lth.report.figures.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..core import arms
from .figures import Chart, _layout


def block_density(mask: np.ndarray, max_side: int = 150) -> tuple[np.ndarray, int, int]:
    """A 2-D mask averaged over blocks so neither side exceeds max_side; returns (density, rows, cols) per block."""
    m = mask.reshape(mask.shape[0], -1).astype(np.float32)
    br = max(1, math.ceil(m.shape[0] / max_side))  # rows per block
    bc = max(1, math.ceil(m.shape[1] / max_side))  # columns per block
    pad = np.full((math.ceil(m.shape[0] / br) * br, math.ceil(m.shape[1] / bc) * bc), np.nan, dtype=np.float32)
    pad[: m.shape[0], : m.shape[1]] = m
    blocks = pad.reshape(pad.shape[0] // br, br, pad.shape[1] // bc, bc)
    return np.nanmean(blocks, axis=(1, 3)), br, bc


def mask_heatmap(mask: np.ndarray, layer: str, subtitle: str = "", compact: bool = False, name: str = "") -> Chart:
    """The mask as an image (block density for large layers); compact: a short title, for half-width charts."""
    density, br, bc = block_density(mask)
    exact = br == bc == 1
    what = "a cell per weight" if exact else f"a cell per {br}×{bc} block: share kept"
    fig = go.Figure(go.Heatmap(z=density, zmin=0, zmax=1, colorscale="Blues",
                               colorbar=dict(title="kept" if exact else "share kept"),
                               hovertemplate="outputs %{y}, inputs %{x}: %{z:.2f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    kept = mask.mean()
    title = (f"Layer {layer}: {kept:.1%} of {mask.size:,} kept" if compact
             else f"Mask of layer {layer}: {kept:.1%} of {mask.size:,} weights kept ({what})")
    x, y = (("input channel × kernel position", "filter (output channel)") if mask.ndim == 4
            else ("input unit", "output unit"))
    _layout(fig, title, subtitle, x if exact else f"{x} (÷{bc})", y if exact else f"{y} (÷{br})",
            height=460, legend_rows=0)
    data = pd.DataFrame(density).stack().rename("share_kept").reset_index()
    data.columns = ["block_row", "block_col", "share_kept"]
    return Chart(fig, data.assign(layer=layer, rows_per_block=br, cols_per_block=bc), name or f"mask_{layer}")


def remaining_by_layer(summary: pd.DataFrame, at: int, subtitle: str = "", arm: str = "ticket") -> Chart:
    """% of each layer's weights an arm keeps `at` a level (an IMP arm's) or sweep point (a sweep's arm)."""
    key = "level" if arms.is_imp_family(arm) else "point"
    rows = summary[(summary[key] == at) & (summary.arm == arm)]
    cols = [c for c in summary.columns if c.startswith("remaining:")]
    data = pd.DataFrame({"layer": [c.split(":", 1)[1] for c in cols],
                         "percent_remaining": [100 * rows[c].mean() for c in cols]})
    fig = go.Figure(go.Bar(x=data.layer, y=data.percent_remaining, marker_color=arms.colour(arm),
                           text=[f"{v:.1f}%" for v in data.percent_remaining], textposition="outside",
                           cliponaxis=False))
    fig.update_yaxes(range=[0, 110])
    setting = rows.setting.iloc[0] if "setting" in rows and not rows.empty else None
    where = f"level {at}" if not isinstance(setting, str) else f"{setting} · {arms.label(arm)}"
    _layout(fig, f"Weights remaining per layer at {where}", subtitle, "Layer", "% remaining", height=400,
            legend_rows=0)
    name = f"remaining_by_layer_level{at}" if arm == "ticket" else f"remaining_by_layer_{arm}_point{at}"
    return Chart(fig, data.assign(level=at, arm=arm), name)  # the CSV's column says level, a point's too


def pixel_counts(first_layer_mask: np.ndarray, side: int = 28) -> np.ndarray:
    """side x side: how many hidden units each input pixel still feeds (first fully-connected layer)."""
    return first_layer_mask.reshape(first_layer_mask.shape[0], -1).sum(0).reshape(side, -1)


def pixel_map(first_layer_mask: np.ndarray, side: int = 28, subtitle: str = "") -> Chart:
    """How many hidden units each input pixel still connects to (first fully-connected layer)."""
    counts = pixel_counts(first_layer_mask, side)
    fig = go.Figure(go.Heatmap(z=counts, colorscale="Viridis", colorbar=dict(title="connections"),
                               hovertemplate="pixel (%{y}, %{x}): %{z} connections<extra></extra>"))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False, showgrid=False, zeroline=False)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    _layout(fig, "Connections left per input pixel", subtitle, "", "", height=520, legend_rows=0)
    data = pd.DataFrame(counts).stack().rename("connections").reset_index()
    data.columns = ["row", "col", "connections"]
    return Chart(fig, data, "pixel_connections")


def border_and_centre(first_layer_mask: np.ndarray, side: int = 28, border: int = 4) -> tuple[float, float]:
    """Mean connections left per input pixel in the outer `border` pixels of the image, and inside them."""
    counts = pixel_counts(first_layer_mask, side)
    edge = np.ones(counts.shape, bool)
    edge[border:-border, border:-border] = False
    return float(counts[edge].mean()), float(counts[~edge].mean())


def receptive_fields(first_layer_mask: np.ndarray, side: int = 28, units: int = 16, subtitle: str = "") -> Chart:
    """The kept input connections of the hidden units that keep the most, each as an image."""
    m = first_layer_mask.reshape(first_layer_mask.shape[0], -1)
    order = np.argsort(-m.sum(1), kind="stable")[:units]
    cols = int(math.ceil(math.sqrt(len(order))))
    rows_n = int(math.ceil(len(order) / cols))
    fig = make_subplots(rows=rows_n, cols=cols, subplot_titles=[f"unit {u}" for u in order],
                        horizontal_spacing=0.02, vertical_spacing=0.06)
    for i, unit in enumerate(order):
        fig.add_trace(go.Heatmap(z=m[unit].reshape(side, -1).astype(int), colorscale=[[0, "white"], [1, "#0072B2"]],
                                 showscale=False, zmin=0, zmax=1, hovertemplate="(%{y}, %{x})<extra></extra>"),
                      row=i // cols + 1, col=i % cols + 1)
    frame = dict(showticklabels=False, showgrid=False, zeroline=False, showline=True, linecolor="#bbb", mirror=True)
    fig.update_yaxes(autorange="reversed", constrain="domain", **frame)  # a thin frame: the image's 28x28 extent
    fig.update_xaxes(constrain="domain", **frame)
    for i in range(1, len(order) + 1):  # square pixels: each image's y axis keeps the scale of its own x axis
        fig.update_layout({f"yaxis{i if i > 1 else ''}": dict(scaleanchor=f"x{i if i > 1 else ''}")})
    _layout(fig, f"Kept inputs of {len(order)} hidden units", subtitle, "", "",
            height=140 * rows_n + 190, legend_rows=0)
    fig.update_layout(margin_t=fig.layout.margin.t + 50)  # room for the first row's subplot titles
    data = pd.DataFrame({"unit": order, "kept_inputs": m[order].sum(1)})
    return Chart(fig, data, "receptive_fields")
