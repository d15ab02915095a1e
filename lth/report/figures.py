"""Pure functions from tidy frames to Plotly figures; the app and `lth export` both draw with these.

Each returns a ``Chart``: the figure, exactly the data it plots (its CSV), and
a file-friendly name. Titles and axes are in words a student reads at once.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..core import arms, catalog
from ..core.config import Config

DASHES = ["solid", "dash", "dot", "dashdot", "longdash"]
METRICS = {
    "test_acc_at_early_stop": ("Test accuracy at early stop (%)", 100),
    "test_acc_final": ("Test accuracy at the end of training (%)", 100),
    "train_acc_final": ("Train accuracy at the end of training (%)", 100),
    "early_stop_iteration": ("Early-stop iteration", 1),
}
AXIS_TITLES = {"test_acc_at_early_stop": "Test accuracy (%)", "test_acc_final": "Test accuracy, end (%)",
               "train_acc_final": "Train accuracy, end (%)", "early_stop_iteration": "Early-stop iteration"}
CURVE_METRICS = {"test_acc": ("Test accuracy (%)", 100), "val_loss": ("Validation loss", 1),
                 "val_acc": ("Validation accuracy (%)", 100), "train_loss": ("Training loss", 1)}
PERCENT_TICKS = [100, 51.3, 21.1, 13.5, 7.0, 3.6, 1.9, 1.0, 0.5, 0.2]
FONT = dict(size=16)


@dataclass
class Chart:
    """A figure, exactly the data it plots (exported as its CSV), and a file-friendly name."""

    figure: go.Figure
    data: pd.DataFrame
    name: str


def _optimiser(t) -> str:
    """'Adam 0.0012', or 'SGD 0.1, momentum 0.9, x0.1 at 20,000/25,000, warmup 2,000, augmented'."""
    if t.optimizer == "adam":
        text = f"Adam {t.lr:g}"
    else:
        text = f"SGD {t.lr:g}, momentum {t.momentum:g}"
    if t.lr_drops:
        text += f", x{t.lr_factor:g} at " + "/".join(f"{d:,}" for d in t.drop_iterations)
    if t.warmup:
        text += f", warmup {t.warmup:,}"
    return text + (", augmented" if t.augment else "")


def describe(config: Config, note: str = "", short: bool = False) -> str:
    """A chart's subtitle: the run's label in bold (if any), what it is (+ note), then how it trains (unless short,
    for half-width charts: then what it is takes two lines)."""
    t, p, e = config.training, config.pruning, config.experiment
    model = catalog.model_name(config.model.model)
    conv = f"conv {p.rate_conv:.0%} / " if config.model.model != "lenet_300_100" else ""
    rates = (f"global {p.rate_global:.0%}" + (" of the convs" if p.global_layers == "conv" else "")
             if p.strategy == "global" else f"{conv}fc {p.rate_fc:.0%} / output {p.rate_output:.0%}")
    rewind = "rewind to init" if p.rewind_iteration == 0 else f"rewind to iteration {p.rewind_iteration}"
    trials = f"{e.trials} trial" + ("s" if e.trials > 1 else "")
    # a long label wraps rather than running off the chart's edge (half-width charts wrap sooner)
    label_lines = textwrap.wrap(e.label, 55 if short else 95)
    label = f"<b>{'<br>'.join(label_lines)}</b><br>" if e.label else ""
    # short subtitles are for half-width charts: a line break where a narrow chart would cut the line off
    what = (f"{model} on {catalog.dataset_name(config.data.dataset)}" + ("<br>" if short else " · ")
            + f"{t.iterations:,} iterations a level · {trials}")
    how = f"{_optimiser(t)}, batch {t.batch_size} · prune {rates} per level, {rewind}"
    if config.data.input_scaling == "raw":  # the project's default (standardised inputs) goes unsaid
        how += " · raw inputs (x/255)"
    if e.slimming:
        how += f"<br>network slimming: {p.slim_rate:.0%} of the channels removed a level, λ {p.slim_l1:g}"
    return label + what + (f" · {note}" if note else "") + ("" if short else f"<br>{how}")


def _layout(fig: go.Figure, title: str, subtitle: str, x: str, y: str, height: int = 520,
            legend_rows: int = 2) -> go.Figure:
    """Title with a subtitle, axis titles, legend below; each legend row beyond two adds height, not less plot.

    legend_rows=0: a chart without a legend (heatmaps, bars) gives that room back to the plot."""
    extra = 34 * max(0, legend_rows - 2)
    lines = 30 * max(0, subtitle.count("<br>") - 1)  # a run's label adds a subtitle line: more room above
    top = 135 + lines
    bottom = 150 + extra if legend_rows else 80
    plot = max(100, height + extra + lines - top - bottom)
    # the title hangs from the top of the chart: a long label grows downwards and never runs into the plot
    heading = dict(text=f"{title}<br><sup>{subtitle}</sup>", x=0.01, xanchor="left", y=1, yref="container",
                   yanchor="top", pad=dict(t=18))
    fig.update_layout(
        title=heading, xaxis_title=x, yaxis_title=y, font=FONT, template="plotly_white",
        height=height + extra + lines,
        legend=dict(orientation="h", yanchor="top", y=-75 / plot, x=0),  # 75 px under the plot, below the axis title
        margin=dict(l=80, r=30, t=top, b=bottom), hoverlabel=dict(font_size=14))
    return fig


def _percent_axis(fig: go.Figure, points) -> None:
    """Log axis, 100% on the left; ticks at the data's own levels when there are few."""
    points = sorted({float(f"{p:.3g}") for p in points if p > 0}, reverse=True)
    ticks = points if len(points) <= 10 else [t for t in PERCENT_TICKS if t >= min(points) * 0.8]
    span = math.log(max(points) / min(points)) if len(points) > 1 else 1.0
    spaced = ticks[:1]
    for t in ticks[1:]:  # labels closer than ~7% of the axis width would print over each other
        if math.log(spaced[-1] / t) >= max(0.07 * span, math.log(1.15)):
            spaced.append(t)
    ticks = spaced
    fig.update_xaxes(type="log", autorange="reversed", tickvals=ticks, ticktext=[f"{t:g}%" for t in ticks],
                     tickangle=0)


