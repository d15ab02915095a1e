"""Figures of an instability analysis (lth.runs.barriers's frames in, ``Chart`` out), like lth.report.figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..core import arms
from .figures import FONT, Chart, _layout, _percent_axis, _rgba

K_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"]
STABLE = 2.0  # % barrier under which a network counts as stable (PAPER.md, from third-party notes)


def fork_name(arm: str, level: int, percent: float) -> str:
    """The network a fork copied, as the charts name it: the dense network, or an arm at a level."""
    return "dense network" if level == 0 else f"{arms.label(arm)}, level {level} ({percent:.1f}%)"


def path_chart(errors: pd.DataFrame, forks: pd.DataFrame, metric: str = "test_error", subtitle: str = "") -> Chart:
    """Error along the straight line between two copies, one line per k (mean over pairs and trials, band:
    min to max): a bump in the middle is a barrier, a flat line means the copies are linearly connected."""
    what = {"test_error": "Test error (%)", "train_error": "Train error (%)"}[metric]
    data = errors.merge(forks[["point", "k"]].drop_duplicates(), on="point")
    stats = data.groupby(["k", "alpha"])[metric].agg(["mean", "min", "max", "size"]).reset_index()
    fig = go.Figure()
    for i, (k, rows) in enumerate(stats.groupby("k")):
        colour = K_COLOURS[i % len(K_COLOURS)]
        if (rows["max"] > rows["min"]).any():
            band_x = pd.concat([rows.alpha, rows.alpha[::-1]])
            band_y = pd.concat([rows["max"], rows["min"][::-1]])
            fig.add_trace(go.Scatter(x=band_x, y=band_y, fill="toself", fillcolor=_rgba(colour, 0.15),
                                     line=dict(width=0), hoverinfo="skip", showlegend=False, legendgroup=str(k)))
        fig.add_trace(go.Scatter(x=rows.alpha, y=rows["mean"], mode="lines+markers", name=f"forked at k = {k:,}",
                                 line=dict(color=colour, width=3), legendgroup=str(k),
                                 hovertemplate=f"k = {k:,} · α = %{{x:.2f}}<br>{what.lower()}: %{{y:.2f}}"
                                               "<extra></extra>"))
    _layout(fig, f"{what} on the straight line between two copies", subtitle, "α (0: copy A, 1: copy B)", what,
            height=520, legend_rows=1)
    return Chart(fig, stats.rename(columns={"mean": metric}), f"stability_path_{metric}")


def barrier_chart(forks: pd.DataFrame, subtitle: str = "") -> Chart:
    """Test-error barrier vs the iteration k the copies forked at, one line per network; the stable zone shaded."""
    stats = forks.groupby(["arm", "level", "k"]).agg(
        barrier=("test_barrier", "mean"), low=("test_barrier", "min"), high=("test_barrier", "max"),
        percent_remaining=("percent_remaining", "mean"), trials=("trial", "nunique")).reset_index()
    fig = go.Figure()
    fig.add_hrect(y0=min(0.0, stats.low.min()), y1=STABLE, fillcolor="#009E73", opacity=0.08, line_width=0,
                  annotation_text=f"stable (barrier under {STABLE:g}%)", annotation_position="top left")
    for i, ((arm, level), rows) in enumerate(stats.groupby(["arm", "level"], sort=False)):
        name = fork_name(arm, level, rows.percent_remaining.iloc[0])
        spread = dict(type="data", symmetric=False, array=rows.high - rows.barrier,
                      arrayminus=rows.barrier - rows.low)
        fig.add_trace(go.Scatter(
            x=rows.k, y=rows.barrier, mode="lines+markers", name=name, marker=dict(size=10, symbol=arms.marker(arm)),
            line=dict(color="black" if level == 0 else K_COLOURS[i % len(K_COLOURS)], width=3,
                      dash="dot" if arm == "reinit" else "solid"),
            error_y=spread,
            customdata=np.stack([rows.trials], axis=1),
            hovertemplate=f"{name}<br>k = %{{x:,}}: barrier %{{y:.2f}} points<br>mean over %{{customdata[0]}} "
                          "trial(s)<extra></extra>"))
    _layout(fig, "Error barrier vs the iteration the copies forked at", subtitle, "k (iteration of the fork)",
            "Test-error barrier (points)", height=520, legend_rows=1 + len(fig.data) // 3)
    return Chart(fig, stats, "stability_barrier_vs_k")


def barrier_vs_sparsity(forks: pd.DataFrame, gain: pd.DataFrame, subtitle: str = "") -> Chart:
    """Top: barrier vs % remaining, one line per k. Bottom: the ticket's test accuracy minus the dense network's
    (points): the follow-up paper's central plot, where tickets match the dense net only while they are stable."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=["Test-error barrier between two copies (points)",
                                        "Ticket's test accuracy minus the dense network's (points)"])
    stats = forks.groupby(["arm", "k", "level"]).agg(barrier=("test_barrier", "mean"),
                                                     percent_remaining=("percent_remaining", "mean")).reset_index()
    ks = sorted(stats.k.unique())  # colour = k, as on the path chart; line style = arm
    for (arm, k), rows in stats.groupby(["arm", "k"]):
        rows = rows.sort_values("percent_remaining", ascending=False)
        line = go.Scatter(x=rows.percent_remaining, y=rows.barrier, mode="lines+markers",
                          name=f"{arms.label(arm)}, k = {k:,}", marker=dict(size=9, symbol=arms.marker(arm)),
                          line=dict(color=K_COLOURS[ks.index(k) % len(K_COLOURS)], width=3,
                                    dash="dot" if arm == "reinit" else "solid"),
                          hovertemplate="%{x:.1f}% remaining: barrier %{y:.2f} points<extra></extra>")
        fig.add_trace(line, row=1, col=1)
    fig.add_hrect(y0=0, y1=STABLE, fillcolor="#009E73", opacity=0.08, line_width=0, row=1, col=1)
    fig.add_trace(go.Scatter(x=gain.percent_remaining, y=gain.gain, mode="lines+markers", name="ticket − dense",
                             line=dict(color="black", width=3), marker=dict(size=9),
                             hovertemplate="%{x:.1f}% remaining: %{y:+.2f} points<extra></extra>"), row=2, col=1)
    fig.add_hline(y=0, line=dict(color="black", dash="dot", width=1.5), row=2, col=1)
    _layout(fig, "Stable networks are the ones that match", subtitle, "", "", height=720,
            legend_rows=1 + len(fig.data) // 3)
    _percent_axis(fig, pd.concat([stats.percent_remaining, gain.percent_remaining]))
    fig.update_xaxes(title_text="% of weights remaining (log scale)", row=2, col=1)
    fig.update_layout(margin=dict(t=fig.layout.margin.t + 30), height=fig.layout.height + 30)
    fig.update_annotations(font=FONT)
    data = pd.concat([stats.assign(series="barrier"), gain.assign(series="ticket minus dense")], ignore_index=True)
    return Chart(fig, data, "stability_barrier_vs_sparsity")
