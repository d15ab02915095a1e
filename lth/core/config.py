"""Hyperparameters: frozen dataclasses grouped by concern, their validation, and the run id.

Every field carries its help text (``metadata["help"]``); the CLI builds its
flags from them. A run is named by a hash of its canonical config: fields left
at their dataclass default do not enter the hash, so adding a field with a
default keeps every existing run id valid (tests pin a few ids). The presets
are in lth.core.presets.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from typing import Any

from . import catalog


class ConfigError(ValueError):
    """A config value outside what is allowed. The message names the flag."""


def _f(default: Any, help: str, choices: tuple | None = None, forms: dict[str, str] | None = None) -> Any:
    """A dataclass field with its help text (and allowed values) beside it, for the CLI's flags and checks; `forms`:
    prefixes (catalog.MODEL_FORMS, DATA_FORMS) that a value may also be written in."""
    return field(default=default, metadata={"help": help, "choices": choices, "forms": forms or {}})


DATASETS = tuple(catalog.DATASETS)
BATCH_NORM_MODELS = catalog.BATCH_NORM_MODELS  # lth.engine.deep_models builds these
MODELS = tuple(catalog.MODELS)


@dataclass(frozen=True)
class DataConfig:
    dataset: str = _f("mnist", "data set", DATASETS, catalog.DATA_FORMS)
    validation_size: int = _f(5000, "examples held out of the training set for validation")
    split_seed: int = _f(0, "seed of the train/validation split")
    synthetic_shape: str = _f("1x28x28", "CxHxW of the synthetic data set (dataset=synthetic only)")
    synthetic_train: int = _f(1200, "training examples of the synthetic set, validation included")
    synthetic_test: int = _f(400, "test examples of the synthetic set")
    input_scaling: str = _f("standardise", "how pixels reach the network: standardise ((x/255 - mean) / std per "
                                           "channel; MNIST's 0.1307 / 0.3081, as this project always has) or raw "
                                           "(x/255, as an independent replication of the paper feeds them)",
                            ("standardise", "raw"))


@dataclass(frozen=True)
class ModelConfig:
    model: str = _f("lenet_300_100", "architecture", MODELS, catalog.MODEL_FORMS)


@dataclass(frozen=True)
class TrainingConfig:
    lr: float = _f(1.2e-3, "learning rate (the peak one, with --warmup or --lr-drops)")
    optimizer: str = _f("adam", "adam, or sgd (with --momentum)", ("adam", "sgd"))
    momentum: float = _f(0.9, "SGD momentum (--optimizer sgd only)")
    weight_decay: float = _f(0.0, "L2 weight decay added to the gradient (pruned weights stay exactly 0)")
    lr_drops: str = _f("", "iterations at which the learning rate is multiplied by --lr-factor, comma-separated "
                           "and increasing, e.g. 20000,25000 (empty: a constant rate)")
    lr_factor: float = _f(0.1, "what each of --lr-drops multiplies the learning rate by")
    warmup: int = _f(0, "iterations over which the learning rate rises linearly to --lr (0: none); "
                        "iteration i trains at lr * (i+1)/warmup")
    augment: bool = _f(False, "augment each training batch: a random crop of the image padded by 4 pixels, and a "
                              "horizontal flip half the time (the paper's CIFAR-10 recipe for ResNet and VGG)")
    batch_size: int = _f(60, "examples per training iteration")
    iterations: int = _f(50_000, "training iterations per level")
    eval_every: int = _f(100, "iterations between validation/test evaluations")
    test_every: int = _f(0, "iterations between test-set evaluations, a multiple of --eval-every (0: at every "
                            "evaluation); test accuracy at early stop is exact either way: the weights of the lowest "
                            "validation loss are kept and tested once")
    train_eval_examples: int = _f(0, "training examples the final train accuracy is measured on: the first N of the "
                                     "(shuffled) training split; 0: all of it")
    data_order: str = _f("shared", "batch order of a trial's trainings: shared (every level and arm of a trial sees "
                                   "the same sequence of batches) or fresh (each level, arm and replicate its own)",
                         ("shared", "fresh"))

    @property
    def drop_iterations(self) -> list[int]:
        """--lr-drops as integers, in order."""
        return [int(d) for d in self.lr_drops.split(",")] if self.lr_drops else []


@dataclass(frozen=True)
class PruningConfig:
    strategy: str = _f("layerwise", "rank weights per layer or all together", ("layerwise", "global"))
    rate_conv: float = _f(0.1, "fraction of surviving conv weights pruned per level (layerwise)")
    rate_fc: float = _f(0.2, "fraction of surviving fully-connected weights pruned per level (layerwise)")
    rate_output: float = _f(0.1, "fraction of surviving output-layer weights pruned per level (layerwise)")
    rate_global: float = _f(0.2, "fraction of all surviving weights pruned per level (global)")
    global_layers: str = _f("all", "layers the global ranking covers: all, or conv (the main convolutions only: "
                                   "the paper leaves ResNet's 1x1 shortcuts and the output layer unpruned)",
                            ("all", "conv"))
    rewind_iteration: int = _f(0, "reset survivors to the weights of this iteration (0 = the initialisation)")
    slim_rate: float = _f(0.25, "network slimming (--slimming): fraction of the remaining prunable channels removed "
                                "per level, by one threshold on |batch-norm scale| over all of them")
    slim_l1: float = _f(1e-4, "network slimming (--slimming): λ of the L1 penalty on the prunable channels' "
                              "batch-norm scales, added to every slimming arm's training loss")


@dataclass(frozen=True)
class ExperimentConfig:
    levels: int = _f(20, "pruning levels after the dense level 0")
    trials: int = _f(1, "independent trials (own initialisation, data order and controls)")
    seed: int = _f(0, "base seed; every trial, arm and control derives its own from it")
    reinit: int = _f(1, "random-reinitialisation controls per trial and level")
    random_prune: int = _f(1, "random-pruning controls per trial and level")
    one_shot: bool = _f(True, "also train one-shot tickets pruned straight to each level's sparsity")
    slimming: bool = _f(False, "also find structured tickets by network slimming (batch-norm networks): channels "
                               "whose batch-norm scale is smallest are removed level by level, and the slimmed "
                               "network trains three ways: fine-tuned, rewound, freshly initialised")
    label: str = _f("", "a note every chart of the run shows, e.g. what a reduced protocol changed and why")


SECTIONS = {
    "data": DataConfig,
    "model": ModelConfig,
    "training": TrainingConfig,
    "pruning": PruningConfig,
    "experiment": ExperimentConfig,
}


@dataclass(frozen=True)
class Config:
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    pruning: PruningConfig = PruningConfig()
    experiment: ExperimentConfig = ExperimentConfig()

    def __post_init__(self):
        for section, cls in SECTIONS.items():
            value = getattr(self, section)
            if not isinstance(value, cls):
                raise ConfigError(f"config section {section!r} must be a {cls.__name__}, got {type(value).__name__}")
            _coerce(value)
        validate(self)

    @property
    def run_id(self) -> str:
        """The run's name: 12 hex digits of the SHA-256 of its canonical config."""
        blob = json.dumps(canonical(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def to_dict(self) -> dict:
        """Every field of every section, defaults included (as config.json stores it)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        """Inverse of to_dict; unknown sections or fields are an error, missing ones default."""
        if not isinstance(d, dict):
            raise ConfigError(f"a config must be a mapping of sections, got {type(d).__name__}")
        sections = {}
        for name, value in d.items():
            if not isinstance(value, dict):
                raise ConfigError(f"config section {name!r} must be a mapping of fields, got {type(value).__name__}")
            if name not in SECTIONS:
                raise ConfigError(f"unknown config section {name!r}; allowed: {', '.join(SECTIONS)}")
            allowed = {f.name for f in fields(SECTIONS[name])}
            unknown = set(value) - allowed
            if unknown:
                raise ConfigError(f"unknown field(s) {sorted(unknown)} in section {name!r}")
            sections[name] = SECTIONS[name](**value)
        return cls(**sections)

    def override(self, **flat: Any) -> "Config":
        """Replace fields by their (section-unique) names, e.g. override(levels=3, lr=1e-3)."""
        by_section: dict[str, dict] = {}
        for name, value in flat.items():
            section = FIELD_SECTION.get(name)
            if section is None:
                raise ConfigError(f"unknown config field {name!r}")
            by_section.setdefault(section, {})[name] = value
        return replace(self, **{s: replace(getattr(self, s), **v) for s, v in by_section.items()})


# Every field name is unique across sections, so CLI flags and overrides can be flat.
FIELD_SECTION = {f.name: s for s, cls in SECTIONS.items() for f in fields(cls)}
assert len(FIELD_SECTION) == sum(len(fields(c)) for c in SECTIONS.values()), "field names must be unique"


_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def _coerce(section) -> None:
    """Store every field as its declared type, so equal configs hash equal (lr=1 and lr=1.0, numpy ints)."""
    for f in fields(section):
        kind = _TYPES[f.type]
        value = getattr(section, f.name)
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)
        elif kind is int and not isinstance(value, bool) and hasattr(value, "__index__"):
            value = int(value)
        elif kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        elif kind is bool and type(value).__name__ == "bool_":
            value = bool(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{flag(f.name)}={value!r} is not allowed: a value of type {f.type}")
        object.__setattr__(section, f.name, value)


def canonical(config: Config) -> dict:
    """The config with every field left at its dataclass default removed."""
    out = {}
    for section, cls in SECTIONS.items():
        value = getattr(config, section)
        default = cls()
        changed = [f.name for f in fields(cls) if getattr(value, f.name) != getattr(default, f.name)]
        diff = {name: getattr(value, name) for name in changed}
        if diff:
            out[section] = diff
    return out


def flag(name: str) -> str:
    """A field's command-line flag: rewind_iteration -> --rewind-iteration."""
    return "--" + name.replace("_", "-")


def validate(c: Config) -> None:
    """ConfigError naming the flag of the first value out of bounds."""
    def need(ok: bool, name: str, allowed: str) -> None:
        if not ok:
            value = getattr(getattr(c, FIELD_SECTION[name]), name)
            raise ConfigError(f"{flag(name)}={value!r} is not allowed: {allowed}")

    for section, cls in SECTIONS.items():
        for f in fields(cls):
            choices, forms = f.metadata.get("choices"), f.metadata.get("forms")
            if choices:
                value = getattr(getattr(c, section), f.name)
                need(value in choices or catalog.form(value, forms) is not None, f.name,
                     f"choose one of {', '.join(choices)}" + "".join(f", or {text}" for text in forms.values()))
    for name in ("rate_conv", "rate_fc", "rate_output", "rate_global"):
        need(0.0 <= getattr(c.pruning, name) < 1.0, name, "a fraction in [0, 1)")
    need(0.0 < c.pruning.slim_rate < 1.0, "slim_rate", "a fraction in (0, 1)")
    need(c.pruning.slim_l1 >= 0, "slim_l1", "a number >= 0")
    need(not c.experiment.slimming or c.model.model in BATCH_NORM_MODELS, "slimming",
         f"network slimming needs a batch-norm network: --model one of {', '.join(BATCH_NORM_MODELS)}")
    need(c.experiment.levels >= 0, "levels", "an integer >= 0")
    need(c.experiment.trials >= 1, "trials", "an integer >= 1")
    need(c.experiment.reinit >= 0, "reinit", "an integer >= 0")
    need(c.experiment.random_prune >= 0, "random_prune", "an integer >= 0")
    need(c.training.iterations >= 1, "iterations", "an integer >= 1")
    need(c.training.batch_size >= 1, "batch_size", "an integer >= 1")
    need(c.training.eval_every >= 1, "eval_every", "an integer >= 1")
    need(c.training.test_every >= 0 and c.training.test_every % c.training.eval_every == 0, "test_every",
         "0, or a multiple of --eval-every")
    need(c.training.lr > 0, "lr", "a positive number")
    need(0.0 <= c.training.momentum < 1.0, "momentum", "a number in [0, 1)")
    need(c.training.weight_decay >= 0, "weight_decay", "a number >= 0")
    need(c.training.lr_factor > 0, "lr_factor", "a positive number")
    need(0 <= c.training.warmup < c.training.iterations, "warmup", "0 <= warmup < --iterations")
    drops = c.training.lr_drops.split(",") if c.training.lr_drops else []
    need(all(d.isdigit() for d in drops) and c.training.drop_iterations == sorted(set(c.training.drop_iterations))
         and all(0 < d < c.training.iterations for d in c.training.drop_iterations), "lr_drops",
         "increasing iterations between 0 and --iterations, comma-separated, e.g. 20000,25000")
    need(c.training.train_eval_examples >= 0, "train_eval_examples", "an integer >= 0 (0: the whole training split)")
    need(0 <= c.pruning.rewind_iteration < c.training.iterations, "rewind_iteration", "0 <= k < --iterations")
    need(c.data.validation_size >= 1, "validation_size", "an integer >= 1")
    shape = c.data.synthetic_shape.split("x")
    need(len(shape) == 3 and all(s.isdigit() and int(s) > 0 for s in shape), "synthetic_shape", "CxHxW, e.g. 1x28x28")
    need(c.data.synthetic_train > c.data.validation_size or c.data.dataset != "synthetic", "synthetic_train",
         "more examples than --validation-size")
    need(c.data.synthetic_test >= 1, "synthetic_test", "an integer >= 1")


def __getattr__(name: str):
    """`preset` and `PRESETS` live in presets.py (which imports this module); they stay importable from here."""
    if name in ("preset", "PRESETS"):
        from . import presets

        return getattr(presets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
