"""The Pruning lab's gate-sweep form: learn masks by gradient descent on the picked run, in the background.

The sweep is a `python -m lth gates` subprocess (lth.lab.jobs.start_gates); its progress is read from the
method folder's status.json, and Cancel leaves a CANCEL file there, as for `lth run`.
"""

from __future__ import annotations

import streamlit as st

from lab import fields, shared
from lth.core import arms, catalog, paths
from lth.core.config import ConfigError
from lth.core.gate_config import METHODS, GateConfig
from lth.lab import jobs
from lth.runs import results

LIMITS = {"points": (1, 5), "gate_iterations": (50, 5000)}
LAB_SWEEPS = {"gaussian": "1e-6,1e-5,1e-4", "hard_concrete": "1e-6,1e-5,1e-4", "cs": "0.05,0,-0.1"}


def parse(run: results.Run, method: str, sweep: str, iterations: int, retrain: bool) -> tuple[GateConfig | None, dict]:
    """The sweep the form asks for, or {field: message} saying why not."""
    sweep = sweep.replace(" ", "") or LAB_SWEEPS[method]
    lo, hi = LIMITS["gate_iterations"]
    if not lo <= iterations <= hi:
        return None, {"gate_iterations": f"--gate-iterations must be between {lo} and {hi} in the lab "
                                         "(use the CLI for longer searches)"}
    lo, hi = LIMITS["points"]
    if not lo <= len(sweep.split(",")) <= hi:
        return None, {"sweep": f"give between {lo} and {hi} comma-separated values in the lab"}
    try:
        gcfg = GateConfig(method=method, sweep=sweep, gate_iterations=iterations, retrain=retrain,
                          gate_eval_every=max(10, iterations // 10), cs_rewind_iteration=min(500, iterations // 10))
        jobs.check_gates(run.path, gcfg)
    except ConfigError as err:
        return None, {"sweep": str(err)}
    return gcfg, {}


def form(run: results.Run) -> None:
    errors = st.session_state.get("gate_errors", {})
    examples = " · ".join(f"{catalog.method_name(m)} {v}" for m, v in LAB_SWEEPS.items())
    with st.form("gate_form"):
        c1, c2, c3 = st.columns([2, 3, 2])
        method = c1.selectbox("Method", METHODS, format_func=catalog.method_name, key="gate_method")
        sweep = c2.text_input("Sweep values (λ for gates, s0 for continuous sparsification)", key="gate_sweep",
                              placeholder=f"empty: {examples}",
                              help="One sweep point each. Larger λ, or smaller s0, prunes more.")
        iterations = c3.number_input("Mask-learning iterations", value=300, step=50, key="gate_iterations")
        retrain = st.checkbox("Also retrain each learned mask from θ₀ (the weak ticket; continuous "
                              "sparsification always retrains)", value=True, key="gate_retrain")
        data_dir = st.text_input("Data folder", value=str(paths.data_dir()), key="gate_data_dir")
        for name in ("sweep", "gate_iterations", "data_dir"):
            fields.error_under(name, errors)
        submitted = st.form_submit_button("Start sweep", type="primary")
    if submitted:
        gcfg, errors = parse(run, method, sweep, int(iterations), bool(retrain))
        missing = jobs.data_missing(run.config, paths.data_dir(data_dir))
        if missing:
            errors["data_dir"] = missing
        st.session_state["gate_errors"] = errors
        if not errors:
            job = jobs.start_gates(run.path, gcfg, paths.data_dir(data_dir))
            shared.gate_sweeps()[str(job.run_dir)] = job
        st.rerun()


@st.fragment(run_every=1.0)
def progress() -> None:
    for mdir, job in list(shared.gate_sweeps().items()):
        status = job.status()
        label = f"{catalog.method_name(job.config.method)} on run `{job.run_dir.parent.parent.name[:6]}`"
        if job.running:
            fraction = float(status.get("fraction") or 0.0)
            stage = "learning masks" if status.get("level", 0) == 0 else "retraining the masks"
            eta = status.get("eta_seconds")
            c1, c2 = st.columns([5, 1])
            c1.progress(min(fraction, 1.0), text=f"{label} · {stage} · {fraction:.0%}"
                        + (f" · about {eta:.0f} s left" if eta else ""))
            if c2.button("Cancel", key=f"cancel-gates-{mdir}"):
                job.cancel()
        elif job.returncode in (0, None):
            new = ", ".join(arms.label(a) for a in job.config.arms)
            st.success(f"{label}: done. New arms: {new}. See **Gradient-found tickets**.")
        elif status.get("state") == "cancelled":
            st.warning(f"{label}: cancelled. Start the same sweep again to resume.")
        else:
            st.error(f"{label}: failed. {job.error()}")
