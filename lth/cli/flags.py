"""The command line's flags and what they become: flags generated from the config dataclasses, the flags
several commands share (where runs and data live, the device, --cluster), the run argument, and their checks.

argparse rather than a dataclass-CLI library: presets are applied first and only the flags a user gives
override them, and every bad value must end in one plain line and exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields
from pathlib import Path

from ..core import devices, paths
from ..core.config import SECTIONS, Config, ConfigError, flag, preset

EXIT_BAD_INPUT = 2
RUN_FORMS = "a run folder, a folder holding one run (pretrained_runs/lenet-mnist), or a run-id prefix"


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(EXIT_BAD_INPUT)


def add_run_argument(p: argparse.ArgumentParser, what: str = "", latest: bool = False) -> None:
    """The RUN a command works on; `latest`: optional, the latest run when left out."""
    forms = f"{what}: {RUN_FORMS}" if what else RUN_FORMS
    if latest:
        p.add_argument("run", nargs="?", help=f"{forms} (default: the latest)")
    else:
        p.add_argument("run", help=forms)


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """A flag for every field of every config section, each in its section of the help."""
    for section, cls in SECTIONS.items():
        add_dataclass_flags(p.add_argument_group(f"{section} overrides (default: the preset's value)"), cls)


def add_dataclass_flags(section, cls) -> None:
    """A flag for each field of `cls`, in `section` of the help (an argparse argument group)."""
    for f in fields(cls):
        kwargs = {"default": None, "dest": f.name, "help": f.metadata["help"]}
        if f.metadata.get("forms"):  # a name or a form (torchvision:NAME): checked with the config, listed here
            names = ", ".join(f.metadata["choices"])
            kwargs["help"] += f": {names}; or " + "; or ".join(f.metadata["forms"].values())
        elif f.metadata.get("choices"):
            kwargs["choices"] = f.metadata["choices"]
        if f.type in ("bool", bool):
            section.add_argument(flag(f.name), action=argparse.BooleanOptionalAction, **kwargs)
        else:
            kind = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            section.add_argument(flag(f.name), type=kind, metavar=kind.__name__.upper(), **kwargs)


def add_location_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs-dir", type=Path, default=None, help="where runs live (default $LTH_RUNS_DIR or runs/)")


def add_compute_flags(p: argparse.ArgumentParser) -> None:
    """Where a command that trains reads its data and trains, and whether it shows progress."""
    p.add_argument("--data-dir", type=Path, default=None, help="data sets (default $LTH_DATA_DIR or data/)")
    p.add_argument("--device", default="auto", choices=devices.CHOICES, help="where to train")
    p.add_argument("--download", action=argparse.BooleanOptionalAction, default=True,
                   help="let torchvision download a data set missing from --data-dir")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


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


def run_options(args, trials_together: int | None = None):
    """The options a command that trains passes to lth.tickets.execution (torch is imported only here)."""
    from ..tickets import execution

    return execution.RunOptions(data_dir=paths.data_dir(args.data_dir), device=args.device, download=args.download,
                                progress=not args.quiet, trials_together=trials_together)
