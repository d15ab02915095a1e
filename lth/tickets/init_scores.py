"""Pruning at initialization: SNIP, GraSP and SynFlow scores of a stack of K models, and global pruning by them.

Formulas as ../shared/PAPER.md gives them ("Pruning at initialization baselines"), read against the
Synaptic-Flow code (ganguli-lab). A score is {layer: (K, *weight_shape)}, higher = keep; every method prunes
globally, over every weight layer, to a total count per model. Biases are never pruned.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..engine import pruning
from ..engine.models import Model, Params

Scores = dict[str, torch.Tensor]


def _weights(model: Model, params: Params) -> dict[str, torch.Tensor]:
    return {layer.name: params[f"{layer.name}.weight"] for layer in model.layers}


def _loss(model: Model, params: Params, x: torch.Tensor, y: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """The sum over the K models of each one's mean cross-entropy on the shared batch: the models are independent,
    so its gradient for model i's weights is model i's own."""
    logits = model.forward(params, x, shared_input=True) / temperature  # (K, B, classes)
    k = logits.shape[0]
    return F.cross_entropy(logits.flatten(0, 1), y.repeat(k), reduction="none").view(k, -1).mean(1).sum()


def snip(model: Model, params: Params, x: torch.Tensor, y: torch.Tensor) -> Scores:
    """|∂L/∂w ⊙ w| on one batch, divided by each model's sum (Lee et al. 2019)."""
    params = {n: p.detach().requires_grad_(True) for n, p in params.items()}
    w = _weights(model, params)
    grads = torch.autograd.grad(_loss(model, params, x, y), list(w.values()))
    scores = {n: (g * p).abs().detach() for (n, p), g in zip(w.items(), grads)}
    return _normalised(scores, lambda total: total)


def grasp(model: Model, params: Params, x: torch.Tensor, y: torch.Tensor, temperature: float = 200.0) -> Scores:
    """w ⊙ Hg with g = ∂L/∂w, the logits divided by `temperature` (Wang et al. 2020). GraSP removes the weights of
    highest −w ⊙ Hg, whose removal reduces gradient flow least: keeping the highest w ⊙ Hg is the same rule."""
    params = {n: p.detach().requires_grad_(True) for n, p in params.items()}
    w = _weights(model, params)
    stopped = [g.detach() for g in torch.autograd.grad(_loss(model, params, x, y, temperature), list(w.values()))]
    grads = torch.autograd.grad(_loss(model, params, x, y, temperature), list(w.values()), create_graph=True)
    hg = torch.autograd.grad(sum((g * s).sum() for g, s in zip(grads, stopped)), list(w.values()))
    scores = {n: (h * p).detach() for (n, p), h in zip(w.items(), hg)}
    return _normalised(scores, lambda total: total.abs() + 1e-10)


def synflow(model: Model, params: Params, masks: pruning.Masks) -> Scores:
    """|∂R/∂w ⊙ w| with R = 1ᵀ(∏ |W_l|)1: every parameter made positive, an all-ones input, no data
    (Tanaka et al. 2020). Masked weights count as 0. ReLU is the identity on the positive path."""
    linear = {n: (p.abs() * masks[name] if (name := pruning.layer_of(n)) else p.abs()).detach().requires_grad_(True)
              for n, p in params.items()}
    ones = torch.ones((1, *model.input_shape), device=next(iter(params.values())).device)
    w = _weights(model, linear)
    grads = torch.autograd.grad(model.forward(linear, ones, shared_input=True).sum(), list(w.values()))
    return {n: (g * p).abs().detach() for (n, p), g in zip(w.items(), grads)}


def _normalised(scores: Scores, norm) -> Scores:
    total = sum(s.flatten(1).sum(1) for s in scores.values())  # (K,)
    scale = norm(total)
    return {n: s / scale.view(-1, *[1] * (s.dim() - 1)) for n, s in scores.items()}


def keep_top(scores: Scores, kept: list[int], alive: pruning.Masks | None = None) -> pruning.Masks:
    """Global masks: model i keeps its kept[i] highest scores over all layers (only among `alive` weights).
    Ties go to the earlier weight (a stable sort), so a mask never depends on the device's sort order."""
    names = list(scores)
    flat = torch.cat([scores[n].flatten(1).float() for n in names], dim=1)
    if alive is not None:
        flat = flat.masked_fill(~torch.cat([alive[n].flatten(1) for n in names], dim=1), float("-inf"))
    order = torch.sort(flat, dim=1, descending=True, stable=True).indices
    ranks = torch.empty_like(order).scatter_(1, order, torch.arange(flat.shape[1], device=flat.device).expand_as(order))
    keep = ranks < torch.tensor(kept, device=flat.device).view(-1, 1)
    sizes = [scores[n][0].numel() for n in names]
    return {n: part.view_as(scores[n]) for n, part in zip(names, keep.split(sizes, dim=1))}


def synflow_masks(model: Model, params: Params, kept: list[int], rounds: int) -> pruning.Masks:
    """SynFlow's iterative schedule: at round r of R, model i keeps kept[i]·(1/ρ_i)^(1 - r/R) weights, ρ_i its
    final fraction (exponential, as the Synaptic-Flow code's default), scored again on what is left."""
    total = model.prunable
    masks = pruning.dense_masks(model, len(kept), next(iter(params.values())).device)
    for r in range(1, rounds + 1):
        target = [round(total * (k / total) ** (r / rounds)) for k in kept]
        masks = keep_top(synflow(model, params, masks), target, alive=masks)
    return masks
