"""Named, independent random streams: each purpose gets its own seed from a hash.

A trial's initialisation, a control's fresh initialisation and a random mask
never share a stream, so adding an arm never changes another arm's numbers.
"""

from __future__ import annotations

import hashlib

import torch


def seed(*parts) -> int:
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def generator(*parts) -> torch.Generator:
    """A CPU generator: the same numbers on every device."""
    g = torch.Generator()
    g.manual_seed(seed(*parts))
    return g


class Streams:
    """Every named stream of a run, from its base seed (--seed): each purpose is named here and nowhere else.

    IMP and the methods that learn masks from the same trial (lth gates) draw θ0 and the data order from
    the same streams, so they start from the same network and see the same batches.
    """

    def __init__(self, base: int):
        self.base = base

    def init(self, trial: int) -> torch.Generator:
        """A trial's initialisation θ0."""
        return generator(self.base, trial, "init")

    def order_key(self, trial: int, level: int | None = None, arm: str = "", copy: int = 0) -> tuple:
        """A trial's data order (lth.engine.train.BatchOrder draws from generator(*key, "data_order")): the trial's
        shared one, or with a level that level's, arm's and control copy's own (--data-order fresh)."""
        return (self.base, trial) if level is None else (self.base, trial, level, arm, copy)

    def run_order_key(self, data_order: str, trial: int, level: int, arm: str, copy: int = 0) -> tuple:
        """The order an IMP run trains one model with: the trial's shared order, or its own (data_order fresh)."""
        return self.order_key(trial) if data_order == "shared" else self.order_key(trial, level, arm, copy)

    def copy_order_key(self, trial: int, copy: int) -> tuple:
        """A stability copy's own data order after its fork (lth stability): distinct per copy, shared by forks."""
        return (self.base, trial, "stability copy", copy)

    def member(self, arm: str, trial: int, level: int, copy: int) -> torch.Generator:
        """An arm's own draw at a level: a control copy's fresh initialisation or its random mask."""
        return generator(self.base, trial, arm, level, copy)

    def score_batch(self, trial: int) -> torch.Generator:
        """Which training examples SNIP and GraSP score a trial's θ0 on."""
        return generator(self.base, trial, "score_batch")

    def gate_init(self, trial: int) -> torch.Generator:
        """The gate parameters' initial values of a trial's sweep."""
        return generator(self.base, trial, "gates")

    def gate_noise(self, trial: int, method: str, device) -> torch.Generator:
        """The gates' sampling noise, drawn on the device the gates live on."""
        g = torch.Generator(device=device)
        g.manual_seed(seed(self.base, trial, method, "noise"))
        return g
