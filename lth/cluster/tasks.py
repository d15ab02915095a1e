"""The pieces of `--cluster` (lth.cluster.execute): the files a task receives and returns, what runs on a worker,
and the driver that keeps one task in flight per chain and lands each task's files in the run folder as they end."""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..core import devices, store
from ..core.config import Config
from ..engine import data as data_mod
from ..engine import models
from ..engine.train import Cancelled
from ..tickets import execution, lottery

log = logging.getLogger("lth")

NOT_SHIPPED = {"status.json", ".lock", "CANCEL"}  # each side keeps its own
RETRIES = 3  # a task whose worker or node died runs again, up to this many times


# --- files: what a task receives and returns --------------------------------------------
def pack(root: Path, files) -> dict[str, bytes]:
    """{path relative to root: bytes} of the files that exist."""
    return {str(Path(f).relative_to(root)): Path(f).read_bytes() for f in files if Path(f).is_file()}


def tree(root: Path, skip: Callable[[Path], bool] = lambda rel: False) -> list[Path]:
    """Every shipped file under root (not status, lock, CANCEL or a half-written temporary file)."""
    return [f for f in sorted(root.rglob("*")) if f.is_file() and f.name not in NOT_SHIPPED
            and not f.name.endswith(".tmp") and not skip(f.relative_to(root))]


def unpack(root: Path, files: dict[str, bytes]) -> None:
    for rel, blob in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)


def land(folder: Path, files: dict[str, bytes]) -> None:
    """A task's files into the run folder, each atomic, every summary.json after the rest (a unit is finished
    exactly when its summary exists, as in a local run)."""
    for rel in sorted(files, key=lambda r: (Path(r).name == "summary.json", r)):
        store.write_bytes(folder / rel, files[rel])


# --- on a worker ------------------------------------------------------------------------
class Relay(execution.Progress):
    """A task's progress, sent to the driver's tally at most once a second (no terminal, no shared status)."""

    def __init__(self, scratch: Path, tally, key: str):
        super().__init__(scratch, 0, show=False)
        self.tally = tally
        self.key = key
        self.sent = 0.0

    def add(self, step: int, iteration: int | None = None) -> None:
        self.done += step
        if time.time() - self.sent > 1.0:
            self.tally.put.remote(self.key, self.done)
            self.sent = time.time()


def task(make: Callable, run: Callable, common: dict[str, bytes], files: dict[str, bytes], arrays: dict,
         device: str, threads: int | None, key: str, tally) -> dict[str, bytes]:
    """One task in a scratch folder: `make` builds the work there (lth.tickets.execution.Work), `run` computes
    its part; returns the files it wrote (or changed), relative to the run folder."""
    tally.began.remote(key)
    if threads and device == "cpu":
        torch.set_num_threads(threads)
    scratch = Path(tempfile.mkdtemp(prefix="lth-task-"))
    try:
        folder = scratch / "run"
        given = {**common, **files}
        unpack(folder, given)
        target = devices.resolve(device)
        tensors = {k: torch.from_numpy(v.copy()) if hasattr(v, "shape") else v for k, v in arrays.items()}
        dataset = data_mod.Dataset(**tensors).to(target)
        work = make(folder, dataset, target)
        work.progress = Relay(folder, tally, key)
        run(work)
        return {rel: blob for rel, blob in pack(folder, tree(folder)).items() if given.get(rel) != blob}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def probe(config: Config, input_shape, classes: int, device: str, trials_together: int | None, slots: int
          ) -> tuple[dict, str]:
    """On a worker: the execution settings a new run would take there, and why. Unless --trials-together says
    otherwise, the trials spread over the cluster's `slots` (tasks it runs at once) before they share a stack."""
    model = models.build(config.model.model, input_shape, classes)
    per_trial = len(lottery.members(config, 1, [0]))
    chosen, why = execution.settings(model, devices.resolve(device), config.training.batch_size, per_trial,
                                     trials_together)
    if trials_together is None:
        spread = math.ceil(config.experiment.trials / max(1, slots))
        chosen["trials_together"] = max(1, min(chosen["trials_together"], spread))
    return chosen, why


