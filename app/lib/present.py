"""Presenter mode: the app on a projector, read from the back of a room.

On (the sidebar's toggle, or ?present=1 in the address bar, kept there across page switches): the sidebar and the
header hidden, text and widgets larger, charts full width (side-by-side ones stacked: `columns`; the lesson's beside
its story, one screen a step) with text of at least 20 px (charts.projector) and no download row. A small button in
the top right corner leaves it, as does ?present=0. The choice lives in the session, like the picked run.
"""

from __future__ import annotations

import streamlit as st

KEY = "present"
CSS = """<style>
html { font-size: 22px; }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"],
[data-testid="stHeader"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding: 1rem 2.5rem 3rem; max-width: none; }
h1 { font-size: 1.5rem !important; padding: 0 !important; }
h2 { font-size: 1.5rem !important; padding: 0 0 0.2rem !important; }
[data-testid="stButtonGroup"] button { font-size: 1rem; min-height: 2.2rem; padding: 0.2rem 0.9rem; }
[data-testid="stVerticalBlock"] { gap: 0.6rem; }
.st-key-leave_present { position: fixed; top: 0.2rem; right: 0.2rem; z-index: 999990; width: auto !important; }
.st-key-leave_present button { min-height: 1.8rem; padding: 0 0.4rem; opacity: 0.6; }
</style>"""


def read() -> None:
    """The session's first run takes presenter mode from the address bar (?present=1); later runs keep its own."""
    if KEY not in st.session_state:
        st.session_state[KEY] = st.query_params.get(KEY) == "1"


def on() -> bool:
    return bool(st.session_state.get(KEY))


def controls() -> None:
    """The sidebar's toggle and the address bar; in presenter mode its style and the button that leaves it."""
    read()
    st.sidebar.toggle("Presenter mode", key=KEY, help="For a projector: large text and charts, no sidebar. "
                      "The address bar keeps it (?present=1), so a link opens the app the same way.")
    if on():
        st.query_params[KEY] = "1"
        st.html(CSS)  # style only: Streamlit keeps it out of the page's flow
        st.button(":material/close_fullscreen:", key="leave_present", help="Leave presenter mode",
                  on_click=lambda: st.session_state.update({KEY: False}))
    else:
        st.query_params.pop(KEY, None)


def columns(spec) -> list:
    """st.columns(spec), except in presenter mode: there the parts stack, each full width (charts side by side
    would be too small to read from the back of a room)."""
    n = spec if isinstance(spec, int) else len(spec)
    return [st.container() for _ in range(n)] if on() else st.columns(spec)
