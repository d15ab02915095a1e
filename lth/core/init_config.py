"""What a pruning-at-initialization sweep is: the method, the IMP levels it prunes to, and its settings.

Torch-free (the app reads it). A sweep is stored under its IMP run, in ``methods/<method>/``, as the gate
sweeps are (lth.core.gate_config); lth.tickets.init_search computes it, lth.tickets.init_scores scores.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields

from . import arms, catalog
from .config import ConfigError, _coerce, _f, flag

METHODS = catalog.methods("init")
PAPER_LEVELS = "3,7,12,15,18"  # LeNet-300-100's labelled sparsities in the paper: 51.3, 21.1, 7.0, 3.6, 1.9 %


@dataclass(frozen=True)
class InitConfig:
    method: str = _f("snip", "how weights are scored at initialization", METHODS)
    levels: str = _f("", "comma-separated IMP levels whose total weight count each mask keeps (e.g. "
                         f"{PAPER_LEVELS}, the paper's labelled LeNet sparsities); empty: every level of the run")
    trials: int = _f(1, "trials; trial t scores and trains from the IMP run's trial-t θ0 and data order")
    score_examples: int = _f(100, "training examples (one batch) SNIP and GraSP score on")
    synflow_rounds: int = _f(100, "SynFlow: pruning rounds, the kept fraction shrinking exponentially")
    grasp_temperature: float = _f(200.0, "GraSP: the logits are divided by this before the loss")
    test_every: int = _f(0, "iterations between test-set evaluations while the arms train, a multiple of the run's "
                            "--eval-every (0: the run's own); test accuracy at early stop is exact either way")
    ablations: bool = _f(True, "also train the sanity checks: each mask shuffled within its layers, and the same "
                               "mask from re-drawn weights")

    def __post_init__(self):
        _coerce(self)
        validate(self)

    def points(self, run_levels: int) -> list[int]:
        """The IMP levels swept, in order: sweep point p (1..K) prunes to level points[p - 1]'s weight count."""
        chosen = [int(v) for v in self.levels.split(",")] if self.levels else list(range(1, run_levels + 1))
        too_deep = [lv for lv in chosen if lv > run_levels]
        if too_deep:
            raise ConfigError(f"{flag('levels')}={self.levels!r} is not allowed: levels 1 to {run_levels}, "
                              f"the run's own (level(s) {', '.join(map(str, too_deep))} are deeper)")
        return chosen

    @property
    def arms(self) -> tuple[str, ...]:
        """The registry's arms of this method: its own masks, and the two sanity checks if asked."""
        return tuple(a.name for a in arms.of_method(self.method) if self.ablations or a.mask == "scored")

    @property
    def method_id(self) -> str:
        """A short hash of every setting (all fields, defaults too)."""
        blob = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:8]

    @classmethod
    def from_dict(cls, d: dict) -> "InitConfig":
        """The settings method.json holds; unknown fields are an error."""
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown pruning-at-init field(s) {sorted(unknown)}")
        return cls(**d)


def validate(c: InitConfig) -> None:
    """ConfigError naming the flag of the first setting out of bounds."""
    def need(ok: bool, name: str, allowed: str) -> None:
        if not ok:
            raise ConfigError(f"{flag(name)}={getattr(c, name)!r} is not allowed: {allowed}")

    need(c.method in METHODS, "method", f"choose one of {', '.join(METHODS)}")
    parts = c.levels.split(",") if c.levels else []
    need(all(p.strip().isdigit() and int(p) >= 1 for p in parts), "levels", "comma-separated levels >= 1, e.g. 3,7,12")
    need(len(set(map(int, parts))) == len(parts), "levels", "distinct levels")
    need(c.trials >= 1, "trials", "an integer >= 1")
    need(c.score_examples >= 1, "score_examples", "an integer >= 1")
    need(c.synflow_rounds >= 1, "synflow_rounds", "an integer >= 1")
    need(c.test_every >= 0, "test_every", "an integer >= 0")
    need(c.grasp_temperature > 0, "grasp_temperature", "a positive number")