def worker_device(options: str) -> str:
    """On a worker: the device type --device resolves to there."""
    return devices.resolve(options).type


class Tally:
    """The driver's view of the tasks: model-iterations done per running task, and how often each one began."""

    def __init__(self):
        self.done: dict[str, int] = {}
        self.starts: dict[str, int] = {}

    def began(self, key: str) -> None:
        self.starts[key] = self.starts.get(key, 0) + 1
        self.done[key] = 0

    def put(self, key: str, done: int) -> None:
        self.done[key] = done

    def read(self, keys: list[str]) -> tuple[int, int]:
        """Model-iterations done by these running tasks; how many tasks have begun more than once so far."""
        return sum(self.done.get(k, 0) for k in keys), sum(n - 1 for n in self.starts.values())


# --- the driver -------------------------------------------------------------------------
@dataclass
class Step:
    """One task: its key, how the worker builds the work and what it runs of it, the files it reads, its size."""
    key: str
    make: Callable
    run: Callable
    inputs: Callable[[], list[Path]]  # read when the task starts: a level's inputs exist only once the last ends
    model_iterations: int
    level: int = 0


class Driver:
    def __init__(self, ray, cpus: int, folder: Path, root: Path, arrays: dict, device: str,
                 threads: int | None):
        self.ray = ray
        self.folder = folder  # the run's or sweep's folder: its status
        self.root = root  # where the tasks' files land (the run folder)
        self.device = device
        self.threads = threads
        gpus = ray.cluster_resources().get("GPU", 0) > 0 and device == "cuda"
        self.remote = ray.remote(task).options(num_cpus=cpus, num_gpus=1 if gpus else 0,
                                               max_retries=RETRIES, retry_exceptions=False)
        self.arrays = ray.put(arrays)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # the tally lives beside the driver: a worker node that dies takes only its own tasks with it
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        self.tally = ray.remote(Tally).options(num_cpus=0, scheduling_strategy=here, max_restarts=-1,
                                               max_task_retries=-1).remote()

    def run(self, chains: list[list[Step]], common: list[Path], progress: execution.Progress) -> None:
        """Each chain's steps in order, the chains side by side; files written as tasks end."""
        common_ref = self.ray.put(pack(self.root, common))
        queues = [iter(c) for c in chains]
        flying = {}  # task -> (its chain, its step)

        def launch(i: int) -> None:
            step = next(queues[i], None)
            if step is not None:
                ref = self.remote.remote(step.make, step.run, common_ref, pack(self.root, step.inputs()), self.arrays,
                                         self.device, self.threads, step.key, self.tally)
                flying[ref] = (i, step)

        for i in range(len(chains)):
            launch(i)
        finished = 0  # model-iterations of the tasks landed
        again = 0  # tasks run again so far
        nodes = self.alive()
        try:
            while flying:
                ready, _ = self.ray.wait(list(flying), num_returns=1, timeout=1.0)
                for ref in ready:
                    i, step = flying.pop(ref)
                    land(self.root, self.ray.get(ref))
                    store.write_status(self.folder, units_done=len(store.finished_units(self.folder)))
                    finished += step.model_iterations
                    launch(i)
                running, rerun = self.ray.get(self.tally.read.remote([s.key for _, s in flying.values()]))
                if (now := self.alive()) < nodes:  # Ray runs the tasks it was running again, on the nodes left
                    log.warning("a node left the cluster (%d alive now): its tasks run again elsewhere; the run's "
                                "files are still written once each, whole", now)
                if rerun > again:
                    log.warning("a task ran again after its worker was lost (%d so far)", rerun)
                    again = rerun
                nodes = now
                progress.level = min((s.level for _, s in flying.values()), default=progress.level)
                progress.add(max(0, finished + running - progress.done))
                if progress.cancelled():
                    raise Cancelled("cancelled")
        finally:
            for ref in flying:
                self.ray.cancel(ref, force=True)
            progress.close()


    def alive(self) -> int:
        return sum(1 for node in self.ray.nodes() if node.get("Alive"))


def arrays_of(dataset: data_mod.Dataset) -> dict:
    return {k: v.cpu().numpy() if torch.is_tensor(v) else v for k, v in vars(dataset).items()}
