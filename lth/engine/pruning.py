"""Masks: magnitude pruning (layer-wise or global), random pruning, and the sparsity ladder.

A mask set is ``{layer_name: bool tensor (K, *weight_shape)}``, one mask per
model in the stack. Pruning only ever removes survivors, so masks shrink
monotonically from level to level.
"""

from __future__ import annotations

import math

import torch

from ..core.config import PruningConfig
from .models import Model

Masks = dict[str, torch.Tensor]


def _round(x: float) -> int:
    """Half-up rounding of kept counts: reproduces PAPER.md's ladder exactly."""
    return math.floor(x + 0.5)


def layer_rate(cfg: PruningConfig, kind: str) -> float:
    return {"conv": cfg.rate_conv, "shortcut": cfg.rate_conv, "fc": cfg.rate_fc, "output": cfg.rate_output}[kind]


def ranked(model: Model, cfg: PruningConfig) -> list[str]:
    """The layers global pruning ranks together; the others keep every weight."""
    return [layer.name for layer in model.layers if cfg.global_layers == "all" or layer.kind == "conv"]


def _unranked_kept(model: Model, cfg: PruningConfig, masks: Masks) -> int:
    names = set(ranked(model, cfg))
    return sum(int(m[0].sum()) for n, m in masks.items() if n not in names)


def ladder(model: Model, cfg: PruningConfig, levels: int) -> list[int]:
    """Total surviving weights at each level 0..levels (unpruned layers included, as the paper counts them)."""
    if cfg.strategy == "global":
        names = set(ranked(model, cfg))
        counts = [sum(layer.size for layer in model.layers if layer.name in names)]
        for _ in range(levels):
            counts.append(_round(counts[-1] * (1 - cfg.rate_global)))
        return [c + model.prunable - counts[0] for c in counts]
    return [sum(c.values()) for c in layer_ladder(model, cfg, levels)]


def layer_ladder(model: Model, cfg: PruningConfig, levels: int) -> list[dict[str, int]]:
    """Per-layer surviving weights at each level under layer-wise pruning."""
    counts = [{layer.name: layer.size for layer in model.layers}]
    for _ in range(levels):
        counts.append({layer.name: _round(counts[-1][layer.name] * (1 - layer_rate(cfg, layer.kind)))
                       for layer in model.layers})
    return counts


def dense_masks(model: Model, k: int, device="cpu") -> Masks:
    return {layer.name: torch.ones((k, *layer.weight_shape), dtype=torch.bool, device=device) for layer in model.layers}


def _keep_top(scores: torch.Tensor, kept: int) -> torch.Tensor:
    """Boolean (K, n): the `kept` highest scores of each row."""
    mask = torch.zeros_like(scores, dtype=torch.bool)
    if kept > 0:
        mask.scatter_(1, scores.topk(kept, dim=1, sorted=False).indices, True)
    return mask


def magnitude_prune(model: Model, params: dict[str, torch.Tensor], masks: Masks, cfg: PruningConfig,
                    target: dict[str, int] | int) -> Masks:
    """Keep the largest-|w| survivors: per layer (target: counts per layer) or globally (target: the total kept,
    unranked layers included; those keep their masks)."""
    scores = {n: torch.where(masks[n], params[f"{n}.weight"].abs(), torch.tensor(-1.0, device=masks[n].device))
              for n in masks}
    if cfg.strategy == "global":
        names = ranked(model, cfg)
        flat = torch.cat([scores[n].flatten(1) for n in names], dim=1)
        keep = _keep_top(flat, max(0, int(target) - _unranked_kept(model, cfg, masks)))
        sizes = [scores[n][0].numel() for n in names]
        return {**masks, **{n: part.view_as(masks[n]) for n, part in zip(names, keep.split(sizes, dim=1))}}
    return {n: _keep_top(s.flatten(1), target[n]).view_as(s) for n, s in scores.items()}


