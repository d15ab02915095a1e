"""`python -m lth` commands that measure or maintain rather than run experiments: bench, class-bench, cluster-bench,
migrate."""

from __future__ import annotations

from pathlib import Path

from ..core import devices, paths
from ..core.config import ConfigError


def add_commands(sub) -> None:
    klass = sub.add_parser("class-bench", help="N browser sessions open the app at once: server CPU per visit, "
                                               "time to first chart (a benchmark, not a test)")
    klass.add_argument("--sessions", type=int, default=30, help="sessions opened at once")

    cb = sub.add_parser("cluster-bench", help="a multi-trial LeNet run on a one-machine Ray cluster of 1, then 2, "
                                              "worker processes: the speedup (a benchmark, not a test)")
    cb.add_argument("--workers", default="1,2",
                    help="worker counts to compare, comma-separated (the first is the base)")
    cb.add_argument("--trials", type=int, default=2, help="trials, each its own chain of tasks")
    cb.add_argument("--levels", type=int, default=1, help="pruning levels after the dense level 0")
    cb.add_argument("--iterations", type=int, default=2000, help="training iterations per level")
    cb.add_argument("--data-dir", type=Path, default=None,
                    help="where mnist.npz is (default $LTH_DATA_DIR or data/); random MNIST-shaped data without it")

    migrate = sub.add_parser("migrate",
                             help="bring runs written by earlier versions to today's layout (numbers unchanged)")
    migrate.add_argument("folders", nargs="+", type=Path, help="run folders, or folders holding runs")

    bench = sub.add_parser("bench",
                           help="measure training speed: the usual way vs the engine (a benchmark, not a test)")
    bench.add_argument("--device", default="auto", choices=devices.CHOICES)
    bench.add_argument("--quick", action="store_true", help="fewer repetitions; under a minute")
    bench.add_argument("--data-dir", type=Path, default=None,
                       help="where mnist.npz is, for the live-demo timing (default $LTH_DATA_DIR or data/)")


def cmd_migrate(args) -> int:
    from ..runs import migrate

    for folder in args.folders:
        if not folder.is_dir():
            raise ConfigError(f"{folder} is not allowed: a run folder or a folder holding runs")
        done = migrate.migrate(folder)
        for mdir, units in done:
            print(f"{mdir}: {units} sweep unit(s) moved to points/")
        if not done:
            print(f"{folder}: nothing to migrate")
    return 0


def cmd_class_bench(args) -> int:
    from ..bench import classroom as class_bench

    if args.sessions < 1:
        raise ConfigError(f"--sessions={args.sessions} is not allowed: an integer >= 1")
    class_bench.main(args.sessions)
    return 0


def cmd_cluster_bench(args) -> int:
    try:
        workers = [int(w) for w in args.workers.split(",")]
    except ValueError:
        raise ConfigError(f"--workers={args.workers!r} is not allowed: comma-separated integers >= 1") from None
    from ..bench import cluster as cluster_bench

    cluster_bench.main(workers, args.trials, args.levels, args.iterations, paths.data_dir(args.data_dir))
    return 0


def cmd_bench(args) -> int:
    from ..bench import engine as bench

    bench.main(args.device, args.quick, data_dir=paths.data_dir(args.data_dir))
    return 0


HANDLERS = {"bench": cmd_bench, "class-bench": cmd_class_bench, "cluster-bench": cmd_cluster_bench,
            "migrate": cmd_migrate}
