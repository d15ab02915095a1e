"""Export: every figure of the current run in one zip, and the command that does the same."""

import streamlit as st
from lib import picker, texts

from lth.report import export

st.title("Figures for this run")
run = picker.current_run()
if run is not None:
    ok, why = export.static_export_status()
    formats = st.multiselect("Formats", list(export.FORMATS), default=["png", "svg", "csv"] if ok else ["html", "csv"],
                             key="export_formats",
                             help="PNG and SVG for slides and papers, standalone HTML (interactive, works offline), "
                                  "CSV of exactly the data each chart plots.")
    if not ok:
        st.warning(why)
    usable = tuple(f for f in formats if ok or f not in ("png", "svg"))
    st.download_button("Download the zip", data=lambda: export.bundle(run, usable),
                       file_name=f"lth-{run.run_id[:6]}.zip", mime="application/zip", disabled=not usable,
                       on_click="ignore", type="primary", key="export_zip")
    st.caption(f"Charts: accuracy and early-stop iteration vs sparsity, learning curves, weights per layer, "
               f"weight histograms, masks; with gradient-found tickets, accuracy and cost of every arm and how each "
               f"learned mask overlaps IMP's. Each names the run ({run.run_id[:6]}) and its config.")
    st.markdown("The same files without the app:")
    st.code(f"python -m lth export {texts.shown_path(run.path)} --out figures/{run.run_id[:6]}", language="bash")
