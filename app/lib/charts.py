"""Charts built once per server and shared by every session, drawn with their PNG / SVG / HTML / CSV downloads;
in presenter mode (lib.present) drawn from a copy restyled for a projector, without the downloads."""

from __future__ import annotations

import math
import re
import textwrap
from typing import Callable

import plotly.graph_objects as go
import streamlit as st

from lib import data, present
from lth.report import export, figures
from lth.runs import results

MIME = {"png": "image/png", "svg": "image/svg+xml", "html": "text/html", "csv": "text/csv"}
# Projector sizes (px): text, tick labels, titles; a subtitle is <sup>, 70% of the title's size, so 21 px.
FONT, TICKS, TITLE, AXIS = 22, 22, 30, 24
WIDTH = 1180  # px: a full-width chart on a 1280 px projector in presenter mode (no sidebar)


@st.cache_resource(show_spinner=False, max_entries=256)
def _chart(key: tuple, _build: Callable[[], figures.Chart]) -> figures.Chart:
    return _build()


def chart(runs: results.Run | list[results.Run], key: tuple, build: Callable[[], figures.Chart]) -> figures.Chart:
    """A chart built once per (runs as they are now, key) and shared by every session of this server: a class
    opening the same page costs the server one build, not thirty. `key` names everything else the chart shows
    (which chart, the picked settings); `build` makes it. Charts are only read after building (drawn, exported),
    so sessions can share them."""
    runs = runs if isinstance(runs, list) else [runs]
    return _chart((tuple((str(r.path), data.stamp(str(r.path))) for r in runs), *key), build)


def subtitle(run: results.Run) -> str:
    """What a chart of the run says under its title: the config, the run's id and, while unfinished, its progress."""
    return figures.describe(run.config, run.tag)


def show(chart: figures.Chart, key: str, share: float = 1.0, height: int | None = None) -> None:
    """The chart with its downloads; in presenter mode a copy for a projector (see `projector`: `share` is the part
    of the page's width the chart is drawn in, `height` the most it may take), without them."""
    if present.on():
        st.plotly_chart(projector(chart.figure, share, height), width="stretch", key=f"chart-{key}", theme=None)
        return
    st.plotly_chart(chart.figure, width="stretch", key=f"chart-{key}", theme=None)
    downloads(chart, key)


def _wrap(line: str, limit: int) -> list[str]:
    """A subtitle line cut into lines of at most `limit` characters (tags not counted), at its " · " where it can."""
    out: list[str] = []
    for part in line.split(" · "):
        plain = len(re.sub(r"<[^>]+>", "", part))
        if out and len(re.sub(r"<[^>]+>", "", out[-1])) + 3 + plain <= limit:
            out[-1] += " · " + part
        else:
            out += textwrap.wrap(part, limit, break_on_hyphens=False) or [part]
    return out


def _legend_rows(fig: go.Figure, width: float) -> int:
    """How many rows the horizontal legend takes at FONT px across a chart `width` px wide (0: none shown)."""
    names = [t.name for t in fig.data if t.name and t.showlegend is not False and t.type != "heatmap"]
    if fig.layout.showlegend is False or (len(names) < 2 and fig.layout.showlegend is not True):
        return 0
    rows, used = 1, 0.0
    for name in names:  # entries in order, a new row where the next does not fit (as plotly lays them out)
        entry = 0.55 * FONT * len(name) + 60  # its text, and the line sample before it
        rows, used = (rows + 1, entry) if used and used + entry > width - 60 else (rows, used + entry)
    return rows


