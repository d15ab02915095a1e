"""The lab's warm worker: one process per server with torch and the engine imported, forking a child per experiment.

A new `python -m lth run` spends about 3 s importing torch (and torch._dynamo, which fused Adam loads) before its
first step; a child forked from this worker starts training at once, so a class sees IMP's first level about a
second after the click. What a subprocess of its own gave stays (lth.lab.jobs): each experiment is a process apart
from the app and from the worker, in a session of its own (a crash takes down neither, and it outlives the app),
writing its status to its run folder and everything it prints to its log; Cancel is the CANCEL file.

This is the app's side; the worker is `python -m lth.cli.worker` (it runs the CLI, a floor above the lab). The app
writes one JSON line per experiment to its stdin, {"argv": [...], "log": path}; it answers {"pid": n}, and when the
child ends it writes the exit code to <log>.exit (`exit_file`).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..core import paths

WORKER_VARIABLE = "LTH_LAB_WORKER"  # 0: no warm worker, each experiment a `python -m lth` subprocess of its own
ANSWER_SECONDS = 120.0  # a fresh worker answers once its imports are done (seconds; longer on a busy machine)


def exit_file(log: Path) -> Path:
    return Path(f"{log}.exit")


@dataclass
class Child:
    """An experiment the worker forked, as the lab asks a subprocess: poll() is None while it runs, then its code."""

    pid: int
    log: Path
    code: int | None = None  # once known

    def poll(self) -> int | None:
        for wait in (0.0, 0.2):  # the worker reaps a child, then records its code: a moment with neither
            if self.code is not None:
                return self.code
            time.sleep(wait)
            try:
                self.code = int(exit_file(self.log).read_text())
                continue
            except (OSError, ValueError):
                pass
            try:
                os.kill(self.pid, 0)  # still there (or ended a moment ago, not yet reaped by the worker)
                return None
            except PermissionError:
                return None
            except ProcessLookupError:
                pass
        self.code = -1  # ended, and the worker that would have said how is gone
        return self.code


class Worker:
    """The app's side: starts the worker (again, if it died) and hands it experiments, one at a time."""

    def __init__(self, log: Path):
        self.log = Path(log)  # the worker's own output: its imports' warnings, a child it could not fork
        self.process: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the worker now (it imports in the background) unless it is running."""
        with self._lock:
            self._start()

    def _start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(paths.PROJECT_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        with open(self.log, "a") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "lth.cli.worker"], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=out, cwd=paths.PROJECT_ROOT, env=env,
                                            start_new_session=True, text=True)

    def launch(self, argv: list[str], log: Path) -> Child:
        """`python -m lth <argv>` in a child of the worker, its output to `log`; OSError if the worker cannot."""
        exit_file(log).unlink(missing_ok=True)
        with self._lock:
            for _ in range(2):  # a worker that died is started again, once
                self._start()
                try:
                    self.process.stdin.write(json.dumps({"argv": argv, "log": str(log)}) + "\n")
                    self.process.stdin.flush()
                    ready, _, _ = select.select([self.process.stdout], [], [], ANSWER_SECONDS)
                    answer = self.process.stdout.readline() if ready else ""
                    return Child(int(json.loads(answer)["pid"]), Path(log))
                except (OSError, ValueError, KeyError):
                    self.stop()
            raise OSError(f"the lab's warm worker did not answer (see {self.log})")

    def stop(self) -> None:
        """End the worker (not its children: they finish, as an experiment outlives the app)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


_shared: dict[str, Worker] = {}
_shared_lock = threading.Lock()


def shared(logs: Path) -> Worker:
    """This process's worker (an app server has one), started on first use; its own log in the `logs` it is first
    given."""
    with _shared_lock:
        if "worker" not in _shared:
            _shared["worker"] = Worker(Path(logs) / "worker.log")
        worker = _shared["worker"]
    worker.start()
    return worker


def enabled() -> bool:
    """Whether the lab forks its experiments from the warm worker (unless $LTH_LAB_WORKER is 0)."""
    return os.environ.get(WORKER_VARIABLE, "1") != "0"
