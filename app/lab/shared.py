"""What the lab keeps per server, shared by every session: its experiments' queue and the gate sweeps it started."""

from __future__ import annotations

import streamlit as st

from lth.core import paths
from lth.core.config import ConfigError
from lth.lab import jobs, queue


@st.cache_resource
def lab() -> queue.Lab:
    """The lab's own experiments, queued and shared by every session of this server."""
    try:
        return queue.Lab(queue.lab_limit())
    except ConfigError as err:  # a bad $LTH_LAB_MAX_EXPERIMENTS: one at a time, and the page says why
        lab = queue.Lab(1)
        lab.problem = str(err)
        return lab


@st.cache_resource
def gate_sweeps() -> dict[str, jobs.Job]:
    """The gate sweeps the lab started on this server, by method folder: shared by every session, so a sweep
    keeps showing its progress after a page switch."""
    return {}


@st.cache_resource
def warm_worker() -> None:
    """The server's warm worker started once, when the live page is first opened: torch is imported by the time
    the button is pressed (lth.lab.warm)."""
    jobs.warm_up(paths.runs_dir())