# --- accuracy / early stopping vs weights remaining --------------------------------
def sparsity_frame(summary: pd.DataFrame, metric: str, run_label: str = "") -> pd.DataFrame:
    """Per arm and level: % remaining and the metric's mean, min and max over trials and control copies.

    IMP's controls start from the dense network (level 0), which only the ticket trains; gate arms
    do not (a strong ticket is never a trained dense net): their rows have a sweep `point` instead
    of a level, labelled by its `setting` (λ or s0).
    """
    if summary.empty:
        return pd.DataFrame()
    scale = METRICS[metric][1]
    summary = summary.assign(**{c: summary[c] if c in summary else None for c in ("setting", "point")})
    dense = summary[summary.level == 0]
    parts = []
    for arm in sorted(summary.arm.unique(), key=arms.order):
        rows = summary[summary.arm == arm]
        start = dense[dense.arm == arms.dense_arm(arm)]
        if arms.from_dense(arm) and not start.empty:
            rows = pd.concat([start.assign(arm=arm), rows])
        parts.append(rows)
    s = pd.concat(parts)
    s = s.assign(label=[x if isinstance(x, str) and x else f"level {int(lv)}" for lv, x in zip(s.level, s.setting)])
    grouped = s.groupby(["arm", "level", "point"], sort=False, dropna=False)  # a row has a level or a point
    out = grouped.agg(percent_remaining=("percent_remaining", "mean"), mean=(metric, "mean"), low=(metric, "min"),
                      high=(metric, "max"), n=(metric, "size"), label=("label", "first")).reset_index()

    def each(values: pd.Series) -> str:  # every member's figure, for the hover
        return ", ".join(f"{x * scale:.2f}" if scale != 1 else f"{x:.0f}" for x in values)

    out["per_trial"] = grouped[metric].apply(each).values
    for col in ("mean", "low", "high"):
        out[col] = out[col] * scale
    out.insert(0, "run", run_label)
    out["metric"] = metric
    return out


