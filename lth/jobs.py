"""Experiments in the background: each is a `python -m lth run` subprocess.

A separate process, not a thread of the caller: a Streamlit click stops the
page's script, never the experiment, and a crash in training cannot take the
app down. Progress and errors are read back from the run's status file and
the job's log.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

from . import paths, store
from .config import SECTIONS, Config, flag, preset


def cli_args(config: Config, preset_name: str) -> list[str]:
    """The `lth run` flags that turn the preset into `config`."""
    base, args = preset(preset_name), ["--preset", preset_name]
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            value, default = getattr(getattr(config, section), f.name), getattr(getattr(base, section), f.name)
            if value == default:
                continue
            if isinstance(value, bool):
                args.append(flag(f.name) if value else "--no-" + f.name.replace("_", "-"))
            else:
                args += [flag(f.name), str(value)]
    return args


@dataclass
class Job:
    config: Config
    run_dir: Path
    log: Path
    process: subprocess.Popen | None
    started: float = field(default_factory=time.time)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def status(self) -> dict:
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
        paths.cancel_file(self.run_dir).touch()


def start(config: Config, preset_name: str, runs_dir: Path, data_dir: Path, device: str = "auto") -> Job:
    """Start computing `config` in a subprocess (or return a finished run at once, with no process)."""
    runs_dir, data_dir = Path(runs_dir).resolve(), Path(data_dir).resolve()
    run_dir = runs_dir / config.run_id
    if store.is_complete(run_dir, config):
        return Job(config, run_dir, Path(os.devnull), None)
    logs = runs_dir / ".logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{config.run_id}.log"
    cmd = [sys.executable, "-m", "lth", "run", *cli_args(config, preset_name), "--runs-dir", str(runs_dir),
           "--data-dir", str(data_dir), "--device", device, "--no-download", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(paths.PROJECT_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with open(log, "w") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=paths.PROJECT_ROOT, env=env, start_new_session=True)
    return Job(config, run_dir, log, process)
