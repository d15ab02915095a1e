"""What every page shares: where runs live, cached reads, the run picker, and charts with their downloads.

Pages never compute: they ask `lth` through these helpers. Reads are cached
by (folder, stamp), the stamp changing whenever a run's status changes, so a
run that is still training shows new levels as they land.
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path
from typing import Callable

import pandas as pd
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run app/...` from anywhere

from lth.core import paths  # noqa: E402
from lth.core.config import BATCH_NORM_MODELS, ConfigError  # noqa: E402
from lth.lab import queue  # noqa: E402
from lth.report import export, figures  # noqa: E402
from lth.runs import barriers, results, tables  # noqa: E402

GATE_ARMS_HELP = (
    "- **Gates, strong (θ₀ frozen)**: a mask *learned* by gradient descent (Gaussian or hard-concrete gates) "
    "applied to the initial weights θ₀, **never trained**: what the mask alone achieves.\n"
    "- **Gates, weak (retrained)**: the same mask retrained from θ₀ with IMP's own protocol.\n"
    "- **Continuous sparsification**: weights and a soft mask learned together, the final mask retrained from "
    "early weights θk.\n\nTheir points are the values of a penalty sweep (λ or s0; hover a point), not pruning "
    "levels, so they start at their own sparsity rather than at the dense network. "
    "**Gradient-found tickets** compares them with IMP's masks and costs.")
INIT_ARMS_HELP = (
    "- **SNIP, GraSP, SynFlow (pruned at init)**: the initial weights θ₀ scored once, before any training, and "
    "pruned straight to the ticket's weight count at that level, then trained like the ticket.\n"
    "- **…, mask shuffled per layer** (dashed) and **…, weights re-drawn** (dotted): the sanity checks. If they "
    "lose nothing, the method chose only *how many* weights each layer keeps, not *which*. IMP's own checks are "
    "random pruning (its mask shuffled per layer) and random reinitialisation. **Pruning at init** has more.")

MIME = {"png": "image/png", "svg": "image/svg+xml", "html": "text/html", "csv": "text/csv"}


def roots() -> dict[str, Path]:
    """Shipped results first, then the user's own runs (where the pruning lab writes)."""
    return {"shipped": paths.pretrained_dir(), "yours": paths.runs_dir()}


@st.cache_data(ttl=2, show_spinner=False)
def run_index() -> pd.DataFrame:
    return results.index(roots())


def _stamp(path: str) -> float:
    """The run's stamp (results.stamp), read at most once a second per run: a page asks for it at every load and
    chart, and a class asks together; a run's progress shows within a second."""
    return _stamp_in(path, int(time.monotonic()))


@functools.lru_cache(maxsize=256)
def _stamp_in(path: str, second: int) -> float:
    return results.stamp(Path(path))


@st.cache_resource(show_spinner=False, max_entries=32)
def _open(path: str, stamp: float) -> results.Run:
    return results.Run(Path(path))


def open_run(path: str) -> results.Run:
    return _open(path, _stamp(path))


@st.cache_data(show_spinner=False, max_entries=64)
def summary(path: str, stamp: float) -> pd.DataFrame:
    return results.Run(Path(path)).summary()


@st.cache_data(show_spinner=False, max_entries=64)
def curves(path: str, levels: tuple[int, ...], stamp: float) -> pd.DataFrame:
    return results.Run(Path(path)).curves(list(levels))


@st.cache_data(show_spinner=False, max_entries=64)
def masks(path: str, level: int, stamp: float):
    return results.Run(Path(path)).masks(level)


@st.cache_data(show_spinner=False, max_entries=64)
def sweep_masks(path: str, point: int, stamp: float):
    return results.Run(Path(path)).masks(point=point)


@st.cache_data(show_spinner=False, max_entries=64)
def weight_hist(path: str, level: int, stamp: float) -> pd.DataFrame:
    return results.Run(Path(path)).weight_hist(level)


@st.cache_data(show_spinner=False, max_entries=64)
def methods(path: str, stamp: float) -> pd.DataFrame:
    return results.Run(Path(path)).methods()


@st.cache_data(show_spinner=False, max_entries=64)
def cost_table(path: str, stamp: float) -> pd.DataFrame:
    return tables.cost_table(results.Run(Path(path)))


