"""A method's sweep stored under its IMP run (methods/<method>/method.json): a gate sweep, a
pruning-at-initialization sweep or an instability analysis.

A sweep's kind ("gates", "init" or "stability") is the key its settings are
stored under in method.json; a catalog method's `sweep_kind` names the kind
that runs it. Torch-free: the app reads it. lth.tickets.gate_search,
lth.tickets.init_search and lth.tickets.stability compute them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from . import paths, store
from .config import Config, ConfigError
from .gate_config import GateConfig
from .init_config import InitConfig
from .stability_config import StabilityConfig

Spec = GateConfig | InitConfig | StabilityConfig
SETTINGS = {"gates": GateConfig, "init": InitConfig, "stability": StabilityConfig}  # a sweep's kind -> its settings
# A sweep's kind -> its family in Run.methods(): which page lists it (gate sweeps' arms are found by gradient descent)
FAMILIES = {"gates": "gradient", "init": "init", "stability": "stability"}


def key_of(spec: Spec) -> str:
    """A sweep's kind: the key its settings are stored under in method.json."""
    return next(kind for kind, cls in SETTINGS.items() if isinstance(spec, cls))


def read(mdir: Path) -> Spec:
    """The sweep's settings; ConfigError naming the file when it is damaged."""
    try:
        blob = store.read_json(paths.method_file(mdir))
        kind = next(k for k in SETTINGS if k in blob)
        return SETTINGS[kind].from_dict(blob[kind])
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as err:
        raise ConfigError(f"{paths.method_file(mdir)} is damaged ({err or 'no settings in it'})") from None


def create(run_dir: Path, spec: Spec) -> Path:
    """The method's folder, its settings written; settings differing from a sweep already there are refused once
    it has results, but for the number of trials: each trial trains alone, so a sweep can grow by trials (or stop
    short)."""
    mdir = paths.method_dir(run_dir, spec.method)
    saved = None
    if paths.method_file(mdir).exists():
        saved = read(mdir)
        same = type(saved) is type(spec) and dataclasses.replace(saved, trials=spec.trials) == spec
        if not same and store.finished_units(mdir):
            if type(saved) is not type(spec):
                diff = f"a {key_of(saved)} sweep's settings"
            else:
                changed = [f.name for f in dataclasses.fields(spec) if getattr(saved, f.name) != getattr(spec, f.name)]
                diff = ", ".join(f"{name}={getattr(saved, name)!r}" for name in changed)
            raise ConfigError(f"{mdir} already holds a {spec.method} sweep with {diff}; "
                              f"give the same settings to resume it, or delete that folder to start another")
    if saved != spec:
        blob = {"method_id": spec.method_id, key_of(spec): dataclasses.asdict(spec)}
        store.write_json(paths.method_file(mdir), blob)
        store.write_status(mdir, state="pending")
    return mdir


def units_of(spec: Spec, config: Config) -> list:
    """What a sweep's points are, in order (point p is the (p - 1)th): λ or s0 values, IMP levels, or forks."""
    if isinstance(spec, GateConfig):
        return spec.values
    if isinstance(spec, InitConfig):
        return spec.points(config.experiment.levels)
    return [fork.label for fork in spec.forks(config)]
