"""Choosing the device: CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import torch

from .config import ConfigError

CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve(name: str = "auto") -> torch.device:
    if name not in CHOICES:
        raise ConfigError(f"--device={name!r} is not allowed: choose one of {', '.join(CHOICES)}")
    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    if name == "auto":
        name = next(d for d in ("cuda", "mps", "cpu") if available[d])
    if not available[name]:
        raise ConfigError(f"--device={name} is not available on this machine: use auto or cpu")
    return torch.device(name)