def sparsity_chart(frames: dict[str, pd.DataFrame], metric: str, shown: list[str] | None = None,
                   subtitle: str = "", show_dense: bool = True, budget: int | None = None) -> Chart:
    """Metric vs % of weights remaining: one line per arm (and run), min/max band, dense level as reference.

    Early-stop iterations with the runs' training `budget` (iterations a level): a point where a unit stopped
    at the last evaluation is ringed and counted in `censored` (its true stop is later: a lower bound)."""
    title, _ = METRICS[metric]
    data = pd.concat([sparsity_frame(s, metric, label) for label, s in frames.items()], ignore_index=True)
    if metric == "early_stop_iteration" and budget is not None and not data.empty:
        data = data.merge(_censored_counts(frames, budget), on=["run", "arm", "level"], how="left")
        data["censored"] = data["censored"].fillna(0).astype(int)
    fig = go.Figure()
    if data.empty:
        return Chart(_layout(fig, title, "no finished levels yet", "% of weights remaining", title), data, metric)
    if shown is not None:
        data = data[data.arm.isin(shown)]
    if metric == "early_stop_iteration":  # strong tickets are never trained: no early stop to show
        data = data[~data.arm.isin(arms.of_kind("strong"))]
    empty = data[data.percent_remaining <= 0]
    if not empty.empty:  # a log axis has no 0: say so rather than drop them silently
        subtitle += f" · {len(empty)} point(s) with no weight left not drawn"
    for r, (run_label, run_rows) in enumerate(data[data.percent_remaining > 0].groupby("run", sort=False)):
        dash = DASHES[r % len(DASHES)]
        for arm, rows in run_rows.groupby("arm", sort=False):
            rows = rows.sort_values(["percent_remaining", "level"], ascending=[False, True])
            colour = arms.colour(arm)
            name = arms.label(arm) + (f" · {run_label}" if len(frames) > 1 else "")
            if len(rows) > 1 and (rows.high > rows.low).any():
                fig.add_trace(go.Scatter(
                    x=pd.concat([rows.percent_remaining, rows.percent_remaining[::-1]]),
                    y=pd.concat([rows.high, rows.low[::-1]]), fill="toself", fillcolor=_rgba(colour, 0.15),
                    mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False, legendgroup=name))
            fig.add_trace(go.Scatter(
                x=rows.percent_remaining, y=rows["mean"], name=name, legendgroup=name, mode="lines+markers",
                line=dict(color=colour, dash=dash if len(frames) > 1 else arms.dash(arm), width=3),
                marker=dict(size=9, symbol=arms.marker(arm)),
                customdata=np.stack([rows.label, rows.percent_remaining, rows.per_trial, rows.n], axis=1),
                hovertemplate=("%{customdata[0]} · %{customdata[1]:.2f}% of weights remaining<br>"
                               "mean %{y:.2f} over %{customdata[3]} run(s)<br>each: %{customdata[2]}<extra>"
                               + name + "</extra>")))
        dense = run_rows[(run_rows.arm == "ticket") & (run_rows.level == 0)]
        if show_dense and not dense.empty:
            fig.add_hline(y=float(dense["mean"].iloc[0]), line=dict(color="black", dash="dot", width=1.5),
                          annotation_text="dense network" + (f" · {run_label}" if len(frames) > 1 else ""),
                          # not at the left end, where every curve starts on this line: at the sparse end,
                          # on the side the curves leave (accuracy falls, early-stop iterations rise)
                          annotation_position="bottom right" if metric == "early_stop_iteration" else "top right",
                          annotation_bgcolor="rgba(255,255,255,0.85)")
    if "censored" in data and data.censored.any():
        ringed = data[(data.censored > 0) & (data.percent_remaining > 0)]
        fig.add_trace(go.Scatter(
            x=ringed.percent_remaining, y=ringed["mean"], mode="markers", name="stopped at the last evaluation",
            marker=dict(size=20, symbol="circle-open", color="black", line=dict(width=2)),
            customdata=np.stack([ringed.censored, ringed.n], axis=1),
            hovertemplate=("censored: %{customdata[0]} of %{customdata[1]} stopped at the last evaluation, "
                           "still improving<extra></extra>")))
        subtitle += f" · ringed: early stop at the last evaluation ({budget:,}), a lower bound"
    _percent_axis(fig, data.percent_remaining[data.percent_remaining > 0])
    legend_rows = math.ceil(len([t for t in fig.data if t.showlegend is not False]) / 3)
    _layout(fig, f"{title} vs weights remaining", subtitle, "% of weights remaining (log scale)", AXIS_TITLES[metric],
            height=580, legend_rows=legend_rows)
    return Chart(fig, data, f"{metric}_vs_sparsity")


