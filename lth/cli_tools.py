"""`python -m lth` commands that measure or maintain rather than run experiments: bench, class-bench, migrate."""

from __future__ import annotations

from pathlib import Path

from .core import devices, paths
from .core.config import ConfigError


def add_commands(sub) -> None:
    klass = sub.add_parser("class-bench", help="N browser sessions open the app at once: server CPU per visit, "
                                               "time to first chart (a benchmark, not a test)")
    klass.add_argument("--sessions", type=int, default=30, help="sessions opened at once")

    migrate = sub.add_parser("migrate", help="bring runs written by earlier versions to today's layout (numbers unchanged)")
    migrate.add_argument("folders", nargs="+", type=Path, help="run folders, or folders holding runs")

    bench = sub.add_parser("bench", help="measure training speed: the usual way vs the engine (a benchmark, not a test)")
    bench.add_argument("--device", default="auto", choices=devices.CHOICES)
    bench.add_argument("--quick", action="store_true", help="fewer repetitions; under a minute")
    bench.add_argument("--data-dir", type=Path, default=None,
                       help="where mnist.npz is, for the live-demo timing (default $LTH_DATA_DIR or data/)")


def cmd_migrate(args) -> int:
    from .runs import migrate

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
    from . import class_bench

    if args.sessions < 1:
        raise ConfigError(f"--sessions={args.sessions} is not allowed: an integer >= 1")
    class_bench.main(args.sessions)
    return 0


def cmd_bench(args) -> int:
    from . import bench

    bench.main(args.device, args.quick, data_dir=paths.data_dir(args.data_dir))
    return 0


HANDLERS = {"bench": cmd_bench, "class-bench": cmd_class_bench, "migrate": cmd_migrate}
