"""`python -m lth run`, `ls`, `show`, `export` and `check-paper`: an IMP experiment run, and runs read back."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..core import paths
from ..core.config import PRESETS, ConfigError
from . import flags, sweeps


def add_commands(sub) -> None:
    run = sub.add_parser("run", help="run (or resume, or open) an experiment")
    run.add_argument("--preset", default="lenet-mnist", help=f"starting config: {', '.join(PRESETS)}")
    flags.add_compute_flags(run)
    run.add_argument("--trials-together", type=int, default=None, metavar="N",
                     help="trials that go through the levels together (default: as many as fill one training stack); "
                          "1 finishes the first trial's whole sparsity curve soonest")
    run.add_argument("--prune-init", default="", metavar="METHODS",
                     help="then prune θ0 at initialization with these methods (comma-separated: snip,grasp,synflow), "
                          "with their sanity checks, on every trial: as `lth prune-init` would")
    run.add_argument("--prune-init-levels", default="", metavar="LEVELS",
                     help="the IMP levels --prune-init prunes to (default: every level)")
    flags.add_cluster_flags(run)
    flags.add_location_flags(run)
    flags.add_config_flags(run)

    ls = sub.add_parser("ls", help="list the runs in the runs directory")
    flags.add_location_flags(ls)

    show = sub.add_parser("show", help="per-level table of a run (default: the latest)")
    flags.add_run_argument(show, latest=True)
    show.add_argument("--against", nargs="+", default=[], metavar="RUN",
                      help="also compare the run, level by level on the units all have, with these runs (same ladder)")
    show.add_argument("--metric", default="test_acc_at_early_stop",
                      choices=("test_acc_at_early_stop", "test_acc_final", "train_acc_final"))
    flags.add_location_flags(show)

    export = sub.add_parser("export", help="write every chart of a run as PNG, SVG, HTML and CSV")
    flags.add_run_argument(export, latest=True)
    export.add_argument("--out", type=Path, required=True, help="folder to write into")
    export.add_argument("--formats", default="png,svg,html,csv", help="comma-separated subset of png,svg,html,csv")
    flags.add_location_flags(export)

    check = sub.add_parser("check-paper", help="the paper's claims vs a run, claim by claim (LeNet-300-100's; "
                                               "Section 5's for ResNet/VGG)")
    flags.add_run_argument(check, latest=True)
    flags.add_location_flags(check)



def cmd_run(args) -> int:
    from ..tickets import lottery  # torch import deferred: `lth ls` stays fast

    config = flags.run_config(args)
    options = flags.run_options(args, trials_together=args.trials_together)
    if args.trials_together is not None and args.trials_together < 1:
        raise ConfigError(f"--trials-together={args.trials_together} is not allowed: an integer >= 1")
    after = sweeps.init_configs(args.prune_init, args.prune_init_levels, config)  # refused before any training
    cluster_opts = flags.cluster_options(args)
    if cluster_opts is None:
        run_dir = lottery.run(config, paths.runs_dir(args.runs_dir), options)
    else:
        from ..cluster import execute as cluster

        run_dir = cluster.run(config, paths.runs_dir(args.runs_dir), options, cluster_opts)
    print(f"run {config.run_id} finished: {run_dir}")
    if after:
        from ..tickets import init_search

        for icfg in after:
            folder = sweeps.compute(init_search.job(run_dir, icfg), options, cluster_opts)
            print(f"{icfg.method} at initialization finished: {folder}")
    return 0


def cmd_ls(args) -> int:
    from ..core import store

    root = paths.runs_dir(args.runs_dir)
    table = store.index(root)
    if table.empty:
        print(f"no runs in {root}")
        return 0
    shown = ("run_id", "state", "model", "dataset", "levels_done", "levels", "trials_done", "trials", "iterations",
             "damaged")
    cols = [c for c in shown if c in table]
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

            print("\nwhat each network costs (channels: prunable channels kept; params: the slimmed networks' with "
                  "their channels gone, the ticket's non-zero ones; MFLOPs per example; ms: one forward pass of "
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
                  "\n(es-iter: the ticket's early-stop iteration; reinit es-iter: random reinit's; ticket-reinit: the "
                  "ticket's lead in accuracy over random reinit, points)")
            table = tables.comparison(names, args.metric)
            print(table.to_string(index=False, na_rep="") if not table.empty else "no (level, trial) unit in common")
    return 0


def cmd_export(args) -> int:
    from ..report import export
    from ..runs import results

    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    bad = [f for f in formats if f not in export.FORMATS]
    if bad or not formats:
        raise ConfigError(f"--formats={args.formats!r} is not allowed: a comma-separated subset of "
                          f"{','.join(export.FORMATS)}")
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


HANDLERS = {"run": cmd_run, "ls": cmd_ls, "show": cmd_show, "export": cmd_export, "check-paper": cmd_check_paper}