def _censored_counts(frames: dict[str, pd.DataFrame], budget: int) -> pd.DataFrame:
    """Per run, arm and level: how many units stopped early at the last evaluation (`budget` iterations)."""
    parts = []
    for label, s in frames.items():
        if s.empty:
            continue
        hit = s.assign(censored=(s["early_stop_iteration"] >= budget).astype(int), run=label)
        parts.append(hit.groupby(["run", "arm", "level"], as_index=False)["censored"].sum())
    if not parts:
        return pd.DataFrame(columns=["run", "arm", "level", "censored"])
    return pd.concat(parts, ignore_index=True)


# --- learning curves ---------------------------------------------------------------
def learning_curves(curves: pd.DataFrame, summary: pd.DataFrame, levels: list[int], metric: str = "test_acc",
                    shown: tuple[str, ...] = ("ticket",), subtitle: str = "") -> Chart:
    """Metric vs training iteration, mean over trials, one line per level (and arm); early stop marked."""
    label, scale = CURVE_METRICS[metric]
    sel = curves[curves.level.isin(levels) & curves.arm.isin(shown)]
    sel = sel[sel[metric].notna()]  # test points a run skipped (TrainingConfig.test_every) are NaN
    data = (sel.groupby(["level", "arm", "iteration"])[metric].agg(["mean", "min", "max"]).reset_index())
    for col in ("mean", "min", "max"):
        data[col] = data[col] * scale
    remaining = summary.groupby(["level", "arm"])["percent_remaining"].mean()
    early = summary.groupby(["level", "arm"])["early_stop_iteration"].mean()
    fig = go.Figure()
    palette = _level_palette(len(levels))
    for (level, arm), rows in data.groupby(["level", "arm"]):
        pct = remaining.get((level, arm), math.nan)
        name = f"{pct:.1f}% remaining" + (f" · {arms.label(arm)}" if len(shown) > 1 else "")
        colour = palette[sorted(levels).index(level)]
        dash = DASHES[list(shown).index(arm) % len(DASHES)]
        fig.add_trace(go.Scatter(x=rows.iteration, y=rows["mean"], name=name, mode="lines",
                                 line=dict(color=colour, dash=dash, width=2.5), legendgroup=name,
                                 hovertemplate=f"{name}<br>iteration %{{x:,}}<br>%{{y:.3f}}<extra></extra>"))
        es = early.get((level, arm))
        if es is not None and not math.isnan(es):
            y = float(np.interp(es, rows.iteration, rows["mean"]))
            star = dict(symbol="star", size=16, color=colour, line=dict(color="black", width=1))
            fig.add_trace(go.Scatter(x=[es], y=[y], mode="markers", legendgroup=name, showlegend=False, marker=star,
                                     hovertemplate=f"{name}<br>early stop (mean over trials): iteration %{{x:,.0f}}"
                                                   "<extra></extra>"))
    data["percent_remaining"] = [remaining.get((lv, a), math.nan) for lv, a in zip(data.level, data.arm)]
    _layout(fig, f"{label} during training", subtitle + " · ★ early-stop iteration", "Training iteration", label)
    later = data[data.iteration >= 0.05 * data.iteration.max()]["mean"]
    if metric.endswith("_acc") and not later.empty:  # zoom past the first 5% of training: 97% vs 98% must show
        low, high = float(later.min()), float(later.max())
        pad = max(0.2, 0.1 * (high - low))
        fig.update_yaxes(range=[low - pad, min(100.0, high + pad)])
    return Chart(fig, data, f"learning_curves_{metric}")


# --- weights -------------------------------------------------------------------------
QUANTITY_TITLES = {"initial": "Initial weights θ₀", "final": "Trained weights θ_final",
                   "movement": "How far each weight moved, |θ_final − θ₀|"}


