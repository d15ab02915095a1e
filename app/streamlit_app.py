"""Entry point: the page list and the run picker every page shares.

Pages live in app/views/, not app/pages/: that folder name turns on Streamlit's
older file-based navigation, under which a deep link loses the page list.
"""

import streamlit as st
from lib import picker

st.set_page_config(page_title="Lottery ticket explorer", page_icon=":material/confirmation_number:",
                   layout="wide")

page = st.navigation({
    "The story": [
        st.Page("views/start.py", title="Start here", icon=":material/lightbulb:", default=True),
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
        st.Page("views/lab.py", title="Pruning lab", icon=":material/science:"),
        st.Page("views/export.py", title="Export", icon=":material/download:"),
    ],
})
picker.sidebar()
page.run()
