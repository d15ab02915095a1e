"""The pruning lab's queue: the experiments one server's sessions start, at most a few training at once."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.config import Config, ConfigError
from . import jobs

LAB_LIMIT_VARIABLE = "LTH_LAB_MAX_EXPERIMENTS"


def lab_limit() -> int:
    """How many lab experiments may train at once on this server ($LTH_LAB_MAX_EXPERIMENTS, default 1)."""
    raw = os.environ.get(LAB_LIMIT_VARIABLE, "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"${LAB_LIMIT_VARIABLE}={raw!r} is not allowed: an integer >= 1")
    return int(raw)


@dataclass
class Waiting:
    """A lab experiment queued until a slot frees."""
    config: Config
    preset_name: str
    runs_dir: Path
    data_dir: Path
    queued: float = field(default_factory=time.time)


class Lab:
    """The lab's experiments, shared by every session of one server (a class pressing Start at once).

    At most `limit` train at once; the others wait in order, each shown its place. A config already running
    or waiting is joined, not started twice. `pump()` starts waiting ones as slots free: every session's
    progress poll calls it, so the queue moves while anyone has the page open.
    """

    def __init__(self, limit: int = 1):
        self.limit = limit
        self.jobs: dict[str, jobs.Job] = {}  # by run id
        self.waiting: list[Waiting] = []  # oldest first
        self.problem = ""  # why the lab fell back to one experiment at a time, if it did (the app sets it)
        self._lock = threading.Lock()

    def submit(self, config: Config, preset_name: str, runs_dir: Path, data_dir: Path) -> str:
        """'joined' (already running or queued), 'done' (already in the store), 'started' or 'queued'."""
        with self._lock:
            job = self.jobs.get(config.run_id)
            if (job is not None and job.running) or any(w.config == config for w in self.waiting):
                return "joined"
            self.waiting.append(Waiting(config, preset_name, Path(runs_dir), Path(data_dir)))
        self.pump()
        with self._lock:
            if any(w.config == config for w in self.waiting):
                return "queued"
            return "started" if self.jobs[config.run_id].process is not None else "done"

    def pump(self) -> None:
        """Start waiting experiments, oldest first, while fewer than `limit` run."""
        with self._lock:
            while self.waiting and sum(j.running for j in self.jobs.values()) < self.limit:
                w = self.waiting.pop(0)
                self.jobs[w.config.run_id] = jobs.start(w.config, w.preset_name, w.runs_dir, w.data_dir)

    def configs(self) -> list[Config]:
        """Every experiment this server started or queued."""
        with self._lock:
            return [job.config for job in self.jobs.values()] + [w.config for w in self.waiting]

    def place(self, run_id: str) -> int | None:
        """1 for the next to start; None if not waiting."""
        with self._lock:
            ids = [w.config.run_id for w in self.waiting]
        return ids.index(run_id) + 1 if run_id in ids else None
