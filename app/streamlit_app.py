"""Entry point: the page list and the run picker every page shares. Pages live in app/pages/."""

import streamlit as st

import common

st.set_page_config(page_title="Lottery ticket explorer", page_icon=":material/confirmation_number:", layout="wide")

page = st.navigation({
    "The story": [
        st.Page("pages/start.py", title="Start here", icon=":material/lightbulb:", default=True),
        st.Page("pages/accuracy.py", title="Accuracy vs sparsity", icon=":material/show_chart:"),
        st.Page("pages/early_stopping.py", title="Early stopping", icon=":material/timer:"),
        st.Page("pages/paper.py", title="Paper vs this run", icon=":material/fact_check:"),
    ],
    "Inside the ticket": [
        st.Page("pages/weights.py", title="Weight movement", icon=":material/balance:"),
        st.Page("pages/masks.py", title="Masks", icon=":material/grid_on:"),
    ],
    "Try it": [
        st.Page("pages/lab.py", title="Pruning lab", icon=":material/science:"),
        st.Page("pages/export.py", title="Export", icon=":material/download:"),
    ],
})
common.sidebar()
page.run()
