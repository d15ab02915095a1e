"""Network slimming (Liu et al. 2017): structured pruning of whole channels by their batch-norm scale.

Training adds λ·Σ|γ| over the prunable channels' batch-norm scales γ to the loss (its subgradient λ·sign(γ),
as the authors' code adds it). Pruning removes, over all prunable channels together, the ones whose |γ| is
smallest; a layer keeps at least one channel.

Inside a run a removed channel is a mask like any other: its filter, batch-norm scale and shift are held at
exactly 0 (so the channel outputs 0 after batch norm and ReLU), and the weights that read it are masked too.
`build` turns such a network into the network it stands for, with the channels really gone: the same
outputs, fewer parameters and multiply-adds, and (measured, `inference_ms`) a faster forward pass.

Which channels are prunable is the model's `prunable_channels()`: every convolution of a VGG; the inner
channel of each residual block of a ResNet (the channels residual additions share stay whole).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import torch

from . import pruning
from .model_base import Layer, Model, Params

Channels = dict[str, torch.Tensor]  # {layer: bool (K, C)}: which of its output channels each model keeps


def channels_of(model: Model, masks: pruning.Masks) -> Channels:
    """The channels a structured mask keeps: those whose filter has a weight left."""
    return {n: masks[n].flatten(2).any(2) for n in model.prunable_channels()}


def weight_masks(model: Model, channels: Channels) -> pruning.Masks:
    """The weight masks of a network with these channels: a removed channel's filter and every weight that reads
    it are 0; the rest of the network is whole."""
    k = next(iter(channels.values())).shape[0]
    masks = pruning.dense_masks(model, k, next(iter(channels.values())).device)
    for name, readers in model.prunable_channels().items():
        keep = channels[name]
        masks[name] = masks[name] & keep.view(k, -1, *[1] * (masks[name].dim() - 2))
        for reader in readers:
            masks[reader] = masks[reader] & keep.view(k, 1, -1, *[1] * (masks[reader].dim() - 3))
    return masks


def next_channels(model: Model, params: Params, channels: Channels, rate: float) -> Channels:
    """Each model's channels after removing `rate` of those it has left (rounded half up): the smallest |γ| over
    all prunable layers together. A layer's largest-|γ| channel always stays."""
    names = list(model.prunable_channels())
    scores = {n: torch.where(channels[n], params[f"{n}.scale"].abs(), -torch.inf) for n in names}
    guard = {n: torch.zeros_like(channels[n]).scatter_(1, scores[n].argmax(1, keepdim=True), True) for n in names}
    alive = torch.cat([channels[n] for n in names], 1)
    removable = alive & ~torch.cat([guard[n] for n in names], 1)
    score = torch.where(removable, torch.cat([scores[n] for n in names], 1), torch.inf)
    kept = alive.clone()
    for i in range(len(kept)):
        remove = min(math.floor(int(alive[i].sum()) * rate + 0.5), int(removable[i].sum()))
        kept[i, score[i].argsort(stable=True)[:remove]] = False
    return dict(zip(names, kept.split([channels[n].shape[1] for n in names], 1)))


@dataclass
class Penalty:
    """What a training stack needs to slim some of its models: which rows, and λ."""
    rows: list[bool]
    l1: float

    def strength(self, device) -> torch.Tensor:
        """(K, 1): λ for a slimmed row, 0 for the others."""
        return torch.tensor(self.rows, dtype=torch.float32, device=device).view(-1, 1) * self.l1


def bn_masks(model: Model, masks: pruning.Masks, rows: list[bool]) -> dict[str, torch.Tensor]:
    """Masks of the batch-norm scales and shifts of the prunable channels ({param: (K, C)}): a slimmed row's
    removed channels are 0, everything else (and every row not slimmed) is kept."""
    structured = torch.tensor(rows, device=next(iter(masks.values())).device).view(-1, 1)
    out = {}
    for name, keep in channels_of(model, masks).items():
        for part in ("scale", "shift"):
            out[f"{name}.{part}"] = keep | ~structured
    return out


def add_penalty(model: Model, weights: Params, strength: torch.Tensor) -> None:
    """Add λ·sign(γ) to the gradient of the prunable batch-norm scales; `strength` (K, 1) is each row's λ (0: a
    row not slimmed), made once per stack by `Penalty.strength`."""
    for name in model.prunable_channels():
        p = weights[f"{name}.scale"]
        p.grad.addcmul_(p.detach().sign(), strength)


# --- the slimmed network at its real size --------------------------------------------
def build(model: Model, params: Params, channels: Channels) -> tuple[Model, Params]:
    """The network model/params (one model: K = 1) stands for once the removed channels are really gone: a model
    with narrower layers and its parameters. Its outputs equal the masked network's."""
    keep = {n: c[0] for n, c in channels.items()}
    inputs = {reader: keep[n] for n, readers in model.prunable_channels().items() for reader in readers}
    layers, out = [], {}
    for layer in model.layers:
        rows, cols = keep.get(layer.name), inputs.get(layer.name)
        shape = list(layer.weight_shape)
        if rows is not None:
            shape[0] = int(rows.sum())
        if cols is not None:
            shape[1] = int(cols.sum())
        layers.append(Layer(layer.name, layer.kind, tuple(shape)))
        for name, p in params.items():
            if not name.startswith(f"{layer.name}."):
                continue
            if rows is not None:
                p = p[:, rows]
            if cols is not None and name.endswith(".weight"):
                p = p[:, :, cols]
            out[name] = p.contiguous()
    return dataclasses.replace(model, layers=tuple(layers)), out


def parameters(model: Model) -> int:
    """Parameters of a batch-norm network: weights, two batch-norm parameters per channel, the output biases."""
    return sum(layer.size + (layer.weight_shape[0] if layer.kind == "output" else 2 * layer.weight_shape[0])
               for layer in model.layers)


@torch.no_grad()
def inference_ms(model: Model, params: Params, x: torch.Tensor, repeats: int = 7) -> float:
    """Median wall time (ms) of one evaluation-mode forward pass of x through one model, after two warm-ups."""
    times = []
    for i in range(repeats + 2):
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        model.forward(params, x, shared_input=True)
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]