@st.cache_data(show_spinner=False, max_entries=64)
def structure_table(path: str, stamp: float) -> pd.DataFrame:
    return tables.structure_table(results.Run(Path(path)))


@st.cache_data(show_spinner=False, max_entries=64)
def init_table(path: str, stamp: float) -> pd.DataFrame:
    return tables.init_table(results.Run(Path(path)))


@st.cache_data(show_spinner=False, max_entries=64)
def stability(path: str, stamp: float) -> pd.DataFrame:
    return barriers.summary(results.Run(Path(path)))


@st.cache_data(show_spinner=False, max_entries=64)
def stability_paths(path: str, points: tuple[int, ...], stamp: float) -> pd.DataFrame:
    return barriers.path_errors(results.Run(Path(path)), list(points))


@st.cache_data(show_spinner=False, max_entries=64)
def ticket_gain(path: str, trials: tuple[int, ...], stamp: float) -> pd.DataFrame:
    return barriers.ticket_gain(results.Run(Path(path)), list(trials))


def load(kind: str, run: results.Run, *args):
    """Cached per-run data (summary, curves, masks, sweep_masks, weight_hist, methods, cost_table, init_table,
    structure_table, stability, stability_paths, ticket_gain); None with a visible error if damaged."""
    fn = {"summary": summary, "curves": curves, "masks": masks, "sweep_masks": sweep_masks, "weight_hist": weight_hist,
          "methods": methods, "cost_table": cost_table, "init_table": init_table,
          "structure_table": structure_table, "stability": stability,
          "stability_paths": stability_paths, "ticket_gain": ticket_gain}[kind]
    try:
        return fn(str(run.path), *args, _stamp(str(run.path)))
    except (OSError, ValueError, KeyError) as err:
        st.error(f"This run's {kind.replace('_', ' ')} could not be read ({err}). The folder may be damaged: "
                 "the other runs and pages still work.")
        return None


# --- the run picker, shared by every page (session state + URL) ------------------------
@st.cache_data(ttl=2, show_spinner=False)
def healthy_runs() -> pd.DataFrame:
    table = run_index()
    good = table[(table["damaged"] == "") & (table["units_done"] > 0)]
    # Shipped runs on real data first, then the most complete: what a class should see when the app opens.
    keys = good.assign(_shipped=good["source"] == "shipped", _real=good.get("dataset", "") != "synthetic")
    return keys.sort_values(["_shipped", "_real", "units_done"], ascending=False, kind="stable").drop(
        columns=["_shipped", "_real"])


@st.cache_data(ttl=2, show_spinner=False)
def damaged_runs() -> list[tuple[str, str]]:
    table = run_index()
    return [(row.path, row.damaged) for row in table[table["damaged"] != ""].itertuples()]


def sidebar() -> None:
    good = healthy_runs()
    with st.sidebar:
        if good.empty:
            st.info("No results yet. Start a small experiment in **Pruning lab**, or run "
                    "`python -m lth run --preset synthetic`.")
        else:
            options = list(good["path"])
            labels = dict(zip(good["path"], good["label"] + good["state"].map(lambda s: "" if s == "done" else f" ({s})")))
            wanted = st.query_params.get("run")
            if "run" not in st.session_state or st.session_state["run"] not in options:
                match = [p for p, rid in zip(good["path"], good["run_id"]) if wanted and rid.startswith(wanted)]
                st.session_state["run"] = match[0] if match else options[0]
            st.selectbox("Run", options, key="run", format_func=lambda p: labels.get(p, p),
                         help="Every page shows this run. The address bar keeps it, so a copied link opens the same view.")
            st.query_params["run"] = Path(st.session_state["run"]).name[:12]
        damaged = damaged_runs()
        if damaged:
            with st.expander(f"{len(damaged)} damaged run folder(s)", icon=":material/warning:"):
                for path, why in damaged:
                    st.caption(f"`{path}`: {why}")


def current_run() -> results.Run | None:
    """The picked run, or a friendly message and None."""
    path = st.session_state.get("run")
    if not path:
        st.info("No finished results to show yet. Open **Pruning lab** to run a small experiment "
                "(the synthetic preset needs no data and takes under a minute).")
        return None
    try:
        return open_run(path)
    except (ConfigError, OSError, ValueError) as err:
        st.error(f"This run could not be opened: {err}")
        return None


