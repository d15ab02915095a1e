"""`python -m lth.cli.worker`: the lab's warm worker (lth.lab.warm starts it, once per app server).

It imports torch (with torch._dynamo, which fused Adam loads) and the whole CLI once, then forks a child for each
experiment the app asks for, so the child trains at once instead of importing for ~3 s first. The worker itself
runs no torch operation: a child of a process whose OpenMP threads have run hangs at its first parallel operation
(tried: a matrix product in the parent, then one in the child), so nothing here is computed ahead, not even the
data set. A child is `python -m lth <argv>` in a session of its own, its output to its log; the worker records its
exit code in <log>.exit, and ends when the app's end of the pipe closes, once its children have ended.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from ..core import store
from ..lab.warm import exit_file
from .entry import main as lth_main

PRELOAD = ("torch", "torch._dynamo", "torch.optim", "pyarrow.parquet", "lth.tickets.lottery")


def record(log: Path, status: int) -> None:
    store.write_bytes(exit_file(log), str(os.waitstatus_to_exitcode(status)).encode())


def serve() -> None:
    started = time.perf_counter()
    for name in PRELOAD:
        importlib.import_module(name)
    print(f"lab worker {os.getpid()}: ready, {time.perf_counter() - started:.1f} s of imports", file=sys.stderr,
          flush=True)
    children: dict[int, Path] = {}

    def reap(*_) -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in children:
                record(children.pop(pid), status)

    signal.signal(signal.SIGCHLD, reap)
    for line in sys.stdin:
        request = json.loads(line)
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])  # its end is recorded once it is in `children`
        try:
            pid = os.fork()
            if pid == 0:
                child(request["argv"], Path(request["log"]))
            children[pid] = Path(request["log"])
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGCHLD])
        print(json.dumps({"pid": pid}), flush=True)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for pid, log in list(children.items()):  # the app has gone: its experiments' ends are still recorded
        record(log, os.waitpid(pid, 0)[1])


def child(argv: list[str], log: Path) -> None:
    """In the forked child: its own session, output to `log`, `python -m lth <argv>`; never returns."""
    code = 1
    try:
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGCHLD])
        os.setsid()
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        code = lth_main(argv)
    except SystemExit as end:  # argparse's own exits
        code = end.code if isinstance(end.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    serve()
