"""Data augmentation on the device, seeded per data order: the paper's CIFAR-10 recipe.

Each image of a training batch is padded by 4 pixels on every side with zeros (the mean colour, since the
images are normalised), cropped back to its size at a random offset, and flipped left-right half the time.
Models that share an order key (the arms of a trial under the shared data order) see the same batches and
the same augmentation, so augmentation is data-order noise like the batch order itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..core.seeds import generator

PAD = 4


class Augment:
    def __init__(self, unique_keys: list, rows: torch.Tensor):
        """unique_keys: the stack's distinct order keys; rows: (K,) which of them each model follows."""
        self.generators = [generator(*key, "augment") if isinstance(key, tuple) else generator(key, "augment")
                           for key in unique_keys]
        self.rows = rows

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x: (K, B, C, H, W), one batch per model; the same draws for models of one order key."""
        k, b, c, h, w = x.shape
        draws = torch.stack([torch.cat([torch.randint(0, 2 * PAD + 1, (2, b), generator=g),
                                        torch.randint(0, 2, (1, b), generator=g)]) for g in self.generators])
        dy, dx, flip = draws.to(x.device)[self.rows].unbind(1)  # each (K, B)
        rows = dy.unsqueeze(-1) + torch.arange(h, device=x.device)  # (K, B, H) rows of the padded image
        cols = dx.unsqueeze(-1) + torch.arange(w, device=x.device)  # (K, B, W)
        cols = torch.where(flip.bool().unsqueeze(-1), cols.flip(-1), cols)
        padded = F.pad(x.flatten(0, 1), (PAD,) * 4).unflatten(0, (k, b))  # (K, B, C, H+8, W+8)
        ki = torch.arange(k, device=x.device).view(k, 1, 1, 1)
        bi = torch.arange(b, device=x.device).view(1, b, 1, 1)
        out = padded[ki, bi, :, rows.unsqueeze(-1), cols.unsqueeze(-2)]  # (K, B, H, W, C)
        return out.permute(0, 1, 4, 2, 3).contiguous()
