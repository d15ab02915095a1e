"""The pruning lab's experiments in the background: each is a `python -m lth run` (or `lth gates`) process.

A separate process, not a thread of the caller: a Streamlit click stops the
page's script, never the experiment, and a crash in training cannot take the
app down. Each is forked by the server's warm worker (lth.lab.warm: torch
already imported, so training starts at once), or where that fails a
subprocess of its own. Progress and errors are read back from the run's
status file and the job's log.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..core import catalog, paths, store, sweeps
from ..core.config import SECTIONS, Config, ConfigError, flag
from ..core.gate_config import GateConfig
from ..core.presets import preset
from . import warm


def cli_args(config: Config, preset_name: str) -> list[str]:
    """The `lth run` flags that turn the preset into `config`."""
    base = preset(preset_name)
    args = ["--preset", preset_name]
    for section in SECTIONS:
        args += _changed_flags(getattr(config, section), getattr(base, section))
    return args


def _changed_flags(value, base, skip: tuple[str, ...] = ()) -> list[str]:
    """CLI flags for the fields of dataclass `value` that differ from `base` (booleans as --x / --no-x)."""
    args = []
    for f in fields(value):
        v = getattr(value, f.name)
        if f.name in skip or v == getattr(base, f.name):
            continue
        if isinstance(v, bool):
            args.append(flag(f.name) if v else "--no-" + f.name.replace("_", "-"))
        else:
            args += [flag(f.name), str(v)]
    return args


@dataclass
class Job:
    """One experiment of the lab: what it computes, where, and its process (None: it was already complete)."""

    config: Config | GateConfig
    run_dir: Path  # for a gate sweep, its method folder (status.json, CANCEL)
    log: Path
    process: subprocess.Popen | warm.Child | None
    started: float = field(default_factory=time.time)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def status(self) -> dict:
        """The run's (or sweep's) status.json: its state and progress."""
        return store.read_status(self.run_dir)

    def error(self) -> str:
        """The last line the process wrote to stderr (the CLI's one-line errors), if it failed."""
        if self.returncode in (None, 0):
            return ""
        try:
            lines = [ln for ln in self.log.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            lines = []
        return lines[-1] if lines else f"exited with code {self.returncode}"

    def cancel(self) -> None:
        """Ask the process to stop: it looks for the CANCEL file between steps and ends as cancelled."""
        paths.cancel_file(self.run_dir).touch()


def start(config: Config, preset_name: str, runs_dir: Path, data_dir: Path, device: str = "auto") -> Job:
    """Start computing `config` in a process of its own (or return a finished run at once, with no process)."""
    runs_dir, data_dir = Path(runs_dir).resolve(), Path(data_dir).resolve()
    run_dir = runs_dir / config.run_id
    pending = any(paths.pending_dense(run_dir, t).exists() for t in range(config.experiment.trials))
    if store.is_complete(run_dir, config) and not pending:  # (a pending prune curve: killed at the very end)
        return Job(config, run_dir, Path(os.devnull), None)
    logs = logs_dir(runs_dir)
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{config.run_id}.log"
    args = ["run", *cli_args(config, preset_name), "--runs-dir", str(runs_dir), "--data-dir", str(data_dir),
            "--device", device, "--no-download", "--quiet"]
    return Job(config, run_dir, log, _launch(args, log, logs))


def logs_dir(runs_dir: Path) -> Path:
    """Where the lab's processes write what they print: one log per experiment, and the warm worker's."""
    return Path(runs_dir).resolve() / ".logs"


def warm_up(runs_dir: Path) -> None:
    """Start the server's warm worker now, so that the first experiment does not wait for its imports."""
    if warm.enabled():
        warm.shared(logs_dir(runs_dir))


def _launch(args: list[str], log: Path, logs: Path) -> subprocess.Popen | warm.Child:
    """`python -m lth <args>` forked by the warm worker, else as a subprocess of its own; output to `log`."""
    if warm.enabled():
        try:
            return warm.shared(logs).launch(args, log)
        except OSError as err:
            logging.getLogger("lth").warning("%s; started as a subprocess of its own instead", err)
    return _spawn([sys.executable, "-m", "lth", *args], log)


def _spawn(cmd: list[str], log: Path) -> subprocess.Popen:
    """`cmd` in its own session (a page's rerun never stops it), stdout and stderr to `log`."""
    env = {**os.environ, "PYTHONPATH": str(paths.PROJECT_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with open(log, "w") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=paths.PROJECT_ROOT, env=env, start_new_session=True)


# --- gate sweeps (lth.tickets.gate_search) on an existing run ------------------------------
def gate_args(gcfg: GateConfig) -> list[str]:
    """The `lth gates` flags that give `gcfg` (fields at their default are left out)."""
    return ["--method", gcfg.method] + _changed_flags(gcfg, GateConfig(method=gcfg.method), skip=("method",))


def data_missing(config: Config, data_dir: Path) -> str:
    """'' when the run's data set can be read from data_dir without a download; else what is missing, in words."""
    name = config.data.dataset
    form = catalog.form(name, catalog.DATA_FORMS)
    if form == "tensors:":
        return (f"this run's data ({catalog.dataset_name(name)}) were given in Python to lth.find_tickets: only "
                "Python has them")
    if form:  # npz:PATH or folder:PATH
        where = Path(name.split(":", 1)[1]).expanduser()
        return "" if where.exists() else f"this run's data set ({name}) is not there any more"
    folder = catalog.DATASETS[name].torchvision  # torchvision's own files, as lth.engine.data reads them
    if name == "synthetic" or (data_dir / f"{name}.npz").exists() or (data_dir / folder).is_dir():
        return ""
    return f"this run's data set ({name}) is not in {data_dir}: put {name}.npz there, or pick another folder"


def check_gates(run_dir: Path, gcfg: GateConfig) -> None:
    """Refuse (ConfigError) a sweep the method folder cannot take: other settings than the results it holds."""
    mdir = paths.method_dir(run_dir, gcfg.method)
    if not paths.method_file(mdir).exists() or not store.finished_units(mdir):
        return
    saved = sweeps.read(mdir)  # ConfigError naming the file when it is damaged
    if saved != gcfg:
        raise ConfigError(f"this run already has a {gcfg.method} sweep ({saved.sweep or 'default values'}, "
                          f"{saved.gate_iterations} iterations): one sweep per method per run")


def start_gates(run_dir: Path, gcfg: GateConfig, data_dir: Path, device: str = "auto") -> Job:
    """Start `lth gates` on the run in a subprocess (no process when that sweep is already complete)."""
    run_dir, data_dir = Path(run_dir).resolve(), Path(data_dir).resolve()
    check_gates(run_dir, gcfg)
    mdir = paths.method_dir(run_dir, gcfg.method)
    if len(store.finished_units(mdir)) >= gcfg.trials * len(gcfg.values):
        return Job(gcfg, mdir, Path(os.devnull), None)
    mdir.mkdir(parents=True, exist_ok=True)
    log = mdir / "gates.log"
    args = ["gates", str(run_dir), *gate_args(gcfg), "--data-dir", str(data_dir), "--device", device,
            "--no-download", "--quiet"]
    return Job(gcfg, mdir, log, _launch(args, log, logs_dir(run_dir.parent)))
