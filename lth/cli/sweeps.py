"""`python -m lth gates`, `prune-init` and `stability`: further analyses of an existing IMP run.

Each adds a sweep to a run (methods/<method>/), from the run's own θ0 and data order, resumable.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from ..core import devices, paths
from ..core.config import ConfigError
from ..core.gate_config import GateConfig
from ..core.init_config import METHODS, PAPER_LEVELS, InitConfig
from ..core.stability_config import StabilityConfig

RUN_ARG_HELP = "the IMP run to add the arms to: a run folder, a folder holding one run, or a run-id prefix"


def add_commands(sub, dataclass_flags, location_flags) -> None:
    gates = sub.add_parser("gates", help="learn masks by gradient descent on a run: gate or cs sweep, as further arms")
    _common(gates, location_flags)
    dataclass_flags(gates.add_argument_group("sweep (default: ../shared/PAPER.md's values)"), GateConfig)

    init = sub.add_parser("prune-init", help="prune a run's θ0 at initialization (SNIP, GraSP, SynFlow) to IMP's "
                                             "levels, with the sanity checks, as further arms")
    _common(init, location_flags)
    dataclass_flags(init.add_argument_group(f"sweep (the paper's LeNet levels: --levels {PAPER_LEVELS})"), InitConfig)

    stab = sub.add_parser("stability", help="instability analysis of a run: copies forked at iteration k with "
                                            "different data orders, the error on the straight line between them")
    _common(stab, location_flags)
    dataclass_flags(stab.add_argument_group("analysis"), StabilityConfig)


def _common(p: argparse.ArgumentParser, location_flags) -> None:
    p.add_argument("run", help=RUN_ARG_HELP)
    p.add_argument("--data-dir", type=Path, default=None, help="data sets (default $LTH_DATA_DIR or data/)")
    p.add_argument("--device", default="auto", choices=devices.CHOICES, help="where to train")
    p.add_argument("--download", action=argparse.BooleanOptionalAction, default=True,
                   help="let torchvision download a data set missing from --data-dir")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_cluster_flags(p)
    location_flags(p)


def add_cluster_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="train on a Ray cluster, trials side by side: auto (the cluster `ray start --head` began on "
                        "this machine), local (a one-machine cluster for this command only), or host:port")
    p.add_argument("--cluster-cpus", type=int, default=None, metavar="N",
                   help="CPUs each cluster task takes (default 1); on CPU workers, its training threads")


def cluster_options(args):
    """The --cluster flags, checked before any work; None without --cluster."""
    if args.cluster is None:
        if args.cluster_cpus is not None:
            raise ConfigError(f"--cluster-cpus={args.cluster_cpus} is not allowed without --cluster")
        return None
    from ..cluster import execute as cluster

    return cluster.check(args.cluster, 1 if args.cluster_cpus is None else args.cluster_cpus)


def compute(job, options, cluster_opts) -> Path:
    """A sweep (lth.tickets.records.SweepJob) computed here, or on the cluster when --cluster was given."""
    if cluster_opts is None:
        from ..tickets import records

        return records.run_sweep(job, options)
    from ..cluster import execute as cluster

    return cluster.run_sweep(job, options, cluster_opts)


def _given(args, cls) -> dict:
    return {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name) is not None}


def _options(args):
    from ..tickets import lottery

    return lottery.RunOptions(data_dir=paths.data_dir(args.data_dir), device=args.device, download=args.download,
                              progress=not args.quiet)


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
    cluster_opts = cluster_options(args)
    run_dir = results.resolve(args.run, paths.runs_dir(args.runs_dir))
    job = importlib.import_module(f"lth.tickets.{module}").job(run_dir, spec)
    folder = compute(job, _options(args), cluster_opts)
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
