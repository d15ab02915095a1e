"""Optimisers as config: Adam (the conv nets' and LeNet's), or SGD with momentum, weight decay, a step
schedule and linear warmup (the paper's ResNet and VGG).

Pruned weights stay exactly 0 under every choice: their gradients are masked to 0 before each step, so
momentum and Adam's moments stay 0, and weight decay adds decay * 0 = 0.
"""

from __future__ import annotations

import torch

from ..core.config import TrainingConfig


def build(cfg: TrainingConfig, params: list[torch.Tensor], device: torch.device) -> torch.optim.Optimizer:
    fused = device.type in ("cpu", "cuda", "mps")
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, fused=fused)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)


def scheduled(cfg: TrainingConfig) -> bool:
    """Whether the learning rate changes during training (else it is set once, as it always was)."""
    return bool(cfg.warmup or cfg.lr_drops)


def lr_at(cfg: TrainingConfig, iteration: int) -> float:
    """The rate of training step `iteration` (0-based): warmup's ramp, times lr_factor per drop passed."""
    drops = sum(iteration >= d for d in cfg.drop_iterations)
    ramp = min(1.0, (iteration + 1) / cfg.warmup) if cfg.warmup else 1.0
    return cfg.lr * ramp * cfg.lr_factor ** drops


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
