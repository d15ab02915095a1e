"""Entry point: the page list, the run picker every page shares, and presenter mode (lib.present).

Pages live in app/views/, not app/pages/: that folder name turns on Streamlit's older file-based navigation, under
which a deep link loses the page list.
"""

from pathlib import Path

import streamlit as st
from lib import picker, present

LIVE = Path(__file__).parent / "views" / "live.py"  # written beside this list: listed once its file is there

present.read()
st.set_page_config(page_title="Lottery ticket explorer", page_icon=":material/confirmation_number:",
                   layout="wide", initial_sidebar_state="collapsed" if present.on() else "auto")

page = st.navigation({
    "The story": [
        st.Page("views/lesson.py", title="The lesson", icon=":material/school:", default=True),
        st.Page("views/start.py", title="Start here", icon=":material/lightbulb:"),
        st.Page("views/accuracy.py", title="Accuracy vs sparsity", icon=":material/show_chart:"),
        st.Page("views/early_stopping.py", title="Early stopping", icon=":material/timer:"),
        st.Page("views/paper.py", title="Paper vs this run", icon=":material/fact_check:"),
    ],
    "Inside the ticket": [
        st.Page("views/weights.py", title="Weight movement", icon=":material/balance:"),
        st.Page("views/masks.py", title="Masks", icon=":material/grid_on:"),
        st.Page("views/gradient.py", title="Gradient-found tickets", icon=":material/tune:"),
        st.Page("views/init.py", title="Pruning at init", icon=":material/start:"),
        st.Page("views/stability.py", title="Stability", icon=":material/timeline:"),
        st.Page("views/structure.py", title="Structured tickets", icon=":material/view_column:"),
    ],
    "Try it": [
        *([st.Page("views/live.py", title="Run IMP live", icon=":material/play_circle:")] if LIVE.exists() else []),
        st.Page("views/lab.py", title="Pruning lab", icon=":material/science:"),
        st.Page("views/export.py", title="Export", icon=":material/download:"),
    ],
}, expanded=True)  # every page listed: past ten, Streamlit would fold the rest under "View more"
picker.sidebar()
present.controls()
page.run()