def weight_histogram(hist: pd.DataFrame, layer: str, quantity: str, subtitle: str = "") -> Chart:
    """Kept vs pruned (by the next level) weights of one layer, summed over the trials given.

    Each trial's histogram has its own bins; with several trials their counts
    are re-binned by bin centre onto one common grid of the same resolution.
    The stored column `group` says which side of the mask a bin counts: "kept" or "pruned".
    """
    rows = hist[(hist.layer == layer) & (hist.quantity == quantity)]
    if rows.trial.nunique() > 1:
        edges = np.linspace(rows.bin_left.min(), rows.bin_right.max(), rows.groupby("trial").size().max() // 2 + 1)
        centre = (rows.bin_left + rows.bin_right) / 2
        index = np.clip(np.searchsorted(edges, centre, side="right") - 1, 0, len(edges) - 2)
        rows = rows.assign(bin_left=edges[index], bin_right=edges[index + 1])
    data = rows.groupby(["group", "bin_left", "bin_right"])["count"].sum().reset_index()
    fig = go.Figure()
    colours = {"kept": "#0072B2", "pruned": "#D55E00"}
    for side in ("kept", "pruned"):
        bins = data[data.group == side]
        total = max(int(bins["count"].sum()), 1)
        fig.add_trace(go.Bar(x=(bins.bin_left + bins.bin_right) / 2, y=bins["count"] / total,
                             width=bins.bin_right - bins.bin_left, name=f"{side} by the next level ({total:,} weights)",
                             marker_color=colours[side], opacity=0.6,
                             hovertemplate="%{x:.3f}: %{y:.2%}<extra>" + side + "</extra>"))
    fig.update_layout(barmode="overlay", yaxis_tickformat=".0%")
    x_title = "Weight value" if quantity != "movement" else "|θ_final − θ₀|"
    _layout(fig, f"{QUANTITY_TITLES[quantity]} · layer {layer}", subtitle, x_title, "Share of weights", height=500)
    return Chart(fig, data.assign(layer=layer, quantity=quantity), f"weights_{quantity}_{layer}")


# --- the pruning lab -----------------------------------------------------------------
def prune_without_retraining(prune_curve: pd.DataFrame, summary: pd.DataFrame, percent: float,
                             subtitle: str = "") -> Chart:
    """Dense net pruned by magnitude, not retrained, vs the ticket retrained from its init."""
    g = prune_curve.assign(percent_remaining=100 * prune_curve.remaining, acc=100 * prune_curve.test_acc)
    curve = g.groupby(g.percent_remaining.round(4))["acc"].agg(["mean", "min", "max"]).reset_index()
    ticket = sparsity_frame(summary[summary.arm == "ticket"], "test_acc_at_early_stop")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=curve.percent_remaining, y=curve["mean"], mode="lines",
                             line=dict(color="#7F7F7F", width=3), name="Pruned, not retrained"))
    if not ticket.empty:
        fig.add_trace(go.Scatter(x=ticket.percent_remaining, y=ticket["mean"], mode="lines+markers",
                                 line=dict(color=arms.colour("ticket"), width=3), name="Winning ticket, retrained"))
    fig.add_vline(x=percent, line=dict(color="black", dash="dash"))
    _percent_axis(fig, [*ticket.percent_remaining, *curve.percent_remaining])
    fig.update_yaxes(range=[0, 100])
    _layout(fig, "Pruning a trained network without retraining", subtitle, "% of weights remaining (log scale)",
            "Test accuracy (%)", height=540)
    data = pd.concat([curve.assign(series="pruned_not_retrained"),
                      ticket.rename(columns={"low": "min", "high": "max"})[["percent_remaining", "mean", "min", "max"]]
                      .assign(series="ticket_retrained")], ignore_index=True)
    return Chart(fig, data, "prune_without_retraining")


def _rgba(hex_colour: str, alpha: float) -> str:
    """'#0072B2' at opacity alpha, as plotly's rgba() (the min-max bands)."""
    h = hex_colour.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def _level_palette(n: int) -> list[str]:
    """n colours for n levels, dense to sparse."""
    import plotly.colors as pc

    # Viridis stops at 0.75: its yellow end is too pale for a line on white (or a projector)
    return pc.sample_colorscale("Viridis", [i / max(n - 1, 1) * 0.75 for i in range(n)])
