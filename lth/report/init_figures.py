"""Figures for pruning at initialization (lth prune-init): what the sanity checks do to each method's masks.

Pure functions like lth.report.figures (lth.runs.tables.init_table's frame in, ``Chart`` out).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..core import arms, catalog
from .figures import FONT, Chart, _layout

CHECKS = {"shuffled_change": "Mask shuffled within each layer", "reinit_change": "Weights re-drawn"}


def _found_arm(method: str) -> str:
    """A pruning-at-init method's arm of its masks as found (not a sanity check's)."""
    return next(a.name for a in arms.of_method(method) if a.mask == "scored" and a.init == "rewind")


# "imp" (IMP's ticket) and each pruning-at-init method -> the arm whose colour it is drawn in
METHOD_ARMS = {"imp": "ticket", **{method: _found_arm(method) for method in catalog.methods("init")}}


def method_name(method: str) -> str:
    """A method's name on the charts: "IMP's ticket", or the catalog's ("SNIP")."""
    return "IMP's ticket" if method == "imp" else catalog.method_name(method)


def sanity_chart(table: pd.DataFrame, subtitle: str = "") -> Chart:
    """Change in accuracy (points) when each method's mask is shuffled within its layers (left) or trained from
    re-drawn weights (right), per % of weights remaining: a mask that carries information about *which* weights
    matter loses accuracy; one that only sets how many weights each layer keeps does not."""
    checks = [c for c in CHECKS if c in table]
    fig = make_subplots(rows=1, cols=max(1, len(checks)), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[CHECKS[c] for c in checks])
    if table.empty or not checks:
        return Chart(_layout(fig, "Sanity checks", "no sanity check in this run yet", "", ""), table,
                     "sanity_checks")
    labels = [f"{p:.1f}%" for p in table.drop_duplicates("level").sort_values("level").percent_remaining]
    for col, check in enumerate(checks, start=1):
        for method, rows in table.groupby("method", sort=False):
            rows = rows.sort_values("level")
            checked = rows[check.replace("_change", "")]
            fig.add_trace(go.Bar(
                x=[f"{p:.1f}%" for p in rows.percent_remaining], y=rows[check], name=method_name(method),
                marker_color=arms.colour(METHOD_ARMS[method]), legendgroup=method, showlegend=col == 1,
                customdata=np.stack([rows.level, rows.found, checked, rows.trials], axis=1),
                hovertemplate=(f"<b>{method_name(method)}</b>, %{{x}} remaining (IMP level %{{customdata[0]}})<br>"
                               "as found %{customdata[1]:.2f}% → checked %{customdata[2]:.2f}%<br>"
                               "change %{y:+.2f} points · mean over %{customdata[3]} trial(s)<extra></extra>")),
                row=1, col=col)
        fig.update_xaxes(categoryorder="array", categoryarray=labels, title_text="% of weights remaining",
                         row=1, col=col)
    fig.add_hline(y=0, line=dict(color="black", width=1))
    _layout(fig, "Sanity checks: does the mask know which weights matter?", subtitle, "",
            "Change in test accuracy (points)", height=560, legend_rows=1)
    fig.update_layout(barmode="group", xaxis_title="% of weights remaining",  # room for the panels' titles
                      margin=dict(t=fig.layout.margin.t + 35), height=fig.layout.height + 35)
    fig.update_annotations(font=FONT)
    return Chart(fig, table, "sanity_checks")


def layer_chart(summary: pd.DataFrame, level: int, subtitle: str = "") -> Chart:
    """% of each layer's weights kept by IMP's ticket and by each method's mask at one IMP level (means over
    trials): the per-layer sparsities that, per the sanity checks, are all some of these masks carry."""
    layers = [c for c in summary if c.startswith("remaining:")]
    imp = summary[(summary.arm == "ticket") & (summary.level == level)].assign(method="imp")
    found_arms = [arm for method, arm in METHOD_ARMS.items() if method != "imp"]
    found = summary[summary.arm.isin(found_arms) & (summary.get("imp_level") == level)]
    rows = pd.concat([imp, found.assign(method=found.arm)], ignore_index=True)
    layer_names = {c: c.split(":", 1)[1] for c in layers}
    data = (100 * rows.groupby("method", sort=False)[layers].mean()).rename(columns=layer_names)
    data = data.dropna(axis=1, how="all").reindex([m for m in METHOD_ARMS if m in data.index])
    fig = go.Figure()
    for method, kept in data.iterrows():
        hover = f"<b>{method_name(method)}</b><br>%{{x}}: %{{y:.2f}}% of its weights kept<extra></extra>"
        fig.add_trace(go.Bar(x=list(kept.index), y=kept.values, name=method_name(method),
                             marker_color=arms.colour(METHOD_ARMS[method]), text=[f"{v:.1f}" for v in kept.values],
                             textposition="outside", hovertemplate=hover))
    fig.update_yaxes(range=[0, 112])
    _layout(fig, "Where each method keeps its weights", subtitle, "Layer", "% of the layer's weights kept",
            height=520, legend_rows=1)
    fig.update_layout(barmode="group")
    return Chart(fig, data.reset_index().assign(level=level), f"kept_per_layer_level{level}")
