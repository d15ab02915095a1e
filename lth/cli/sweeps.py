"""`python -m lth gates`, `prune-init` and `stability`: further analyses of an existing IMP run.

Each adds a sweep to a run (methods/<method>/), from the run's own θ0 and data order, resumable.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from ..core import paths
from ..core.config import ConfigError
from ..core.gate_config import GateConfig
from ..core.init_config import METHODS, PAPER_LEVELS, InitConfig
from ..core.stability_config import StabilityConfig
from . import flags


def add_commands(sub) -> None:
    gates = sub.add_parser("gates", help="learn masks by gradient descent on a run: gate or cs sweep, as further arms")
    _common(gates)
    flags.add_dataclass_flags(gates.add_argument_group("sweep (default: ../shared/PAPER.md's values)"), GateConfig)

    init = sub.add_parser("prune-init", help="prune a run's θ0 at initialization (SNIP, GraSP, SynFlow) to IMP's "
                                             "levels, with the sanity checks, as further arms")
    _common(init)
    section = init.add_argument_group(f"sweep (the paper's LeNet levels: --levels {PAPER_LEVELS})")
    flags.add_dataclass_flags(section, InitConfig)

    stab = sub.add_parser("stability", help="instability analysis of a run: copies forked at iteration k with "
                                            "different data orders, the error on the straight line between them")
    _common(stab)
    flags.add_dataclass_flags(stab.add_argument_group("analysis"), StabilityConfig)


def _common(p: argparse.ArgumentParser) -> None:
    flags.add_run_argument(p, "the IMP run to add the arms to")
    flags.add_compute_flags(p)
    flags.add_cluster_flags(p)
    flags.add_location_flags(p)


def compute(job, options, cluster_opts) -> Path:
    """A sweep (lth.tickets.execution.SweepJob) computed here, or on the cluster when --cluster was given."""
    if cluster_opts is None:
        from ..tickets import execution

        return execution.run_sweep(job, options)
    from ..cluster import execute as cluster

    return cluster.run_sweep(job, options, cluster_opts)


def _given(args, cls) -> dict:
    return {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name) is not None}


def init_configs(methods: str, levels: str, config) -> list[InitConfig]:
    """`lth run --prune-init`: one sweep per method on every trial of the run, checked before the run starts."""
    if not methods.strip():
        if levels:
            raise ConfigError(f"--prune-init-levels={levels!r} is not allowed without --prune-init")
        return []
    names = [m.strip() for m in methods.split(",")]
    bad = [m for m in names if m not in METHODS]
    if bad or len(set(names)) != len(names):
        raise ConfigError(f"--prune-init={methods!r} is not allowed: distinct methods among {', '.join(METHODS)}")
    out = []
    for m in names:
        try:
            icfg = InitConfig(method=m, levels=levels, trials=config.experiment.trials)
            icfg.points(config.experiment.levels)
        except ConfigError as err:
            raise ConfigError(str(err).replace("--levels=", "--prune-init-levels=")) from None
        out.append(icfg)
    return out


def _sweep(args, cls, module: str, done) -> int:
    """Build the sweep's settings from the flags, resolve the run, compute (or resume) it, say where it is."""
    import importlib

    from ..runs import results

    spec = cls(**_given(args, cls))
    cluster_opts = flags.cluster_options(args)
    run_dir = results.resolve(args.run, paths.runs_dir(args.runs_dir))
    job = importlib.import_module(f"lth.tickets.{module}").job(run_dir, spec)
    folder = compute(job, flags.run_options(args), cluster_opts)
    print(f"{done(spec)} finished: {folder}")
    return 0


def cmd_gates(args) -> int:
    return _sweep(args, GateConfig, "gate_search",
                  lambda g: f"{g.method} sweep {', '.join(f'{v:g}' for v in g.values)}")


def cmd_prune_init(args) -> int:
    return _sweep(args, InitConfig, "init_search", lambda c: f"{c.method} at initialization, arms {', '.join(c.arms)},")


def cmd_stability(args) -> int:
    return _sweep(args, StabilityConfig, "stability", lambda c: "stability analysis")


HANDLERS = {"gates": cmd_gates, "prune-init": cmd_prune_init, "stability": cmd_stability}
