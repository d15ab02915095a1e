"""The arm registry: every kind of network a run trains or reports, declared once.

An arm is a way of getting a sparse network at a level (or a sweep point):
IMP's ticket, its controls, the masks learned by gradient descent. Each is
declared here with everything the rest of the code asks about it: its label
and colour on every chart, its kind, whether its curve starts at the dense
network, which weights it starts from, how its mask is made, and (for the arms
an IMP run trains) how many control copies of it a config asks for. Every other module
asks this registry; adding an arm is one `register` call plus its mask
function (`lth.tickets.masks`).

Torch-free, so the app and the store can ask it without loading the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .config import Config, ExperimentConfig

KINDS = ("imp", "control", "gradient", "strong", "init", "structured")
GROUPS = {  # how the Accuracy page groups arms so a chart stays readable
    "IMP and its controls": ("imp", "control"),
    "Structured (network slimming)": ("structured",),
    "Pruned at initialization": ("init",),
    "Found by gradient descent": ("gradient", "strong"),
}


@dataclass(frozen=True)
class Arm:
    name: str
    label: str
    colour: str  # Okabe-Ito where there is one: colour-blind safe, and visible on a projector
    kind: str  # imp: IMP's ticket; control: a control of IMP's; gradient: a learned mask, retrained; strong: never
    # trained; init: pruned at initialization (SNIP, GraSP, SynFlow) and their sanity checks; structured: whole
    # channels removed (network slimming)
    mask: str  # how its mask is made: a function of lth.tickets.masks; "learned" (a gate method's); "scored" or
    # "shuffled" (a pruning-at-init method's, lth.tickets.init_search)
    init: str = "rewind"  # which weights it trains from: "rewind" (the trial's θ0 or θk), "fresh" (its own draw) or
    # "finetune" (its own trained weights of the level before)
    from_dense: bool = False  # its curve starts at another arm's level 0 (`dense_arm`'s), which it does not train
    dense_arm: str = "ticket"
    stores_mask: bool = True  # False: its mask is another arm's (reinit uses the ticket's) and is not stored twice
    copies: Callable[[ExperimentConfig], int] | None = None  # its control copies per trial and level in an IMP run
    # (one for an arm drawn once); None: a method's arm
    method: str = ""  # the gradient method that learns it (lth gates --method)
    marker: str = "circle"
    dash: str = "solid"  # line style on the sparsity charts (a run comparison's own style wins)

    @property
    def trained(self) -> bool:
        """Trained with the run's protocol: has an early-stop iteration."""
        return self.kind != "strong"


REGISTRY: dict[str, Arm] = {}


def register(arm: Arm) -> Arm:
    if arm.kind not in KINDS:
        raise ValueError(f"arm {arm.name!r}: kind {arm.kind!r} is not one of {', '.join(KINDS)}")
    REGISTRY[arm.name] = arm
    return arm


def get(name: str) -> Arm | None:
    return REGISTRY.get(name)


def in_run(config: Config) -> tuple[str, ...]:
    """The arms an IMP run of `config` trains, in registry order."""
    return tuple(a.name for a in REGISTRY.values() if a.copies is not None and a.copies(config.experiment) > 0)


def of_kind(*kinds: str) -> tuple[str, ...]:
    return tuple(a.name for a in REGISTRY.values() if a.kind in kinds)


def group(name: str) -> str:
    """The GROUPS entry an arm belongs to (an unknown arm: IMP's, as old runs' arms are)."""
    arm = REGISTRY.get(name)
    kind = arm.kind if arm else "imp"
    return next(g for g, kinds in GROUPS.items() if kind in kinds)


def dash(name: str) -> str:
    arm = REGISTRY.get(name)
    return arm.dash if arm else "solid"


def of_method(method: str) -> tuple[Arm, ...]:
    return tuple(a for a in REGISTRY.values() if a.method == method)


def label(name: str) -> str:
    arm = REGISTRY.get(name)
    return arm.label if arm else name.replace("_", " ").capitalize()


