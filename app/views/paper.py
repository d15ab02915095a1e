"""Paper vs this run: the paper's LeNet-300-100 claims checked one by one."""

import common
import streamlit as st

from lth.report import paper
from lth.runs import tables

st.title("Paper vs this run")
st.markdown("The claims Frankle & Carbin make for LeNet-300-100 on MNIST, each with this run's figure "
            "(mean over trials, and the range of the per-trial figures). The tolerances were fixed in "
            "`lth/report/paper.py` before the results existed, each with its reason; a disagreement stays one.")
run = common.current_run()
if run is not None and (data := common.load("summary", run)) is not None:
    if (run.config.model.model, run.config.data.dataset) != ("lenet_300_100", "mnist"):
        st.warning("These claims are the paper's for LeNet-300-100 on MNIST; the picked run is something else.")
    table = paper.check(tables.imp_rows(data), run.config.experiment.levels)
    counts = table.verdict.value_counts()
    cols = st.columns(3)
    for col, verdict in zip(cols, ("agree", "disagree", "not yet")):
        col.metric(verdict.capitalize(), int(counts.get(verdict, 0)))
    # colour, not emoji: a projector's Linux box may have no emoji font and would show empty boxes
    shades = {"agree": "background-color: #d4edda; color: #155724", "disagree": "background-color: #f8d7da; color: #721c24",
              "not yet": "background-color: #eeeeee; color: #444444"}
    shown = table[["claim", "verdict", "this_run", "paper", "range", "tolerance", "why"]]
    st.dataframe(
        shown.style.map(lambda v: shades.get(v, ""), subset=["verdict"]),
        width="stretch", hide_index=True, height=36 * (len(table) + 1) + 4,
        column_config={"this_run": "this run", "range": "per-trial range", "why": "why this tolerance"})
    st.caption(f"{common.subtitle(run).replace('<br>', ' · ')}. 'Not yet' means the run has not reached the levels "
               "the claim needs (a run still computing fills them in). Same table: "
               f"`python -m lth check-paper {common.shown_path(run.path)}`")
