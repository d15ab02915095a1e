"""Charts to files: PNG and SVG through kaleido 1.x (a headless Chromium), standalone HTML, CSV.

kaleido finds Chromium on PATH (Debian's `chromium`); one browser is started
per process and reused. Where there is none, PNG/SVG say why and HTML/CSV work.
"""

from __future__ import annotations

import functools
import io
import shutil
import warnings
import zipfile
from pathlib import Path

import pandas as pd

from ..core import arms
from ..runs import barriers
from ..runs.results import Run
from ..runs.tables import cost_note, cost_table, init_table, nearest_level
from . import figures, gate_figures, init_figures, mask_figures, stability_figures
from .figures import Chart

FORMATS = ("png", "svg", "html", "csv")
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def static_export_status() -> tuple[bool, str]:
    """Whether PNG/SVG can work here, without starting anything (cheap; for drawing buttons)."""
    if not any(shutil.which(b) for b in BROWSERS):
        return False, "PNG/SVG export needs Chromium or Chrome (Debian: apt-get install chromium); HTML and CSV work"
    return True, ""


@functools.cache
def static_export() -> tuple[bool, str]:
    """(available, reason); starts kaleido's browser once for the whole process."""
    ok, why = static_export_status()
    if not ok:
        return ok, why
    try:
        import kaleido

        kaleido.start_sync_server(silence_warnings=True)
    except Exception as err:  # a browser that will not start: say so, keep HTML/CSV
        first_line = str(err).splitlines()[0] if str(err) else repr(err)
        return False, f"PNG/SVG export could not start Chromium ({first_line})"
    return True, ""


def to_bytes(chart: Chart, fmt: str, scale: float = 2.0) -> bytes:
    """The chart as a file of one of FORMATS (CSV: its data); RuntimeError saying why when PNG/SVG cannot work."""
    if fmt == "csv":
        return chart.data.to_csv(index=False).encode()
    if fmt == "html":
        return chart.figure.to_html(full_html=True, include_plotlyjs=True).encode()
    if fmt in ("png", "svg"):
        ok, why = static_export()
        if not ok:
            raise RuntimeError(why)
        with warnings.catch_warnings():  # plotly warns that its kaleido options go unused with a server
            warnings.simplefilter("ignore", UserWarning)
            return chart.figure.to_image(format=fmt, width=1100, height=chart.figure.layout.height or 520, scale=scale)
    raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")


def run_charts(run: Run) -> list[Chart]:
    """The standard figures of one run, as the app's pages draw them."""
    summary = run.summary()
    sub = figures.describe(run.config, run.tag)
    charts = [figures.sparsity_chart({run.label: summary}, m, subtitle=sub)
              for m in ("test_acc_at_early_stop", "test_acc_final", "early_stop_iteration")]
    if summary.empty:
        return charts
    levels = run.levels
    picks = sorted({levels[0], levels[len(levels) // 2], levels[-1]})
    curves = run.curves(picks)
    if not curves.empty:
        charts.append(figures.learning_curves(curves, summary, picks, "test_acc", ("ticket", "reinit"), sub))
        charts.append(figures.learning_curves(curves, summary, picks, "val_loss", ("ticket",), sub))
    level = levels[len(levels) // 2]
    charts.append(mask_figures.remaining_by_layer(summary, level, sub))
    try:
        hist = run.weight_hist(level)
        layer = hist.layer.iloc[0]
        charts += [figures.weight_histogram(hist, layer, q, sub + f" · level {level}") for q in figures.QUANTITY_TITLES]
        masks = run.masks(level).get(("ticket", 0, 0), {})
        for name, mask in masks.items():
            charts.append(mask_figures.mask_heatmap(mask, name, sub + f" · level {level}, trial 0"))
        first = next(iter(masks.values()), None)
        if first is not None and first.ndim == 2 and first.shape[1] == 784:
            charts.append(mask_figures.pixel_map(first, 28, sub + f" · level {level}, trial 0"))
    except (OSError, ValueError, KeyError, StopIteration, IndexError):
        pass  # a damaged level leaves its charts out; the rest still export
    if run.method_dirs():
        charts += gate_charts(run, summary, sub)
        table = init_table(run)
        if not table.empty:
            charts.append(init_figures.sanity_chart(table, sub))
        charts += stability_charts(run, sub)
    return charts


def stability_charts(run: Run, sub: str) -> list[Chart]:
    """With a stability analysis: the path of each network forked (every k), barrier vs k, barrier vs sparsity."""
    forks = barriers.summary(run)
    if forks.empty:
        return []
    charts = []
    for (arm, level), rows in forks.groupby(["arm", "level"], sort=False):
        name = stability_figures.fork_name(arm, level, rows.percent_remaining.iloc[0])
        try:
            errors = barriers.path_errors(run, sorted(rows.point.unique()))
        except (OSError, ValueError):
            continue  # a damaged unit leaves its chart out
        chart = stability_figures.path_chart(errors, rows, subtitle=f"{name} · {sub}")
        charts.append(Chart(chart.figure, chart.data, f"{chart.name}_{arm}_level{level}"))
    gain = barriers.ticket_gain(run, sorted(forks.trial.unique()))
    charts.append(stability_figures.barrier_chart(forks, sub))
    charts.append(stability_figures.barrier_vs_sparsity(forks, gain, sub))
    return charts


def gate_charts(run: Run, summary: pd.DataFrame, sub: str) -> list[Chart]:
    """With gate sweeps: accuracy and cost of every arm, and each gate arm's middle sweep point vs IMP's mask."""
    charts = [gate_figures.cost_chart(cost_table(run), sub + cost_note(run))]
    gates = summary[summary.arm.isin(arms.of_kind("gradient", "strong")) & (summary.trial == 0)]
    short = figures.describe(run.config, f"{run.tag} · trial 0", short=True)
    for arm in sorted(gates.arm.unique(), key=arms.order):
        rows = gates[gates.arm == arm].sort_values("point")
        row = rows.iloc[len(rows) // 2]
        point = int(row.point)
        level = nearest_level(summary, row.percent_remaining)
        try:
            mine = run.masks(point=point)[(arm, 0, 0)]
            imp = run.masks(level)[("ticket", 0, 0)]
        except (OSError, ValueError, KeyError):
            continue  # a damaged unit leaves its chart out
        names = (f"{arms.label(arm)} at {row.setting}", f"IMP ticket at level {level}")
        charts.append(gate_figures.mask_overlap(mine, imp, names, short, f"mask_overlap_{arm}_point{point}"))
    return charts


def export_run(run: Run, out: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Every chart of the run in the given formats, written into `out`; the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for chart in run_charts(run):
        for fmt in formats:
            path = out / f"{chart.name}.{fmt}"
            path.write_bytes(to_bytes(chart, fmt))
            written.append(path)
    return written


def bundle(run: Run, formats: tuple[str, ...] = FORMATS) -> bytes:
    """A zip of every chart of the run in the given formats."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for chart in run_charts(run):
            for fmt in formats:
                z.writestr(f"{run.run_id[:6]}/{chart.name}.{fmt}", to_bytes(chart, fmt))
    return buffer.getvalue()