def _spaced(fig: go.Figure, axis, plot: float) -> None:
    """A log axis's labelled ticks (lth.report.figures._percent_axis) thinned so that labels TICKS px high, across
    `plot` px, do not print over each other."""
    if axis.type != "log" or not axis.tickvals:
        return
    xs = [float(x) for t in fig.data if t.x is not None and t.type == "scatter" for x in t.x
          if isinstance(x, (int, float)) and x > 0]
    span = math.log(max(xs) / min(xs)) if len(xs) > 1 and max(xs) > min(xs) else 0
    if not span:
        return
    kept: list[tuple[float, str]] = []
    for value, text in zip(axis.tickvals, axis.ticktext or [str(v) for v in axis.tickvals]):
        room = 0.3 * TICKS * (len(text) + len(kept[-1][1])) + 14 if kept else 0  # half of each label, and a gap
        if not kept or abs(math.log(kept[-1][0] / value)) / span * plot >= room:
            kept.append((value, text))
    axis.update(tickvals=[v for v, _ in kept], ticktext=[t for _, t in kept])


def projector(figure: go.Figure, share: float = 1.0, most: int | None = None) -> go.Figure:
    """A copy of the figure for a projector: every text at least 20 px, the title, subtitle and axis titles wrapped
    to the chart's width (`share` of the page's), margins grown, the plot keeping its height unless the whole would
    pass `most` px. The figure itself is shared by every session: untouched."""
    fig, width = go.Figure(figure), share * WIDTH
    old = fig.layout
    heading, _, sub = (old.title.text or "").partition("<br><sup>")
    heading = textwrap.wrap(heading, int(width / (0.5 * TITLE))) if heading else []
    limit = int(width / (0.5 * 0.7 * TITLE))  # characters of a subtitle line: about half an em each
    lines = [piece for line in sub.removesuffix("</sup>").split("<br>") if line for piece in _wrap(line, limit)]
    if heading:
        fig.update_layout(title_text="<br>".join(heading) + (f"<br><sup>{'<br>'.join(lines)}</sup>" if lines else ""),
                          title_pad_t=28)
    top = 28 + round(1.25 * TITLE) * (len(heading) + len(lines)) + 24 if heading else 40
    bottom = (90 if old.xaxis.title.text else 50) + 34 * _legend_rows(fig, width) + 10
    margin = old.margin
    plot = max(220, (old.height or 500) - (margin.t or 0) - (margin.b or 0))
    if most:
        plot = max(180, min(plot, most - top - bottom))
    left, right = max(margin.l or 0, 110), max(margin.r or 0, 40)
    fig.update_layout(
        font_size=FONT, title_font_size=TITLE, hoverlabel_font_size=FONT, height=top + plot + bottom,
        margin=dict(t=top, b=bottom, l=left, r=right),
        legend=dict(font_size=FONT, orientation="h", x=0, xanchor="left", yref="container", y=0, yanchor="bottom"))
    fig.update_xaxes(title_font_size=AXIS, tickfont_size=TICKS, automargin=True)
    fig.update_yaxes(title_font_size=AXIS, tickfont_size=TICKS, automargin=True)
    fig.for_each_xaxis(lambda axis: _spaced(fig, axis, width - left - right))
    for axes, room in ((fig.for_each_xaxis, width - left - right), (fig.for_each_yaxis, plot)):
        axes(lambda axis: axis.title.text and axis.update(title_text="<br>".join(
            textwrap.wrap(axis.title.text, int(room / (0.5 * AXIS))))))
    fig.update_annotations(font_size=FONT)
    fig.update_traces(colorbar=dict(tickfont_size=TICKS, title_font_size=FONT), selector=dict(type="heatmap"))
    return fig


def downloads(chart: figures.Chart, key: str) -> None:
    """A row of download buttons; PNG and SVG off, saying why, where no browser can render them here."""
    ok, why = export.static_export_status()
    row = st.container(horizontal=True, gap="small")
    for fmt in ("png", "svg", "html", "csv"):
        disabled = fmt in ("png", "svg") and not ok
        what = f"Download this chart as {fmt.upper()}" + (" (exactly the data plotted)" if fmt == "csv" else "")
        row.download_button(
            fmt.upper(), data=(lambda c=chart, f=fmt: export.to_bytes(c, f)), file_name=f"{chart.name}.{fmt}",
            mime=MIME[fmt], key=f"dl-{key}-{fmt}", disabled=disabled, on_click="ignore",
            help=why if disabled else what)
    if not ok:
        row.caption(why)
