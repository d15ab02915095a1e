"""What a gate sweep is: the method, its sweep of λ or s0, and its hyperparameters.

Torch-free (the app reads it). A sweep is stored under its IMP run, in
``methods/<method>/`` (lth.core.sweeps); lth.tickets.gate_search computes it.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields

from . import arms, catalog
from .config import ConfigError, _coerce, _f, flag

METHODS = catalog.methods("gates")
DEFAULT_SWEEPS = {  # λ for the gates (penalty λ·Σ P(open)), s0 for continuous sparsification
    "gaussian": "1e-7,3e-7,1e-6,3e-6,1e-5,3e-5",
    "hard_concrete": "1e-7,3e-7,1e-6,3e-6,1e-5,3e-5",
    "cs": "0.1,0,-0.1,-0.2,-0.3,-0.5",
}


@dataclass(frozen=True)
class GateConfig:
    method: str = _f("gaussian", "how the mask is learned", METHODS)
    sweep: str = _f("", "comma-separated λ (gates) or s0 (cs) values, one sweep point each; empty: the method's "
                        "default")
    trials: int = _f(1, "trials; trial t uses the IMP run's trial-t initialisation θ0 and data order")
    gate_iterations: int = _f(10_000, "iterations of mask learning (cs: per round)")
    gate_lr: float = _f(1e-2, "Adam learning rate of the gate parameters (μ, log α or s)")
    gate_eval_every: int = _f(1_000, "iterations between evaluations while masks are learned")
    sigma: float = _f(0.5, "Gaussian gates: noise standard deviation σ")
    rounds: int = _f(3, "cs: rounds; between rounds β resets to 1, s <- min(s, s0) and weights rewind")
    cs_lambda: float = _f(1e-8, "cs: penalty λ on Σ sigmoid(β·s)")
    cs_beta_max: float = _f(200.0, "cs: β grows geometrically from 1 to this within a round")
    cs_rewind_iteration: int = _f(500, "cs: weights rewind to this iteration of the first round")
    retrain: bool = _f(True, "also retrain each mask from θ0 (cs: θk) with the run's protocol: the weak ticket")

    def __post_init__(self):
        _coerce(self)
        validate(self)

    @property
    def values(self) -> list[float]:
        """The sweep's λ or s0 values, one per sweep point, in order."""
        return [float(v) for v in (self.sweep or DEFAULT_SWEEPS[self.method]).split(",")]

    @property
    def retrains(self) -> bool:
        """Whether the learned masks are retrained with the run's protocol (continuous sparsification always is)."""
        return self.retrain or self.method == "cs"

    @property
    def arms(self) -> tuple[str, ...]:
        """The registry's arms of this method that the sweep reports: strong ones, and retrained ones if it retrains."""
        return tuple(a.name for a in arms.of_method(self.method) if not a.trained or self.retrains)

    @property
    def method_id(self) -> str:
        """A short hash of every setting (all fields, defaults too)."""
        blob = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:8]

    @classmethod
    def from_dict(cls, d: dict) -> "GateConfig":
        """The settings method.json holds; unknown fields are an error."""
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown gate field(s) {sorted(unknown)}")
        return cls(**d)


def validate(g: GateConfig) -> None:
    """ConfigError naming the flag of the first setting out of bounds."""
    def need(ok: bool, name: str, allowed: str) -> None:
        if not ok:
            raise ConfigError(f"{flag(name)}={getattr(g, name)!r} is not allowed: {allowed}")

    need(g.method in METHODS, "method", f"choose one of {', '.join(METHODS)}")
    try:
        values = g.values
    except ValueError:
        values = None
    need(bool(values) and all(math.isfinite(v) for v in values), "sweep", "comma-separated numbers, e.g. 1e-5,4e-5")
    need(len(set(values)) == len(values), "sweep", "distinct values")
    if g.method != "cs":
        need(all(v >= 0 for v in values), "sweep", "λ values >= 0")
    need(g.trials >= 1, "trials", "an integer >= 1")
    need(g.gate_iterations >= 1, "gate_iterations", "an integer >= 1")
    need(g.gate_lr > 0, "gate_lr", "a positive number")
    need(g.gate_eval_every >= 1, "gate_eval_every", "an integer >= 1")
    need(g.sigma > 0, "sigma", "a positive number")
    need(g.rounds >= 1, "rounds", "an integer >= 1")
    need(g.cs_lambda >= 0, "cs_lambda", "a number >= 0")
    need(g.cs_beta_max >= 1, "cs_beta_max", "a number >= 1")
    need(g.method != "cs" or 0 <= g.cs_rewind_iteration < g.gate_iterations, "cs_rewind_iteration",
         "0 <= k < --gate-iterations")
