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
