"""Paper vs this run: the paper's claims (LeNet-300-100's, or Section 5's for ResNet/VGG) checked one by one."""

import re

import streamlit as st
from lib import charts, data, picker, texts

from lth.report import paper_deep
from lth.runs import tables
from lth.runs.results import Run

st.title("Paper vs this run")
st.markdown("The claims Frankle & Carbin make for the picked run's network (LeNet-300-100 on MNIST, or "
            "Section 5's ResNet-18 and VGG-19 on CIFAR-10), each with this run's figure "
            "(mean over trials, and the range of the per-trial figures). The tolerances were fixed in "
            "`lth/report/paper.py` and `paper_deep.py` before the results existed, each with its reason; a "
            "disagreement stays one.")
run = picker.current_run()
if run is not None and (summary := data.read(run, Run.summary)) is not None:
    table, note = paper_deep.check_run(run.config, tables.imp_rows(summary))
    if note:
        (st.info if paper_deep.network_family(run.config) else st.warning)(note)
    counts = table.verdict.value_counts()
    reduced = "needs the full run" in counts
    verdicts = ("needs the full run", "not yet") if reduced else ("agree", "disagree", "not yet")
    if "censored" in counts:  # a claim resting on early stops at the last evaluation
        verdicts += ("censored",)
    cols = st.columns(len(verdicts))
    for col, verdict in zip(cols, verdicts):
        col.metric(verdict.capitalize(), int(counts.get(verdict, 0)))
    # colour, not emoji: a projector's Linux box may have no emoji font and would show empty boxes
    shades = {"agree": "background-color: #d4edda; color: #155724",
              "disagree": "background-color: #f8d7da; color: #721c24",
              "not yet": "background-color: #eeeeee; color: #444444",
              "needs the full run": "background-color: #fff3cd; color: #664d03",
              "censored": "background-color: #e2e3f3; color: #2b2f6b"}
    shown = table[["claim", "verdict", "this_run", "paper", "range", "tolerance", "why"]]
    st.dataframe(
        shown.style.map(lambda v: shades.get(v, ""), subset=["verdict"]),
        width="stretch", hide_index=True, height=36 * (len(table) + 1) + 4,
        column_config={"this_run": "this run", "range": "per-trial range", "why": "why this tolerance"})
    plain = re.sub(r"\s*<br>\s*", " · ", charts.subtitle(run)).replace("<b>", "").replace("</b>", "")
    st.caption(f"{plain}. 'Not yet' means the run has not reached the levels "
               "the claim needs (a run still computing fills them in); 'censored' that the claim rests on early "
               "stops at the last evaluation, which would have come later. Same table: "
               f"`python -m lth check-paper {texts.shown_path(run.path)}`")
