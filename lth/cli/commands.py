"""`python -m lth ...`: run, ls, show, export, check-paper (and the commands lth.cli.sweeps and lth.cli.tools add).

The `run` flags are generated from the config dataclasses, so every field is
overridable and its help text is the field's own. argparse rather than a
dataclass-CLI library: presets are applied first and only the flags a user
gives override them, and every bad value must end in one plain line and exit 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import fields
from pathlib import Path

import pandas as pd

from ..core import devices, paths
from ..core.config import PRESETS, SECTIONS, Config, ConfigError, flag, preset
from ..engine.data import DataError
from . import sweeps as cli_sweeps
from . import tools

EXIT_BAD_INPUT = 2
RUN_HELP = "a run folder, a folder holding one run (pretrained_runs/lenet-mnist), or a run-id prefix (default: the latest)"


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(EXIT_BAD_INPUT)


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    for section, cls in SECTIONS.items():
        _add_dataclass_flags(p.add_argument_group(f"{section} overrides (default: the preset's value)"), cls)


def _add_dataclass_flags(group, cls) -> None:
    for f in fields(cls):
        kwargs = {"default": None, "dest": f.name, "help": f.metadata["help"]}
        if f.metadata.get("choices"):
            kwargs["choices"] = f.metadata["choices"]
        if f.type in ("bool", bool):
            group.add_argument(flag(f.name), action=argparse.BooleanOptionalAction, **kwargs)
        else:
            kind = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            group.add_argument(flag(f.name), type=kind, metavar=kind.__name__.upper(), **kwargs)


def _add_location_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs-dir", type=Path, default=None, help="where runs live (default $LTH_RUNS_DIR or runs/)")


def build_parser() -> Parser:
    parser = Parser(prog="lth", description="Lottery-ticket experiments: iterative magnitude pruning and its controls.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    run = sub.add_parser("run", help="run (or resume, or open) an experiment")
    run.add_argument("--preset", default="lenet-mnist", help=f"starting config: {', '.join(PRESETS)}")
    run.add_argument("--data-dir", type=Path, default=None, help="data sets (default $LTH_DATA_DIR or data/)")
    run.add_argument("--device", default="auto", choices=devices.CHOICES, help="where to train")
    run.add_argument("--download", action=argparse.BooleanOptionalAction, default=True,
                     help="let torchvision download a data set missing from --data-dir")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--trials-together", type=int, default=None, metavar="N",
                     help="trials that go through the levels together (default: as many as fill one training stack); "
                          "1 finishes the first trial's whole sparsity curve soonest")
    run.add_argument("--prune-init", default="", metavar="METHODS",
                     help="then prune θ0 at initialization with these methods (comma-separated: snip,grasp,synflow), "
                          "with their sanity checks, on every trial: as `lth prune-init` would")
    run.add_argument("--prune-init-levels", default="", metavar="LEVELS",
                     help="the IMP levels --prune-init prunes to (default: every level)")
    cli_sweeps.add_cluster_flags(run)
    _add_location_flags(run)
    _add_config_flags(run)

    ls = sub.add_parser("ls", help="list the runs in the runs directory")
    _add_location_flags(ls)

    show = sub.add_parser("show", help="per-level table of a run (default: the latest)")
    show.add_argument("run", nargs="?", help=RUN_HELP)
    show.add_argument("--against", nargs="+", default=[], metavar="RUN",
                      help="also compare the run, level by level on the units all have, with these runs (same ladder)")
    show.add_argument("--metric", default="test_acc_at_early_stop",
                      choices=("test_acc_at_early_stop", "test_acc_final", "train_acc_final"))
    _add_location_flags(show)

    export = sub.add_parser("export", help="write every chart of a run as PNG, SVG, HTML and CSV")
    export.add_argument("run", nargs="?", help=RUN_HELP)
    export.add_argument("--out", type=Path, required=True, help="folder to write into")
    export.add_argument("--formats", default="png,svg,html,csv", help="comma-separated subset of png,svg,html,csv")
    _add_location_flags(export)

    check = sub.add_parser("check-paper", help="the paper's claims vs a run, claim by claim (LeNet-300-100's; Section 5's for ResNet/VGG)")
    check.add_argument("run", nargs="?", help=RUN_HELP)
    _add_location_flags(check)

    cli_sweeps.add_commands(sub, _add_dataclass_flags, _add_location_flags)
    tools.add_commands(sub)
    return parser


def cmd_run(args) -> int:
    from ..tickets import lottery  # torch import deferred: `lth ls` stays fast

    config = run_config(args)
    options = lottery.RunOptions(data_dir=paths.data_dir(args.data_dir), device=args.device,
                                 download=args.download, progress=not args.quiet,
                                 trials_together=args.trials_together)
    if args.trials_together is not None and args.trials_together < 1:
        raise ConfigError(f"--trials-together={args.trials_together} is not allowed: an integer >= 1")
    after = cli_sweeps.init_configs(args.prune_init, args.prune_init_levels, config)  # refused before any training
    cluster_opts = cli_sweeps.cluster_options(args)
    if cluster_opts is None:
        run_dir = lottery.run(config, paths.runs_dir(args.runs_dir), options)
    else:
        from ..cluster import execute as cluster

        run_dir = cluster.run(config, paths.runs_dir(args.runs_dir), options, cluster_opts)
    print(f"run {config.run_id} finished: {run_dir}")
    if after:
        from ..tickets import init_search

        for icfg in after:
            folder = cli_sweeps.compute(init_search.job(run_dir, icfg), options, cluster_opts)
            print(f"{icfg.method} at initialization finished: {folder}")
    return 0


def cmd_ls(args) -> int:
    from ..core import store

    root = paths.runs_dir(args.runs_dir)
    table = store.index(root)
    if table.empty:
        print(f"no runs in {root}")
        return 0
    cols = [c for c in ("run_id", "state", "model", "dataset", "levels_done", "levels", "trials_done", "trials", "iterations",
                        "damaged") if c in table]
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(table[cols].fillna("").to_string(index=False))
    return 0


def cmd_show(args) -> int:
    from ..runs import barriers, results, tables

    run = results.Run(results.resolve(args.run, paths.runs_dir(args.runs_dir)))
    print(run.label)
    e = run.config.experiment
    print(f"state: {run.status.get('state')}, units done: {len(run.units)}/{(e.levels + 1) * e.trials} "
          f"(levels x trials); means over the trials finished at each level")
    table = tables.level_table(run, args.metric)
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        print(table.to_string(index=False) if not table.empty else "no finished level yet")
        gates = tables.gate_table(run, args.metric)
        if not gates.empty:
            print("\nmasks learned by gradient descent (point: place in the sweep; imp_*: IMP's ticket at the closest "
                  "sparsity; model_iterations and seconds per trial, to find and train the ticket)")
            print(gates.round(2).to_string(index=False))
        forks = barriers.barrier_table(barriers.summary(run))
        if not forks.empty:
            print("\nstability: copies forked at iteration k with different data orders; barrier = highest error on "
                  "the line between two copies minus the mean of its ends (points), means over pairs and trials")
            print(forks.round(2).to_string(index=False))
        costs = tables.structure_table(run, args.metric)
        if not costs.empty:
            from ..tickets import records

            print("\nwhat each network costs (channels: prunable channels kept; params: the slimmed networks' with their "
                  "channels gone, the ticket's non-zero ones; MFLOPs per example; ms: one forward pass of "
                  f"{records.INFERENCE_BATCH} test images, measured beside the dense network's)")
            print(costs.round(2).to_string(index=False))
        init = tables.init_table(run, args.metric)
        if not init.empty:
            print("\npruned at initialization, with the sanity checks (accuracy %, means over the sweeps' trials; "
                  "imp: IMP's ticket, its checks are random pruning and random reinitialisation)")
            print(init.round(2).to_string(index=False))
        if args.against:
            others = [results.Run(results.resolve(r, paths.runs_dir(args.runs_dir))) for r in args.against]
            names = {f"run{i}": r for i, r in enumerate([run, *others])}
            print("\ncompared on the (level, trial) units every run has: " +
                  "; ".join(f"{n} = {r.path} ({r.label or r.run_id})" for n, r in names.items()) +
                  "\n(es-iter: the ticket's early-stop iteration; ticket-reinit: its lead over random reinit, points)")
            table = tables.comparison(names, args.metric)
            print(table.to_string(index=False, na_rep="") if not table.empty else "no (level, trial) unit in common")
    return 0


def cmd_export(args) -> int:
    from ..report import export
    from ..runs import results

    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    bad = [f for f in formats if f not in export.FORMATS]
    if bad or not formats:
        raise ConfigError(f"--formats={args.formats!r} is not allowed: a comma-separated subset of {','.join(export.FORMATS)}")
    if {"png", "svg"} & set(formats):
        ok, why = export.static_export()
        if not ok:
            raise ConfigError(f"{why}; or pass --formats html,csv")
    run = results.Run(results.resolve(args.run, paths.runs_dir(args.runs_dir)))
    written = export.export_run(run, args.out, formats)
    print(f"wrote {len(written)} files to {args.out}")
    return 0


def cmd_check_paper(args) -> int:
    from ..report import paper_deep
    from ..runs import results, tables

    run = results.Run(results.resolve(args.run, paths.runs_dir(args.runs_dir)))
    print(run.label)
    table, note = paper_deep.check_run(run.config, tables.imp_rows(run.summary()))
    if note:
        print(f"note: {note}")
    for i, row in table.iterrows():
        print(f"\n{i + 1:>2}. {row.claim:<66} {row.verdict.upper()}")
        print(f"    paper: {row.paper}")
        print(f"    this run: {row.this_run} ({row.range})")
        print(f"    agrees if: {row.tolerance} ({row.why})")
    counts = table.verdict.value_counts()
    print()
    print(" ".join(f"{k}: {v}" for k, v in counts.items()))
    return 0


# Folder flags: (flag, environment variable that stands in for it, how the command resolves it).
FOLDER_FLAGS = {
    "runs_dir": ("--runs-dir", "LTH_RUNS_DIR", paths.runs_dir),
    "data_dir": ("--data-dir", "LTH_DATA_DIR", paths.data_dir),
    "out": ("--out", None, Path),
}


def check_folders(args) -> None:
    """Refuse a folder flag that names a file before any command writes, so no traceback and nothing half-made."""
    for dest, (option, env, resolve) in FOLDER_FLAGS.items():
        if not hasattr(args, dest):
            continue
        given, path = getattr(args, dest), resolve(getattr(args, dest))
        # The nearest part of the path that exists must be a folder: the rest can be created under it.
        culprit = next((p for p in (path, *path.parents) if p.exists() or p.is_symlink()), None)
        if culprit is None or culprit.is_dir():
            continue
        if given is not None:
            where = f"{option}={path}"
        elif env and os.environ.get(env):
            where = f"${env}={path}"
        else:
            where = f"{option} (default {path})"
        kind = "a file" if culprit.is_file() else "a link to nothing" if not culprit.exists() else "not a folder"
        raise ConfigError(f"{where} is not allowed: a folder ({culprit} is {kind})")


def run_config(args) -> Config:
    """The config `lth run` builds from its flags: the preset, then only the fields the user gave."""
    overrides = {name: getattr(args, name) for name in _config_field_names() if getattr(args, name) is not None}
    return preset(args.preset).override(**overrides)


def _config_field_names() -> list[str]:
    return [f.name for cls in SECTIONS.values() for f in fields(cls)]


HANDLERS = {"run": cmd_run, **cli_sweeps.HANDLERS, "ls": cmd_ls, "show": cmd_show, "export": cmd_export,
            "check-paper": cmd_check_paper, **tools.HANDLERS}


def main(argv: list[str] | None = None) -> int:
    from ..core.store import RunBusy
    from ..engine.train import Cancelled, Diverged

    args = build_parser().parse_args(argv)
    chatty = args.command in ("run", *cli_sweeps.HANDLERS) and not args.quiet
    logging.basicConfig(level=logging.INFO if chatty else logging.WARNING, format="%(message)s")
    try:
        check_folders(args)
        return HANDLERS[args.command](args)
    except (ConfigError, DataError) as err:
        sys.stderr.write(f"lth {args.command}: error: {err}\n")
        return EXIT_BAD_INPUT
    except Diverged as err:
        sys.stderr.write(f"lth {args.command}: run failed: {err}\n")
        return 1
    except Cancelled:
        sys.stderr.write(f"lth {args.command}: cancelled; run the same command again to resume\n")
        return 130
    except RunBusy as err:
        sys.stderr.write(f"lth {args.command}: {err}\n")
        return 1
