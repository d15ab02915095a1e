"""What several pages say: the help on the arms of sweeps, commands naming a run's folder, the batch-norm guard."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from lth.core.config import BATCH_NORM_MODELS
from lth.runs import results

GATE_ARMS = (
    "- **Gates, strong (θ₀ frozen)**: a mask *learned* by gradient descent (Gaussian or hard-concrete gates) "
    "applied to the initial weights θ₀, **never trained**: what the mask alone achieves.\n"
    "- **Gates, weak (retrained)**: the same mask retrained from θ₀ with IMP's own protocol.\n"
    "- **Continuous sparsification**: weights and a soft mask learned together, the final mask retrained from "
    "early weights θk.\n\nTheir points are the values of a penalty sweep (λ or s0; hover a point), not pruning "
    "levels, so they start at their own sparsity rather than at the dense network. "
    "**Gradient-found tickets** compares them with IMP's masks and costs.")
INIT_ARMS = (
    "- **SNIP, GraSP, SynFlow (pruned at init)**: the initial weights θ₀ scored once, before any training, and "
    "pruned straight to the ticket's weight count at that level, then trained like the ticket.\n"
    "- **…, mask shuffled per layer** (dashed) and **…, weights re-drawn** (dotted): the sanity checks. If they "
    "lose nothing, the method chose only *how many* weights each layer keeps, not *which*. IMP's own checks are "
    "random pruning (its mask shuffled per layer) and random reinitialisation. **Pruning at init** has more.")


def shown_path(path: Path) -> Path:
    """A run's folder as a command shown on a page would name it: relative to where the app started, if inside it."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return Path(path)


def refused_for_batch_norm(run: results.Run, what: str) -> bool:
    """True, after saying so, where `what` is not built yet for the run's network (one with batch norm)."""
    if run.config.model.model not in BATCH_NORM_MODELS:
        return False
    st.info(f"{what} is not built yet for batch-norm networks like this run's {run.config.model.model}: its "
            "forward passes would need batch statistics. IMP's pages and the paper's claims work on this run.")
    return True
