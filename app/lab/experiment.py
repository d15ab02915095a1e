"""The Pruning lab's own-experiment form and its progress: a `python -m lth run` subprocess (lth.lab.jobs.start)
per experiment, queued per server (lab.shared), its progress read from the run's status file."""

from __future__ import annotations

import streamlit as st

from lab import fields, presets, shared
from lth.core import paths
from lth.core.config import FIELD_SECTION, Config, ConfigError, preset

NOTES = {  # what Start did, shown once above the form
    "started": "Started: its progress is below.",
    "queued": "Queued: at most {limit} lab experiment(s) train at once on this server; it starts when a slot frees.",
    "joined": "This exact experiment is already running or waiting on this server: its progress is below.",
    "done": "This exact experiment is already in the store: opened it in the run picker.",
}


def form() -> None:
    """The experiment form: a preset, its values (fields.FIELDS), Start (checked against the lab's limits)."""
    # Outside the form: a widget in a form reruns nothing until Start, so the rates could not follow the preset.
    name = st.selectbox("Preset", presets.OFFERED, index=presets.OFFERED.index(presets.default_preset()),
                        key="lab_preset", on_change=presets.load_preset,
                        help="the form starts from this preset's values")
    for field, value in presets.form_start(name).items():  # first visit: the widgets take their values from here
        st.session_state.setdefault(f"lab_{field}", value)
    if note := st.session_state.pop("lab_note", ""):
        st.info(note)
    if shared.lab().problem:
        st.warning(shared.lab().problem + "; one lab experiment at a time meanwhile")
    errors = st.session_state.get("lab_errors", {})
    with st.form("lab_form"):
        values = fields.draw(errors)
        data_dir = st.text_input("Data folder (MNIST/Fashion-MNIST .npz or torchvision files)",
                                 value=str(paths.data_dir()), key="lab_data_dir")
        fields.error_under("data_dir", errors)
        submitted = st.form_submit_button("Start", type="primary")
    if submitted:
        config, st.session_state["lab_errors"] = checked(name, values)
        if config is not None:
            lab = shared.lab()
            outcome = lab.submit(config, name, paths.runs_dir(), paths.data_dir(data_dir))
            if outcome == "done":
                st.session_state["run"] = str(lab.jobs[config.run_id].run_dir)
            st.session_state["lab_note"] = NOTES[outcome].format(limit=lab.limit)
        st.rerun()


def checked(name: str, values: dict) -> tuple[Config | None, dict[str, str]]:
    """The preset with the form's values, or None and {field: why not}."""
    errors = fields.out_of_limits(values)
    if errors:
        return None, errors
    try:
        base = preset(name)
        if values["iterations"] != base.training.iterations:  # about 10 evaluations, the test set at each
            values = {**values, "eval_every": min(base.training.eval_every, max(10, values["iterations"] // 10)),
                      "test_every": 0}
        # Only what differs from the preset: an input left alone keeps the preset's own value.
        return base.override(**{k: v for k, v in values.items()
                                if v != getattr(getattr(base, FIELD_SECTION[k]), k)}), {}
    except ConfigError as err:
        field = str(err).split("=")[0].lstrip("-").replace("-", "_")
        return None, {field if field in values else "levels": str(err)}


@st.fragment(run_every=1.0)
def progress() -> None:
    lab = shared.lab()
    lab.pump()  # a finished experiment frees its slot: the next waiting one starts
    if not lab.jobs and not lab.waiting:
        return
    st.subheader("Experiments on this server")
    for w in list(lab.waiting):
        place = lab.place(w.config.run_id)
        if place is not None:
            st.info(f"`{w.config.run_id[:6]}` · {w.config.model.model} on {w.config.data.dataset} · waiting, place "
                    f"{place} in the queue (at most {lab.limit} lab experiment(s) train at once here)",
                    icon=":material/hourglass_top:")
    for run_id, job in list(lab.jobs.items()):
        status, label = job.status(), f"`{run_id[:6]}` · {job.config.model.model} on {job.config.data.dataset}"
        if job.running:
            eta = status.get("eta_seconds")
            fraction = float(status.get("fraction") or 0.0)
            text = f"{label} · level {status.get('level', 0)} · {fraction:.0%}"
            c1, c2 = st.columns([5, 1])
            c1.progress(min(fraction, 1.0), text=text + (f" · about {eta:.0f} s left" if eta else ""))
            if c2.button("Cancel", key=f"cancel-{run_id}"):
                job.cancel()
        elif job.returncode in (0, None):
            st.success(f"{label}: done. Pick it in the sidebar (listed under your runs).")
        elif status.get("state") == "cancelled":
            st.warning(f"{label}: cancelled. Start it again to resume from its last finished level.")
        else:
            st.error(f"{label}: failed. {job.error()}")