EXTRA_COLOURS = ["#009E73", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def colour(name: str) -> str:
    arm = REGISTRY.get(name)
    return arm.colour if arm else EXTRA_COLOURS[sum(map(ord, name)) % len(EXTRA_COLOURS)]


def marker(name: str) -> str:
    arm = REGISTRY.get(name)
    return arm.marker if arm else "circle"


def order(name: str) -> tuple:
    """Sort key: registry order, unknown arms after, by name."""
    names = list(REGISTRY)
    return (names.index(name), name) if name in REGISTRY else (len(names), name)


def from_dense(name: str) -> bool:
    """Its curve starts at another arm's dense network (IMP's controls start at the ticket's): it has no level 0."""
    arm = REGISTRY.get(name)
    return arm is not None and arm.from_dense


def dense_arm(name: str) -> str:
    """The arm whose level 0 starts this arm's curve (an arm that trains its own level 0: itself)."""
    arm = REGISTRY.get(name)
    return arm.dense_arm if arm is not None and arm.from_dense else name


def has_own_mask(name: str) -> bool:
    """Its mask is stored (reinit's is the ticket's, not stored twice)."""
    arm = REGISTRY.get(name)
    return arm is None or arm.stores_mask


def is_imp_family(name: str) -> bool:
    """Arms an IMP run trains: their levels are pruning rounds (a method's points are sweep points)."""
    arm = REGISTRY.get(name)
    return arm is None or arm.kind in ("imp", "control", "structured")


# --- IMP and its controls ------------------------------------------------------------
register(Arm("ticket", "Winning ticket (IMP)", "#0072B2", "imp", mask="ticket", copies=lambda e: 1))
register(Arm("reinit", "Random reinitialisation", "#D55E00", "control", mask="ticket", init="fresh",
             from_dense=True, stores_mask=False, copies=lambda e: e.reinit))
register(Arm("random_prune", "Random pruning", "#7F7F7F", "control", mask="random", from_dense=True,
             copies=lambda e: e.random_prune))
register(Arm("one_shot", "One-shot pruning", "#CC79A7", "control", mask="one_shot", from_dense=True,
             copies=lambda e: int(e.one_shot)))

# --- structured tickets: network slimming's channels, trained three ways (one mask, the fine-tuned chain's) ----
# Each trains with the L1 penalty on its batch-norm scales, so the three differ only in where they start.
def slimming(e: ExperimentConfig) -> int:
    """One of each slimming arm in a run with --slimming, none otherwise."""
    return int(e.slimming)


register(Arm("slim_finetune", "Slimmed, fine-tuned (network slimming)", "#117733", "structured", mask="slimmed",
             init="finetune", copies=slimming, marker="square"))
register(Arm("slim_rewind", "Slimmed, rewound (structured ticket)", "#44AA99", "structured", mask="slimmed",
             from_dense=True, dense_arm="slim_finetune", stores_mask=False, copies=slimming, marker="square",
             dash="dash"))
register(Arm("slim_fresh", "Slimmed, fresh init (structure only)", "#88CCEE", "structured", mask="slimmed",
             init="fresh", from_dense=True, dense_arm="slim_finetune", stores_mask=False, copies=slimming,
             marker="square", dash="dot"))

# --- masks learned by gradient descent (lth gates): one hue per method, strong darker with a diamond ----
register(Arm("gaussian_strong", "Gaussian gates, strong (θ₀ frozen)", "#005C43", "strong", mask="learned",
             method="gaussian", marker="diamond"))
register(Arm("gaussian_weak", "Gaussian gates, weak (retrained)", "#009E73", "gradient", mask="learned",
             method="gaussian"))
register(Arm("hard_concrete_strong", "Hard-concrete gates, strong (θ₀ frozen)", "#9A5B00", "strong", mask="learned",
             method="hard_concrete", marker="diamond"))
register(Arm("hard_concrete_weak", "Hard-concrete gates, weak (retrained)", "#E69F00", "gradient", mask="learned",
             method="hard_concrete"))
register(Arm("cs", "Continuous sparsification (retrained)", "#56B4E9", "gradient", mask="learned", method="cs"))

# --- pruned at initialization (lth prune-init), each with the two sanity checks that test it -------------
# Paul Tol's muted palette (colour-blind safe): one hue per method; the checks share it, dashed or dotted.
for method, name, hue in (("snip", "SNIP", "#332288"), ("grasp", "GraSP", "#999933"),
                          ("synflow", "SynFlow", "#882255")):
    register(Arm(method, f"{name} (pruned at init)", hue, "init", mask="scored", method=method, marker="square"))
    register(Arm(f"{method}_shuffled", f"{name}, mask shuffled per layer", hue, "init", mask="shuffled",
                 method=method, marker="x", dash="dash"))
    register(Arm(f"{method}_reinit", f"{name}, weights re-drawn", hue, "init", mask="scored", init="fresh",
                 method=method, marker="triangle-up", dash="dot"))
