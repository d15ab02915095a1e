"""The pickers every page shares: the run (in the sidebar, kept in the address bar as ?run=) and the arms.

The sidebar lists the run folders that could not be opened, each with why; a page asks `current_run` for the
picked run, which starts the page's warnings about what that run could not read (lib.data).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from lib import data
from lth.core import arms
from lth.core.config import ConfigError
from lth.runs import results


@st.cache_data(ttl=2, show_spinner=False)
def healthy_runs() -> pd.DataFrame:
    table = data.run_index()
    good = table[(table["damaged"] == "") & (table["units_done"] > 0)]
    # Shipped runs on real data first, then the most complete: what a class should see when the app opens.
    keys = good.assign(_shipped=good["source"] == "shipped", _real=good.get("dataset", "") != "synthetic")
    ordered = keys.sort_values(["_shipped", "_real", "units_done"], ascending=False, kind="stable")
    return ordered.drop(columns=["_shipped", "_real"])


@st.cache_data(ttl=2, show_spinner=False)
def damaged_runs() -> list[tuple[str, str]]:
    table = data.run_index()
    return [(row.path, row.damaged) for row in table[table["damaged"] != ""].itertuples()]


def sidebar() -> None:
    """The run picker, synced with the address bar, and the damaged run folders."""
    good = healthy_runs()
    with st.sidebar:
        if good.empty:
            st.info("No results yet. Start a small experiment in **Pruning lab**, or run "
                    "`python -m lth run --preset synthetic`.")
        else:
            _pick(good)
        damaged = damaged_runs()
        if damaged:
            with st.expander(f"{len(damaged)} damaged run folder(s)", icon=":material/warning:"):
                for path, why in damaged:
                    st.caption(f"`{path}`: {why}")


def _pick(good: pd.DataFrame) -> None:
    options = list(good["path"])
    states = good["state"].map(lambda s: "" if s == "done" else f" ({s})")
    labels = dict(zip(good["path"], good["label"] + states))
    wanted = st.query_params.get("run")
    if "run" not in st.session_state or st.session_state["run"] not in options:
        match = [p for p, rid in zip(good["path"], good["run_id"]) if wanted and rid.startswith(wanted)]
        st.session_state["run"] = match[0] if match else options[0]
    st.selectbox("Run", options, key="run", format_func=lambda p: labels.get(p, p),
                 help="Every page shows this run. The address bar keeps it, so a copied link opens the same view.")
    st.query_params["run"] = Path(st.session_state["run"]).name[:12]


def current_run() -> results.Run | None:
    """The picked run, its problems as warnings here at the top of the page; or a friendly message and None."""
    data.watch()
    path = st.session_state.get("run")
    if not path:
        st.info("No finished results to show yet. Open **Pruning lab** to run a small experiment "
                "(the synthetic preset needs no data and takes under a minute).")
        return None
    try:
        run = data.open_run(path)
    except (ConfigError, OSError, ValueError) as err:
        st.error(f"This run could not be opened: {err}")
        return None
    data.report(run)
    return run


def arm_picker(present: list[str], key: str) -> list[str]:
    """Group buttons (IMP and its controls / pruned at initialization / gradient-found) when a run has more than
    one group, IMP's on at first (a readable chart on a projector), then the arms of the chosen groups; a sanity
    check (a dashed arm) starts unticked."""
    groups = [g for g in arms.GROUPS if any(arms.group(a) == g for a in present)]
    if len(groups) > 1:
        chosen = st.pills("Arm groups", groups, selection_mode="multi", default=groups[:1], key=f"{key}_groups",
                          on_change=lambda: st.session_state.pop(key, None),
                          help="Show the arms of these groups (click to add or remove one); pick single arms below.")
        present = [a for a in present if arms.group(a) in (chosen or [])]
    default = [a for a in present if arms.dash(a) == "solid"]
    return st.multiselect("Arms", present, default=default, format_func=arms.label, key=key)
