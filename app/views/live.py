"""Run IMP live: one button, and a class watches iterative magnitude pruning find a winning ticket, level by level,
beside its two controls, on one screen."""

import streamlit as st
from lab import board, shared

from lth.core import paths
from lth.core.presets import preset
from lth.lab import live

st.title("Run IMP live")
name, note = live.choose(paths.data_dir())
runs_dir = paths.runs_dir()
st.markdown(live.explain(name))
if note:
    st.info(note, icon=":material/info:")
lab = shared.lab()
shared.warm_worker()  # torch imported before the click: the first level shows about a second after it
if st.button("Run IMP live", type="primary", icon=":material/play_arrow:", key="live-run",
             help="Joins the run already going; after a finished run, starts a new one from fresh initial weights"):
    config = live.to_start(name, runs_dir, lab)
    st.session_state["live_note"] = board.NOTES[lab.submit(config, name, runs_dir, paths.data_dir())]
if said := st.session_state.pop("live_note", ""):
    st.toast(said)
board.show(live.current(name, runs_dir, lab) or preset(name), runs_dir)  # before any run: the empty axes
