"""Masks learned by gradient descent: relaxed Bernoulli gates and continuous sparsification.

Formulas and defaults from ../shared/PAPER.md ("Finding tickets by gradient
descent"). Each weight gets a gate; a relaxation makes the gate differentiable
in its parameter, and a penalty on the expected number of open gates sets the
sparsity. One final binary-mask rule for both gate families, so their tickets
are comparable: **keep a weight when its gate is open with probability above
one half** (Gaussian: μ > 0; hard concrete: log α > β·log(−γ/ζ)). Continuous
sparsification keeps s > 0.

`GateConfig` names a sweep; `lth.gate_search` runs it into a run's store.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields

import torch

from .config import ConfigError, _coerce, _f, flag

METHODS = ("gaussian", "hard_concrete", "cs")
DEFAULT_SWEEPS = {  # λ for the gates (penalty λ·Σ P(open)), s0 for continuous sparsification
    "gaussian": "3e-6,1e-5,2e-5,4e-5,8e-5",
    "hard_concrete": "3e-6,1e-5,2e-5,4e-5,8e-5",
    "cs": "0.05,0,-0.05,-0.1,-0.2",
}
RULES = {
    "gaussian": "binary mask 1[μ > 0]: gates open with probability Φ(μ/σ) > 1/2",
    "hard_concrete": "binary mask 1[log α > β·log(−γ/ζ)]: gates open with probability > 1/2",
    "cs": "binary mask 1[s > 0] after the last round",
}


@dataclass(frozen=True)
class GateConfig:
    method: str = _f("gaussian", "how the mask is learned", METHODS)
    sweep: str = _f("", "comma-separated λ (gates) or s0 (cs) values, one sweep point each; empty: the method's default")
    trials: int = _f(1, "trials; trial t uses the IMP run's trial-t initialisation θ0 and data order")
    gate_iterations: int = _f(20_000, "iterations of mask learning (cs: per round)")
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
        return [float(v) for v in (self.sweep or DEFAULT_SWEEPS[self.method]).split(",")]

    @property
    def arms(self) -> tuple[str, ...]:
        if self.method == "cs":
            return ("cs",)
        return (f"{self.method}_strong",) + ((f"{self.method}_weak",) if self.retrain else ())

    @property
    def method_id(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:8]

    @classmethod
    def from_dict(cls, d: dict) -> "GateConfig":
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown gate field(s) {sorted(unknown)}")
        return cls(**d)


def validate(g: GateConfig) -> None:
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
    need(0 <= g.cs_rewind_iteration < g.gate_iterations, "cs_rewind_iteration", "0 <= k < --gate-iterations")


# --- the two relaxations of a Bernoulli gate ----------------------------------------
@dataclass(frozen=True)
class GaussianGate:
    """z = clamp(μ + ε, 0, 1), ε ~ N(0, σ²); P(z > 0) = Φ(μ/σ). μ starts at N(0.5, 0.01²)."""
    sigma: float = 0.5
    init_mean: float = 0.5

    def init(self, shape, generator: torch.Generator) -> torch.Tensor:
        return self.init_mean + 0.01 * torch.randn(shape, generator=generator)

    def sample(self, mu: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return torch.clamp(mu + self.sigma * eps, 0.0, 1.0)

    def open_probability(self, mu: torch.Tensor) -> torch.Tensor:
        return 0.5 * (1 + torch.erf(mu / (self.sigma * math.sqrt(2))))

    def binary(self, mu: torch.Tensor) -> torch.Tensor:
        return mu > 0


# Louizos et al. 2018: stretch interval (γ, ζ) and temperature β.
HC_BETA, HC_GAMMA, HC_ZETA = 2 / 3, -0.1, 1.1


@dataclass(frozen=True)
class HardConcreteGate:
    """u ~ U(0,1), s = sigmoid((log u − log(1−u) + log α)/β), z = clamp(s(ζ−γ)+γ, 0, 1). log α starts at N(0, 0.01²)."""

    def init(self, shape, generator: torch.Generator) -> torch.Tensor:
        return 0.01 * torch.randn(shape, generator=generator)

    def sample(self, log_alpha: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        u = torch.rand(log_alpha.shape, generator=generator, device=log_alpha.device, dtype=log_alpha.dtype)
        u = u.clamp(1e-6, 1 - 1e-6)
        s = torch.sigmoid((torch.log(u) - torch.log1p(-u) + log_alpha) / HC_BETA)
        return torch.clamp(s * (HC_ZETA - HC_GAMMA) + HC_GAMMA, 0.0, 1.0)

    def open_probability(self, log_alpha: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(log_alpha - HC_BETA * math.log(-HC_GAMMA / HC_ZETA))

    def binary(self, log_alpha: torch.Tensor) -> torch.Tensor:
        return log_alpha > HC_BETA * math.log(-HC_GAMMA / HC_ZETA)


def relaxation(g: GateConfig):
    return {"gaussian": lambda: GaussianGate(sigma=g.sigma), "hard_concrete": HardConcreteGate}[g.method]()


# --- continuous sparsification (Savarese et al. 2020) --------------------------------
def cs_beta(iteration: int, iterations: int, beta_max: float) -> float:
    """β within a round: geometric from 1 at the first iteration to beta_max at the last."""
    return beta_max ** (iteration / max(1, iterations - 1))


def cs_mask(s: torch.Tensor, beta: float) -> torch.Tensor:
    return torch.sigmoid(beta * s)
