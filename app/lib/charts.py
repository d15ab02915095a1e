"""Charts built once per server and shared by every session, drawn with their PNG / SVG / HTML / CSV downloads."""

from __future__ import annotations

from typing import Callable

import streamlit as st

from lib import data
from lth.report import export, figures
from lth.runs import results

MIME = {"png": "image/png", "svg": "image/svg+xml", "html": "text/html", "csv": "text/csv"}


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


def show(chart: figures.Chart, key: str) -> None:
    st.plotly_chart(chart.figure, width="stretch", key=f"chart-{key}", theme=None)
    downloads(chart, key)


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
