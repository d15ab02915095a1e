"""The Pruning lab's own-experiment form and its progress: a `python -m lth run` subprocess (lth.lab.jobs.start)
per experiment, its progress read from the run's status file."""

import common
import streamlit as st

from lth.core import paths
from lth.core.config import FIELD_SECTION, PRESETS, ConfigError, flag, preset

LIMITS = {"levels": (0, 12), "iterations": (50, 5000), "trials": (1, 3), "reinit": (0, 2), "random_prune": (0, 2)}
LAB_SIZE = {"levels": 3, "iterations": 300}  # a lab run is short whatever the preset; the CLI runs one in full
NOTES = {  # what Start did, shown once above the form
    "started": "Started: its progress is below.",
    "queued": "Queued: at most {limit} lab experiment(s) train at once on this server; it starts when a slot frees.",
    "joined": "This exact experiment is already running or waiting on this server: its progress is below.",
    "done": "This exact experiment is already in the store: opened it in the run picker.",
}
LAB_PRESETS = ("lenet-mnist-live", "synthetic")
# Full-size ResNet-18 / VGG-19 are not offered: at a lab run's size they would still take hours on a laptop's CPU
# (a step is about a second and several seconds); `lth run` runs them, and resnet8-fashion-reduced is offered.
OFFERED = tuple(name for name in PRESETS if PRESETS[name].model.model not in ("resnet18", "vgg19"))
PRESET_FIELDS = ("rate_fc", "rate_conv", "rate_output", "trials", "reinit", "random_prune", "one_shot")


def lab_sized(name: str) -> bool:
    """A preset made to run in the lab as it is (seconds to a minute here): its levels and iterations are kept."""
    return name in LAB_PRESETS


def load_preset() -> None:
    """On a new preset the inputs show its own values (rates, trials, controls); levels and iterations too for a
    lab-sized preset, else they stay as they were."""
    name = st.session_state["lab_preset"]
    for field, value in form_start(name).items():
        if field not in LAB_SIZE or lab_sized(name):
            st.session_state[f"lab_{field}"] = value


def form_start(name: str) -> dict:
    """The form's starting values: the preset's own, its levels and iterations cut to a lab run's size if larger."""
    base = preset(name)
    own = {field: getattr(getattr(base, FIELD_SECTION[field]), field) for field in PRESET_FIELDS}
    size = {"levels": base.experiment.levels, "iterations": base.training.iterations} if lab_sized(name) else LAB_SIZE
    return {**size, **own}


def default_preset() -> str:
    """The live demo on real MNIST when it is in the data folder, else the synthetic set (no data needed)."""
    return "lenet-mnist-live" if (paths.data_dir() / "mnist.npz").exists() else "synthetic"


def form() -> None:
    """The experiment form: a preset, its values, Start (checked against LIMITS)."""
    # Outside the form: a widget in a form reruns nothing until Start, so the rates could not follow the preset.
    name = st.selectbox("Preset", OFFERED, index=OFFERED.index(default_preset()), key="lab_preset",
                        on_change=load_preset, help="the form starts from this preset's values")
    for field, value in form_start(name).items():  # first visit: the widgets take their values from here
        st.session_state.setdefault(f"lab_{field}", value)
    if note := st.session_state.pop("lab_note", ""):
        st.info(note)
    if common.lab().problem:
        st.warning(common.lab().problem + "; one lab experiment at a time meanwhile")
    errors = st.session_state.get("lab_errors", {})
    with st.form("lab_form"):
        c1, c2, c3 = st.columns(3)
        with c1:
            levels = st.number_input("Pruning levels", step=1, key="lab_levels")
            common.field_error("levels", errors)
            iterations = st.number_input("Iterations per level", step=50, key="lab_iterations")
            common.field_error("iterations", errors)
        with c2:
            rate_fc = st.number_input("Prune rate, fully-connected", step=0.05, format="%.2f", key="lab_rate_fc")
            common.field_error("rate_fc", errors)
            rate_conv = st.number_input("Prune rate, conv", step=0.05, format="%.2f", key="lab_rate_conv")
            common.field_error("rate_conv", errors)
            rate_output = st.number_input("Prune rate, output", step=0.05, format="%.2f", key="lab_rate_output")
            common.field_error("rate_output", errors)
        with c3:
            trials = st.number_input("Trials", step=1, key="lab_trials")
            common.field_error("trials", errors)
            reinit = st.number_input("Random-reinit controls per trial", step=1, key="lab_reinit")
            common.field_error("reinit", errors)
            random_prune = st.number_input("Random-pruning controls per trial", step=1, key="lab_random_prune")
            common.field_error("random_prune", errors)
            one_shot = st.checkbox("One-shot pruning arm", key="lab_one_shot")
        data_dir = st.text_input("Data folder (MNIST/Fashion-MNIST .npz or torchvision files)", value=str(paths.data_dir()),
                                 key="lab_data_dir")
        common.field_error("data_dir", errors)
        submitted = st.form_submit_button("Start", type="primary")

    if submitted:
        values = dict(levels=int(levels), iterations=int(iterations), trials=int(trials), reinit=int(reinit),
                      random_prune=int(random_prune), rate_fc=float(rate_fc), rate_conv=float(rate_conv),
                      rate_output=float(rate_output), one_shot=bool(one_shot))
        errors = {}
        for key, (lo, hi) in LIMITS.items():
            if not lo <= values[key] <= hi:
                errors[key] = f"{flag(key)} must be between {lo} and {hi} in the lab (use the CLI for bigger runs)"
        config = None
        if not errors:
            try:
                base = preset(name)
                if values["iterations"] != base.training.iterations:  # about 10 evaluations, the test set at each
                    values.update(eval_every=min(base.training.eval_every, max(10, values["iterations"] // 10)),
                                  test_every=0)
                # Only what differs from the preset: an input left alone keeps the preset's own value.
                config = base.override(**{k: v for k, v in values.items()
                                          if v != getattr(getattr(base, FIELD_SECTION[k]), k)})
            except ConfigError as err:
                field = str(err).split("=")[0].lstrip("-").replace("-", "_")
                errors[field if field in values else "levels"] = str(err)
        st.session_state["lab_errors"] = errors
        if config is not None:
            lab = common.lab()
            outcome = lab.submit(config, name, paths.runs_dir(), paths.data_dir(data_dir))
            if outcome == "done":
                st.session_state["run"] = str(lab.jobs[config.run_id].run_dir)
            st.session_state["lab_note"] = NOTES[outcome].format(limit=lab.limit)
        st.rerun()


@st.fragment(run_every=1.0)
def progress() -> None:
    lab = common.lab()
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
            text = f"{label} · level {status.get('level', 0)} · {fraction:.0%}" + (f" · about {eta:.0f} s left" if eta else "")
            c1, c2 = st.columns([5, 1])
            c1.progress(min(fraction, 1.0), text=text)
            if c2.button("Cancel", key=f"cancel-{run_id}"):
                job.cancel()
        elif job.returncode in (0, None):
            st.success(f"{label}: done. Pick it in the sidebar (listed under your runs).")
        elif status.get("state") == "cancelled":
            st.warning(f"{label}: cancelled. Start it again to resume from its last finished level.")
        else:
            st.error(f"{label}: failed. {job.error()}")
