"""A stack's optimiser step, with Adam on the live weights only where that gives the same bits.

A step masks each weight gradient (pruned entries to 0) and lets fused Adam update every entry of every tensor:
at 7% of the weights kept, 93% of Adam's memory traffic (weights, gradients, two moments) moves zeros. Adam is
elementwise, so stepping only the live entries gives the same numbers, provided each live entry meets the same
arithmetic. PyTorch's fused CPU Adam does a tensor in SIMD vectors of `width` floats (16 on AVX-512, 8 on AVX2)
and its last numel % width entries one at a time, which round differently. So a weight tensor is packed only when
its size is a multiple of the width (it has no such tail), into a tensor of its live entries padded with zeros to
a multiple of the width (no tail either): every live entry is done in vectors both ways. The padding stays zero
(zero gradient, zero moments, zero step).

Each step gathers the live gradients (torch.take), steps the packed weights, and scatters them back (index_copy_)
into the full weights the forward pass uses. Gathering and scattering cost about what they save at 25% of the
weights kept (LeNet-300-100, K = 9 on a 2-core CPU, the step: 0.97x at 26%, 1.05x at 21%, 1.13x at 7%, 1.15-1.21x
at 3.5-1.2%); `lth bench` times it at every level of the paper's experiment (row 5). On a GPU, with SGD, or on a
CPU whose vector width is not known here, every tensor is stepped whole as before; SGD's fused CPU kernel splits
its work otherwise and does not give the same bits packed (one entry in 2.4 million off by 7e-9).
"""

from __future__ import annotations

import torch

from ..core.config import TrainingConfig
from . import optim

MAX_LIVE = 0.25  # packed at or below this fraction of a tensor's entries live: there the step is faster
MIN_ENTRIES = 2**16  # smaller tensors cost little whole, and their gather costs more than it saves


def vector_width(device: torch.device) -> int | None:
    """Floats per SIMD vector of PyTorch's CPU kernels on this machine, where known (x86)."""
    if device.type != "cpu":
        return None
    capability = torch.backends.cpu.get_cpu_capability()
    return 16 if capability.startswith("AVX512") else 8 if capability.startswith("AVX2") else None


class Packed:
    """One weight tensor's live entries: a leaf the optimiser steps in place of the full tensor."""

    def __init__(self, weight: torch.Tensor, mask: torch.Tensor, width: int):
        self.weight = weight
        self.live = mask.flatten().nonzero().squeeze(1)
        n = len(self.live)
        values = torch.zeros(n + -n % width, dtype=weight.dtype, device=weight.device)
        values[:n] = weight.detach().flatten()[self.live]
        self.values = values.requires_grad_()
        self.values.grad = torch.zeros_like(values)  # the padding's gradient stays 0
        self.kept, self.grads = self.values.detach()[:n], self.values.grad[:n]

    def gather(self) -> None:
        torch.take(self.weight.grad, self.live, out=self.grads)

    def scatter(self) -> None:
        self.weight.detach().view(-1).index_copy_(0, self.live, self.kept)


def packable(cfg: TrainingConfig, entries: int, live: int, width: int | None) -> bool:
    """Whether a weight tensor of `entries` with `live` of them unpruned is stepped packed (`width`: vector_width)."""
    return (width is not None and cfg.optimizer == "adam" and entries >= MIN_ENTRIES and entries % width == 0
            and live <= MAX_LIVE * entries)


class Update:
    """Masks the gradients and steps the optimiser: whole tensors, or packed ones where `packable`."""

    def __init__(self, cfg: TrainingConfig, weights: list[torch.Tensor],
                 masked: list[tuple[torch.Tensor, torch.Tensor]], device: torch.device):
        width = vector_width(device)
        self.weights = weights
        self.packed = [Packed(p, m, width) for p, m in masked
                       if packable(cfg, p.numel(), int(m.count_nonzero()), width)]
        packed = {id(q.weight) for q in self.packed}
        self.masked = [(p, m) for p, m in masked if id(p) not in packed]
        whole = [p for p in weights if id(p) not in packed]
        self.optimizer = optim.build(cfg, [q.values for q in self.packed] + whole, device)

    def zero_grad(self) -> None:
        for p in self.weights:
            p.grad = None

    def step(self) -> None:
        for q in self.packed:
            q.gather()
        if self.masked:
            torch._foreach_mul_([p.grad for p, _ in self.masked], [m for _, m in self.masked])
        self.optimizer.step()
        with torch.no_grad():
            for q in self.packed:
                q.scatter()
