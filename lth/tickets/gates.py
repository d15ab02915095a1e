"""Masks learned by gradient descent: relaxed Bernoulli gates and continuous sparsification.

Formulas and defaults from ../shared/PAPER.md ("Finding tickets by gradient
descent"). Each weight gets a gate; a relaxation makes the gate differentiable
in its parameter, and a penalty on the expected number of open gates sets the
sparsity. One final binary-mask rule for both gate families, so their tickets
are comparable: **keep a weight when its gate is open with probability above
one half** (Gaussian: μ > 0; hard concrete: log α > β·log(−γ/ζ)). Continuous
sparsification keeps s > 0.

Mask learning runs on the engine's one training loop (lth.engine.train.loop): only the step differs.
`lth.core.gate_config.GateConfig` names a sweep; `lth.tickets.gate_search` runs it into a run's store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..core.gate_config import GateConfig
from ..engine import pruning
from ..engine.models import Params
from ..engine.train import BatchOrder, Hooks, finish, loop


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


# --- learning masks, K sweep points as one stack ---------------------------------------
@dataclass
class Draws:
    """What mask learning draws on besides the model: batches, gate noise and init, the lr of trained weights."""
    order: BatchOrder
    noise: torch.Generator
    init: torch.Generator
    weights_lr: float
    hooks: Hooks = Hooks()


def _loss(model, params, data, idx, k) -> torch.Tensor:
    logits = model.forward(params, data.x_train[idx])
    return F.cross_entropy(logits.flatten(0, 1), data.y_train[idx].flatten(), reduction="none").view(k, -1).mean(1)


def _remaining(masks: Callable[[], pruning.Masks]) -> Callable[[], np.ndarray]:
    """The fraction of weights the current binary masks keep, per model: a curve recorded at each evaluation."""
    return lambda: pruning.remaining(masks())[0].cpu().numpy()


def learn_gates(model, theta0, lambdas, data, g: GateConfig, draws: Draws):
    """Strong-ticket mask learning: θ0 frozen, one gate per weight, loss = CE + λ·Σ P(open).

    Curves are of the binary-mask network (the strong ticket) as the gates learn.
    """
    relax = relaxation(g)
    k = len(lambdas)
    device = data.x_train.device
    gates = {layer.name: relax.init((k, *layer.weight_shape), draws.init).to(device).requires_grad_(True)
             for layer in model.layers}
    lam = torch.tensor(lambdas, device=device)
    optimizer = torch.optim.Adam(gates.values(), lr=g.gate_lr)

    def binary() -> pruning.Masks:
        return {n: relax.binary(v.detach()) for n, v in gates.items()}

    def step(it: int) -> torch.Tensor:
        z = {n: relax.sample(v, draws.noise) for n, v in gates.items()}
        ce = _loss(model, pruning.apply(theta0, z), data, draws.order.indices(it), k)
        expected_open = sum(relax.open_probability(v).flatten(1).sum(1) for v in gates.values())
        optimizer.zero_grad(set_to_none=True)
        (ce + lam * expected_open).sum().backward()
        optimizer.step()
        return ce.detach()

    def evaluated() -> Params:  # the strong ticket: θ0 under the binary masks
        return pruning.apply(theta0, binary())

    points, curves, _ = loop(model, data, k, g.gate_iterations, g.gate_eval_every, step, evaluated, draws.hooks,
                             extra={"remaining": _remaining(binary)})
    masks = binary()
    return masks, finish(model, data, points, curves, theta0, pruning.apply(theta0, masks)), theta0


def learn_cs(model, theta0, s0s, data, g: GateConfig, draws: Draws):
    """Continuous sparsification: weights and s learn together under mask sigmoid(β·s), round after round.

    Between rounds β resets to 1, s <- min(s, s0) and the weights rewind to θk (k = cs_rewind_iteration).
    Returns the masks 1[s > 0], the search's result and θk, the weights the masks are retrained from.
    """
    k = len(s0s)
    device = data.x_train.device
    T = g.gate_iterations  # iterations a round
    weights = {n: p.clone().requires_grad_(True) for n, p in theta0.items()}
    s0 = {layer.name: torch.tensor(s0s, device=device).view(k, *[1] * len(layer.weight_shape))
          for layer in model.layers}
    s = {n: v.expand(k, *layer.weight_shape).clone().requires_grad_(True)
         for (n, v), layer in zip(s0.items(), model.layers)}
    state: dict = {}

    def binary() -> pruning.Masks:
        return {n: v.detach() > 0 for n, v in s.items()}

    def detached() -> Params:
        return {n: p.detach() for n, p in weights.items()}

    def new_optimizer():
        return torch.optim.Adam([{"params": list(weights.values()), "lr": draws.weights_lr},
                                 {"params": list(s.values()), "lr": g.gate_lr}])

    def step(i: int) -> torch.Tensor:
        r, it = divmod(i, T)
        if it == 0:
            state["optimizer"] = new_optimizer()
        if r == 0 and it == g.cs_rewind_iteration:
            state["rewind"] = {n: p.detach().clone() for n, p in weights.items()}
        m = {n: cs_mask(v, cs_beta(it, T, g.cs_beta_max)) for n, v in s.items()}
        ce = _loss(model, pruning.apply(weights, m), data, draws.order.indices(i), k)
        penalty = sum(v.flatten(1).sum(1) for v in m.values())
        state["optimizer"].zero_grad(set_to_none=True)
        (ce + g.cs_lambda * penalty).sum().backward()
        state["optimizer"].step()
        if it == T - 1 and r < g.rounds - 1:  # the round's end: β back to 1, s <- min(s, s0), weights back to θk
            with torch.no_grad():
                for n in s:
                    s[n].copy_(torch.minimum(s[n], s0[n]))
                for n in weights:
                    weights[n].copy_(state["rewind"][n])
        return ce.detach()

    points, curves, _ = loop(model, data, k, T * g.rounds, g.gate_eval_every, step,
                          lambda: pruning.apply(detached(), binary()), draws.hooks,
                          extra={"remaining": _remaining(binary)})
    final, masks = detached(), binary()
    return masks, finish(model, data, points, curves, final, pruning.apply(final, masks)), state["rewind"]
