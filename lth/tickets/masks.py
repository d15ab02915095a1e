"""How each arm of an IMP run gets its mask at a level: one function per `Arm.mask` name (lth.core.arms).

A mask function sees one level of a cohort's trials (`Level`) and one member of the stack, and
returns that member's mask set with a stack dimension of 1. Adding an arm to IMP runs is its registry
entry plus, if no existing function fits, one function here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

from ..core.seeds import Streams
from ..engine import pruning
from ..engine.models import Model


@dataclass(frozen=True)
class Member:
    """One model of a stack: which trial, which arm, which control copy of that arm (0 for an arm drawn once)."""
    trial: int
    arm: str
    copy: int


@dataclass
class Level:
    """What a mask function may draw on at one level of a cohort's trials."""
    model: Model
    level: int
    trials: list[int]
    tickets: pruning.Masks  # this level's ticket masks, one per trial, in the order of `trials`
    load_one_shot: Callable[[], pruning.Masks]  # the one-shot masks of this level, one per trial (read when asked)
    streams: Streams
    device: object
    load_previous: Callable[[str], pruning.Masks] | None = None  # masks the level before stored under a key
    _previous: dict = field(default_factory=dict)

    def index(self, member: Member) -> slice:
        i = self.trials.index(member.trial)
        return slice(i, i + 1)

    @functools.cached_property
    def one_shot(self) -> pruning.Masks:
        return self.load_one_shot()

    def previous(self, key: str) -> pruning.Masks:
        """The masks the level before stored for this level under `key`, one per trial (read once)."""
        if key not in self._previous:
            self._previous[key] = self.load_previous(key)
        return self._previous[key]


MAKERS: dict[str, Callable[[Level, Member], pruning.Masks]] = {}


def maker(name: str):
    def register(fn):
        MAKERS[name] = fn
        return fn
    return register


def make(name: str, level: Level, member: Member) -> pruning.Masks:
    if name not in MAKERS:
        raise ValueError(f"arm {member.arm!r}: no mask function {name!r} (known: {', '.join(MAKERS)})")
    return MAKERS[name](level, member)


@maker("ticket")
def ticket(level: Level, member: Member) -> pruning.Masks:
    """IMP's mask at this level (the reinit control trains it from a fresh initialisation)."""
    return pruning.select(level.tickets, level.index(member))


@maker("random")
def random(level: Level, member: Member) -> pruning.Masks:
    """A uniformly random mask with the ticket's per-layer counts, from the member's own stream."""
    shapes = {layer.name: layer.weight_shape for layer in level.model.layers}
    counts = pruning.counts_of(level.tickets, level.index(member).start)
    stream = level.streams.member(member.arm, member.trial, level.level, member.copy)
    return pruning.random_masks([counts], shapes, [stream], level.device)


@maker("one_shot")
def one_shot(level: Level, member: Member) -> pruning.Masks:
    """The trial's trained dense network pruned straight to this level's sparsity (computed at level 0)."""
    return pruning.select(level.one_shot, level.index(member))


@maker("slimmed")
def slimmed(level: Level, member: Member) -> pruning.Masks:
    """Network slimming's channels: whole at level 0, then the fine-tuned slimming network's of the level before,
    thinned by its batch-norm scales (lth.engine.slimming.next_channels); the three slimming arms share it."""
    if level.level == 0:
        return pruning.dense_masks(level.model, 1, level.device)
    return pruning.select(level.previous("slim_next"), level.index(member))
