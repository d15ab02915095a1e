"""The lesson: the paper's argument as steps on the shipped runs, each a few sentences, one question asked before
its chart is shown, and a link to the page that goes deeper. The page (views/lesson.py) walks STEPS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from lesson import common, inside, lenet, limits


@dataclass(frozen=True)
class Step:
    title: str
    draw: Callable[[common.Panes], None]


STEPS = [
    Step("A dense network learns", lenet.dense),
    Step("Prune it, no retraining", lenet.prune),
    Step("Retrain: θ0 or fresh weights?", lenet.retrain),
    Step("Repeat: iterative pruning", lenet.repeat),
    Step("Tickets learn faster", inside.faster),
    Step("The controls", inside.controls),
    Step("What the ticket keeps", inside.masks),
    Step("Deeper nets: stability", limits.stability),
    Step("Does a ticket run faster?", limits.speed),
]
