"""IMP live in class: the accuracy chart that grows a point per arm as each level finishes, and the one sentence
that says, from the data, what the class just saw."""

from __future__ import annotations

import math

import pandas as pd

from ..core import catalog
from ..core.config import Config
from ..runs import tables
from . import figures

ARMS = ("ticket", "reinit", "random_prune")  # the ticket and its two controls
CONTROLS = {"reinit": "random reinitialisation", "random_prune": "random pruning"}
METRIC = "test_acc_at_early_stop"


def planned_percents(config: Config) -> list[float]:
    """About the % of weights each level keeps, from the pruning rates alone (at most a point below the truth, as
    the output layer is pruned more slowly): the chart's axis spans the whole run, with ticks at these levels, from
    before the first point, so it never moves while the points arrive."""
    p = config.pruning
    rate = p.rate_global if p.strategy == "global" else max(p.rate_fc, p.rate_conv, p.rate_output)
    return [100 * (1 - rate) ** level for level in range(config.experiment.levels + 1)]


def chart(summary: pd.DataFrame, config: Config) -> figures.Chart:
    """Test accuracy at early stop vs % of weights remaining for the ticket and its controls, the dense network as a
    line, drawn for a projector: large type, thick lines, a one-line subtitle (the page shows the protocol's label),
    the legend inside the plot where the curves never go; the axes fixed to the run's span (x: all its levels; y:
    what the points reach, at least 5 points)."""
    made = figures.sparsity_chart({"": summary}, METRIC, list(ARMS))
    fig, planned = made.figure, planned_percents(config)
    t, trials = config.training, config.experiment.trials
    subtitle = (f"{catalog.model_name(config.model.model)} on {catalog.dataset_name(config.data.dataset)} · "
                f"{t.iterations:,} iterations a level · {trials} trial{'s' if trials > 1 else ''} · "
                f"run {config.run_id[:6]}")
    fig.update_layout(title=dict(text=f"Test accuracy at early stop vs weights remaining<br><sup>{subtitle}</sup>",
                                 x=0.01, xanchor="left", y=1, yanchor="top", yref="container", pad=dict(t=26)),
                      xaxis_title="% of weights remaining (log scale)", yaxis_title="Test accuracy (%)")
    if made.data.empty:  # before the first level: the same axes, empty
        fig.update_yaxes(range=[80, 100])
    else:
        top, bottom = float(made.data["high"].max()), float(made.data["low"].min())
        fig.update_yaxes(range=[min(bottom, top - 5) - 0.5, top + 0.7])
    lowest = min([planned[-1], *made.data.get("percent_remaining", [])])
    ticks = planned[::2] if len(planned) > 6 else planned
    fig.update_xaxes(type="log", autorange=False, range=[math.log10(115), math.log10(0.85 * lowest)],
                     tickvals=ticks, ticktext=[f"{t:.0f}%" if t >= 10 else f"{t:.1f}%" for t in ticks])
    fig.update_traces(selector=dict(mode="lines+markers"), marker_size=13, line_width=4)
    fig.update_layout(height=560, font_size=19, margin=dict(t=118, b=95), showlegend=True, legend=dict(
        orientation="v", x=0.01, y=0.03, xanchor="left", yanchor="bottom", bgcolor="rgba(255,255,255,0.85)"))
    return made


def sentence(summary: pd.DataFrame) -> str:
    """What the run shows at its sparsest finished level, e.g. "At 10.7% of the weights the ticket reached 97.1%
    test accuracy: 1.9 points above random reinitialisation and 3.0 above random pruning." ('' with no level.)"""
    rows = tables.imp_rows(summary)
    if rows.empty or "ticket" not in set(rows.arm):
        return ""
    level = int(rows[rows.arm == "ticket"].level.max())
    ticket = tables.at(rows, "ticket", level=level)
    accuracy = 100 * ticket[METRIC]
    if level == 0:
        return f"The dense network, all of its weights, reached {accuracy:.1f}% test accuracy."
    present = set(rows[rows.level == level].arm)
    said = []
    for arm, name in CONTROLS.items():
        if arm in present:  # the gap between the figures as rounded, so that a student's subtraction agrees
            gap = round(accuracy, 1) - round(100 * tables.at(rows, arm, level=level)[METRIC], 1)
            points = " points" if not said else ""
            said.append(f"level with {name}" if abs(gap) < 0.05 else
                        f"{abs(gap):.1f}{points} {'above' if gap > 0 else 'below'} {name}")
    start = f"At {ticket.percent_remaining:.1f}% of the weights the ticket reached {accuracy:.1f}% test accuracy"
    return start + (": " + " and ".join(said) if said else "") + "."