def shown_path(path: Path) -> Path:
    """A run's folder as a command shown on a page would name it: relative to where the app started, if inside it."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return Path(path)


def subtitle(run: results.Run) -> str:
    return figures.describe(run.config, run.tag)


# --- the lab's background jobs and forms ---------------------------------------------
@st.cache_resource
def lab_sweeps() -> dict:
    """The gate sweeps the lab started on this server: shared by every session, so a sweep keeps showing its
    progress after a page switch."""
    return {}


@st.cache_resource
def lab() -> queue.Lab:
    """The lab's own experiments, queued and shared by every session of this server."""
    try:
        return queue.Lab(queue.lab_limit())
    except ConfigError as err:  # a bad $LTH_LAB_MAX_EXPERIMENTS: one at a time, and the page says why
        lab = queue.Lab(1)
        lab.problem = str(err)
        return lab


def field_error(name: str, errors: dict) -> None:
    """A form field's error under it, as the form's check found it."""
    if name in errors:
        st.error(errors[name], icon="⚠️")


# --- picking arms: by group, then one by one ------------------------------------------
def arm_picker(present: list[str], key: str) -> list[str]:
    """Group buttons (IMP and its controls / pruned at initialization / gradient-found) when a run has more than
    one group, IMP's on at first (a readable chart on a projector), then the arms of the chosen groups; a sanity
    check (a dashed arm) starts unticked."""
    from lth.core import arms

    groups = [g for g in arms.GROUPS if any(arms.group(a) == g for a in present)]
    if len(groups) > 1:
        chosen = st.pills("Arm groups", groups, selection_mode="multi", default=groups[:1], key=f"{key}_groups",
                          on_change=lambda: st.session_state.pop(key, None),
                          help="Show the arms of these groups (click to add or remove one); pick single arms below.")
        present = [a for a in present if arms.group(a) in (chosen or [])]
    default = [a for a in present if arms.dash(a) == "solid"]
    return st.multiselect("Arms", present, default=default, format_func=arms.label, key=key)


# --- charts with their downloads ----------------------------------------------------
@st.cache_resource(show_spinner=False, max_entries=256)
def _chart(key: tuple, _build: Callable[[], figures.Chart]) -> figures.Chart:
    return _build()


def chart(runs: results.Run | list[results.Run], key: tuple, build: Callable[[], figures.Chart]) -> figures.Chart:
    """A chart built once per (runs as they are now, key) and shared by every session of this server: a class
    opening the same page costs the server one build, not thirty. `key` names everything else the chart shows
    (which chart, the picked settings); `build` makes it. Charts are only read after building (drawn, exported),
    so sessions can share them."""
    runs = runs if isinstance(runs, list) else [runs]
    return _chart((tuple((str(r.path), _stamp(str(r.path))) for r in runs), *key), build)


def show(chart: figures.Chart, key: str) -> None:
    st.plotly_chart(chart.figure, width="stretch", key=f"chart-{key}", theme=None)
    downloads(chart, key)


def downloads(chart: figures.Chart, key: str) -> None:
    ok, why = export.static_export_status()
    row = st.container(horizontal=True, gap="small")
    for fmt in ("png", "svg", "html", "csv"):
        disabled = fmt in ("png", "svg") and not ok
        row.download_button(
            fmt.upper(), data=(lambda c=chart, f=fmt: export.to_bytes(c, f)), file_name=f"{chart.name}.{fmt}",
            mime=MIME[fmt], key=f"dl-{key}-{fmt}", disabled=disabled, on_click="ignore",
            help=why if disabled else f"Download this chart as {fmt.upper()}"
            + (" (exactly the data plotted)" if fmt == "csv" else ""))
    if not ok:
        row.caption(why)


def refused_for_batch_norm(run: results.Run, what: str) -> bool:
    """True, after saying so, where `what` is not built yet for the run's network (one with batch norm)."""
    if run.config.model.model not in BATCH_NORM_MODELS:
        return False
    st.info(f"{what} is not built yet for batch-norm networks like this run's {run.config.model.model}: its "
            "forward passes would need batch statistics. IMP's pages and the paper's claims work on this run.")
    return True
