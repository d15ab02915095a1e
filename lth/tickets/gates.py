"""Masks learned by gradient descent: relaxed Bernoulli gates and continuous sparsification.

Formulas and defaults from ../shared/PAPER.md ("Finding tickets by gradient
descent"). Each weight gets a gate; a relaxation makes the gate differentiable
in its parameter, and a penalty on the expected number of open gates sets the
sparsity. One final binary-mask rule for both gate families, so their tickets
are comparable: **keep a weight when its gate is open with probability above
one half** (Gaussian: μ > 0; hard concrete: log α > β·log(−γ/ζ)). Continuous
sparsification keeps s > 0.

`lth.gate_config.GateConfig` names a sweep; `lth.gate_search` runs it into a run's store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..core.gate_config import GateConfig


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