def magnitude_ladder(model: Model, params: dict[str, torch.Tensor], cfg: PruningConfig, targets: list):
    """magnitude_prune of dense networks to each of several targets, sorting the weights once (not one top-k
    per target: on VGG-19's 20M weights that took 0.4 s a target). Yields one mask set per target; ties may
    fall differently from magnitude_prune's."""
    names = ranked(model, cfg) if cfg.strategy == "global" else [layer.name for layer in model.layers]
    weights = {n: params[f"{n}.weight"] for n in names}
    rankings = [names] if cfg.strategy == "global" else [[n] for n in names]  # the layers ranked together
    orders = [torch.cat([weights[n].abs().flatten(1) for n in g], 1).argsort(dim=1, descending=True, stable=True)
              for g in rankings]
    fixed = {layer.name: torch.ones((len(orders[0]), *layer.weight_shape), dtype=torch.bool, device=orders[0].device)
             for layer in model.layers if layer.name not in names}
    for target in targets:
        masks = dict(fixed)
        for g, order in zip(rankings, orders):
            kept = target[g[0]] if isinstance(target, dict) else target - sum(m[0].numel() for m in fixed.values())
            keep = torch.zeros(order.shape, dtype=torch.bool, device=order.device)
            keep.scatter_(1, order[:, :max(0, int(kept))], True)
            sizes = [weights[n][0].numel() for n in g]
            masks.update({n: part.view_as(weights[n]) for n, part in zip(g, keep.split(sizes, dim=1))})
        yield {layer.name: masks[layer.name] for layer in model.layers}


def next_target(model: Model, cfg: PruningConfig, masks: Masks) -> dict[str, int] | int:
    """How many weights the next level keeps, from the current masks (same count for every model)."""
    if cfg.strategy == "global":
        fixed = _unranked_kept(model, cfg, masks)
        return _round((sum(int(m[0].sum()) for m in masks.values()) - fixed) * (1 - cfg.rate_global)) + fixed
    kinds = {layer.name: layer.kind for layer in model.layers}
    return {n: _round(int(m[0].sum()) * (1 - layer_rate(cfg, kinds[n]))) for n, m in masks.items()}


def random_masks(counts: list[dict[str, int]], shapes: dict[str, tuple], generators: list[torch.Generator],
                 device="cpu") -> Masks:
    """For model i, a uniformly random mask keeping counts[i][layer] weights in each layer."""
    out = {}
    for name, shape in shapes.items():
        size = math.prod(shape)
        rows = []
        for count, g in zip(counts, generators):
            row = torch.zeros(size, dtype=torch.bool)
            row[torch.randperm(size, generator=g)[: count[name]]] = True
            rows.append(row.view(shape))
        out[name] = torch.stack(rows).to(device)
    return out


def remaining(masks: Masks) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Fraction of weights remaining per model: total (K,) and per layer {name: (K,)}."""
    per_layer = {n: m.flatten(1).double().mean(1) for n, m in masks.items()}
    kept = sum(m.flatten(1).sum(1) for m in masks.values()).double()
    total = sum(m[0].numel() for m in masks.values())
    return kept / total, per_layer


def layer_of(param: str) -> str | None:
    """The layer whose mask covers a parameter ("fc1.weight" -> "fc1"); None for a parameter never masked (a bias).
    A foreign module's other weights (a batch norm's) have no mask either: check the name is in the masks."""
    return param[: -len(".weight")] if param.endswith(".weight") else None


def apply(params: dict[str, torch.Tensor], masks: Masks) -> dict[str, torch.Tensor]:
    """The parameters with every masked weight set to zero: masks may be 0/1 or fractional (a relaxed gate)."""
    return {n: p * masks[layer_of(n)] if layer_of(n) in masks else p for n, p in params.items()}


def counts_of(masks: Masks, i: int) -> dict[str, int]:
    return {n: int(m[i].sum()) for n, m in masks.items()}


def select(masks: Masks, index) -> Masks:
    return {n: m[index] for n, m in masks.items()}


def concat(mask_sets: list[Masks]) -> Masks:
    """Mask sets one after another along the stack dimension, as one set."""
    return {n: torch.cat([m[n] for m in mask_sets]) for n in mask_sets[0]}


def counts_for_fraction(model: Model, cfg: PruningConfig, fraction: float) -> dict[str, int] | int:
    """Targets that keep about `fraction` of all weights, spread over layers as the ladder spreads them.

    Layer-wise: layer l keeps (1 - rate_l)^n of its weights, n (real) chosen by
    bisection so the total matches. Global: the total count itself (unranked layers included).
    """
    if cfg.strategy == "global":
        return _round(model.prunable * fraction)

    def counts(n: float) -> dict[str, int]:
        return {layer.name: max(1, _round(layer.size * (1 - layer_rate(cfg, layer.kind)) ** n))
                for layer in model.layers}

    lo, hi = 0.0, 1.0
    while sum(counts(hi).values()) > fraction * model.prunable and hi < 1e4:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(counts(mid).values()) > fraction * model.prunable else (lo, mid)
    return counts(hi)
