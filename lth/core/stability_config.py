"""What an instability analysis is: which networks (arm, level), the rewind iterations k, the copies, the path.

Torch-free (the app reads it). Stored under its IMP run as methods/stability/ (method.json's key:
"stability"), one unit per (arm, level, k) and trial; lth.tickets.stability computes it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields

from .config import Config, ConfigError, _coerce, _f, flag

ARMS = ("ticket", "reinit")  # whose mask the copies train: IMP's ticket (level 0: the dense net) or its reinit control


@dataclass(frozen=True)
class Fork:
    """One network the analysis forks: an arm's mask at an IMP level, its copies forked at iteration k."""
    arm: str
    level: int
    k: int

    @property
    def label(self) -> str:
        what = "dense" if self.level == 0 else f"{self.arm} level {self.level}"
        return f"{what}, k={self.k}"


@dataclass(frozen=True)
class StabilityConfig:
    levels: str = _f("0", "comma-separated IMP levels whose networks are forked (0: the dense network)")
    rewinds: str = _f("0", "comma-separated iterations k: the copies fork from the network's weights k "
                           "iterations into its training (in a run that rewinds to iteration r, the ticket's k "
                           "counts from θr)")
    masks: str = _f("ticket", "comma-separated arms whose masks are forked: ticket (level 0: the dense net), reinit "
                             "(the random-reinit control, levels >= 1)")
    copies: int = _f(2, "copies trained from each fork, each with its own data order; every pair of them is compared")
    points: int = _f(30, "evenly spaced points on the straight line between two copies (both ends included)")
    trials: int = _f(1, "trials; trial t forks the IMP run's trial-t networks")
    train_eval_examples: int = _f(10_000, "training examples the train error along the path is measured on "
                                          "(the first N of the training split; 0: all of it)")

    method = "stability"  # its folder under the run's methods/ (a class attribute, not a setting)

    def __post_init__(self):
        _coerce(self)
        validate(self)

    def forks(self, config: Config) -> list[Fork]:
        """Every (arm, level, k) the analysis forks, in order (unit p is forks[p - 1]); ConfigError when the run
        has not that level, or k is not inside its training."""
        levels, ks = _ints(self.levels), _ints(self.rewinds)
        run_levels, iterations = config.experiment.levels, config.training.iterations
        if max(levels) > run_levels:
            raise ConfigError(f"{flag('levels')}={self.levels!r} is not allowed: levels 0 to {run_levels}, "
                              "the run's own")
        if max(ks) >= iterations:
            raise ConfigError(f"{flag('rewinds')}={self.rewinds!r} is not allowed: iterations 0 to {iterations - 1}, "
                              f"inside the run's {iterations:,} iterations of training")
        mask_arms = self.masks.split(",")
        forks = [Fork(arm, lv, k) for arm in mask_arms for lv in levels for k in ks if arm == "ticket" or lv > 0]
        if not forks:
            raise ConfigError(f"{flag('masks')}={self.masks!r} with {flag('levels')}={self.levels!r} forks nothing: "
                              "the reinit control has no level 0")
        return forks

    @property
    def arms(self) -> tuple[str, ...]:
        """Arms it adds to the run's charts: none (its units hold paths between copies, not arms)."""
        return ()

    @property
    def method_id(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:8]

    @classmethod
    def from_dict(cls, d: dict) -> "StabilityConfig":
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown stability field(s) {sorted(unknown)}")
        return cls(**d)


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def validate(c: StabilityConfig) -> None:
    def need(ok: bool, name: str, allowed: str) -> None:
        if not ok:
            raise ConfigError(f"{flag(name)}={getattr(c, name)!r} is not allowed: {allowed}")

    for name in ("levels", "rewinds"):
        parts = getattr(c, name).split(",")
        need(all(p.strip().isdigit() for p in parts), name, "comma-separated whole numbers >= 0, e.g. 0,100,500")
        need(len(set(map(int, parts))) == len(parts), name, "distinct values")
    masks = c.masks.split(",")
    distinct = all(a in ARMS for a in masks) and len(set(masks)) == len(masks)
    need(distinct, "masks", f"distinct arms among {', '.join(ARMS)}")
    need(c.copies >= 2, "copies", "an integer >= 2 (a path needs two ends)")
    need(c.points >= 2, "points", "an integer >= 2 (both ends of the path)")
    need(c.trials >= 1, "trials", "an integer >= 1")
    need(c.train_eval_examples >= 0, "train_eval_examples", "an integer >= 0")
