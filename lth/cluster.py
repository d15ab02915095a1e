"""Experiments fanned out over a Ray cluster: `--cluster ADDRESS` on `lth run`, `gates`, `prune-init`, `stability`.

Trials are chains (a level needs the previous level's mask), so each group of trials that trains together goes
through its levels in order, one task at a time, while the other groups' tasks run beside it on other workers.
A sweep's trials are independent: one task each. Each task asks for `--cluster-cpus` CPUs, and for a GPU where
the cluster has them.

Workers need no shared disk. A task receives, as bytes, the files its unit reads (the run's config and
grouping; the previous level's masks and the trial's plan), recreates them in a scratch folder, computes there
exactly what a local run computes, and returns the files it wrote. The driver (this process) writes them into the
run folder as a local run would: the same files, each atomic, every unit's summary.json last. So a killed driver
resumes with only the missing units, and a task whose worker died is simply run again by Ray (`max_retries`).

The numbers equal a local run's when the grouping is the same: the run's saved stack size, trials together and,
on a CPU, thread count (lth.tickets.lottery.grouping). The driver asks a worker for that grouping once, before the
first task, and keeps it in the run's execution.json, where a local resume finds it too.
"""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import torch

from .core import devices, paths, store, sweeps
from .core.config import Config, ConfigError
from .engine import data as data_mod
from .engine import models
from .engine.train import Cancelled
from .tickets import lottery, records

log = logging.getLogger("lth")

PACKAGE = Path(__file__).resolve().parent
LOCAL = "local"  # --cluster local: a throwaway one-machine cluster started by this process
NOT_SHIPPED = {"status.json", ".lock", "CANCEL"}  # each side keeps its own
RETRIES = 3  # a task whose worker or node died runs again, up to this many times


@dataclass(frozen=True)
class ClusterOptions:
    address: str  # "auto", "local", or a Ray address (host:port, ray://host:10001)
    cpus: int = 1  # CPUs each task asks for (and, on a CPU, the threads a new run trains with)


def check(address: str | None, cpus: int) -> ClusterOptions | None:
    """The --cluster options, refused before any work when they cannot be right."""
    if address is None:
        return None
    if not address.strip():
        raise ConfigError("--cluster='' is not allowed: give auto, local, or a Ray address such as 10.0.0.5:6379")
    if cpus < 1:
        raise ConfigError(f"--cluster-cpus={cpus} is not allowed: an integer >= 1")
    given = address = address.strip()
    if given == "auto":
        address = started_here()
    if address != LOCAL:
        try:
            answers(address)  # Ray itself would retry an address nobody serves for minutes
        except ConfigError:
            if given != "auto":
                raise
            raise ConfigError(f"--cluster=auto: the Ray cluster last started on this machine ({address}) does not "
                              "answer; start one with `ray start --head`, or use --cluster local") from None
    return ClusterOptions(address, cpus)


def started_here() -> str:
    """--cluster auto: the address of the cluster `ray start` last began on this machine (or $RAY_ADDRESS)."""
    try:
        from ray._private.services import canonicalize_bootstrap_address
    except ImportError:  # another Ray release: let ray.init find it
        return "auto"
    try:
        return canonicalize_bootstrap_address("auto") or "auto"
    except (ConnectionError, ValueError) as err:
        raise ConfigError(f"--cluster=auto: no Ray cluster was started on this machine ({err}); start one with "
                          "`ray start --head`, or use --cluster local") from None


def connect(options: ClusterOptions):
    """Ray, connected to the cluster; this package travels to the workers (they need only its requirements)."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--cluster needs Ray: pip install ray (it is in requirements.txt)") from None
    if ray.is_initialized():
        return ray
    env = {"py_modules": [str(PACKAGE)], "env_vars": {"PYTHONWARNINGS": "ignore"}}
    try:
        if options.address == LOCAL:
            ray.init(address="local", runtime_env=env, log_to_driver=False, include_dashboard=False,
                     logging_level=logging.ERROR)
        else:
            ray.init(address=options.address, runtime_env=env, log_to_driver=False, logging_level=logging.ERROR)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise ConfigError(f"--cluster={options.address}: no Ray cluster answered ({err}); start one with "
                          "`ray start --head`, or use --cluster local") from None
    return ray


def answers(address: str, timeout: float = 5.0) -> None:
    """Refuses a cluster address that is malformed or where nothing listens."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if address == "auto":
        return
    if not host or not port.isdigit():
        raise ConfigError(f"--cluster={address} is not allowed: give auto, local, or a Ray address host:port "
                          "(ray://host:port for Ray Client)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise ConfigError(f"--cluster={address}: no Ray cluster answered ({err.strerror or err}); start one with "
                          "`ray start --head`, or use --cluster local") from None


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
class Relay(records.Progress):
    """A task's progress, sent to the driver's tally at most once a second (no terminal, no shared status)."""

    def __init__(self, scratch: Path, tally, key: str):
        super().__init__(scratch, 0, show=False)
        self.tally, self.key, self.sent = tally, key, 0.0

    def add(self, step: int, iteration: int | None = None) -> None:
        self.done += step
        if time.time() - self.sent > 1.0:
            self.tally.put.remote(self.key, self.done)
            self.sent = time.time()


def task(make: Callable, work: Callable, common: dict[str, bytes], files: dict[str, bytes], arrays: dict,
         device: str, threads: int | None, key: str, tally) -> dict[str, bytes]:
    """One unit of work in a scratch folder: the files it wrote (or changed), relative to the run folder."""
    tally.began.remote(key)
    if threads and device == "cpu":
        torch.set_num_threads(threads)
    scratch = Path(tempfile.mkdtemp(prefix="lth-task-"))
    try:
        run = scratch / "run"
        given = {**common, **files}
        unpack(run, given)
        target = devices.resolve(device)
        dataset = data_mod.Dataset(**{k: torch.from_numpy(v.copy()) if hasattr(v, "shape") else v
                                      for k, v in arrays.items()}).to(target)
        job = make(run, dataset, target)
        job.progress = Relay(run, tally, key)
        work(job)
        return {rel: blob for rel, blob in pack(run, tree(run)).items() if given.get(rel) != blob}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def probe(config: Config, input_shape, classes: int, device: str, trials_together: int | None) -> tuple[dict, str]:
    """On a worker: the grouping a new run would take there, and why."""
    model = models.build(config.model.model, input_shape, classes)
    per_trial = len(lottery.members(config, 1, [0]))
    return lottery.grouping(model, devices.resolve(device), config.training.batch_size, per_trial, trials_together)


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
    """One task: its key, how the worker builds the job and what it runs, the files it reads, its size."""
    key: str
    make: Callable
    work: Callable
    inputs: Callable[[], list[Path]]  # read when the task starts: a level's inputs exist only once the last ends
    model_iterations: int
    level: int = 0


class Driver:
    def __init__(self, ray, options: ClusterOptions, folder: Path, root: Path, arrays: dict, device: str,
                 threads: int | None):
        self.ray, self.folder, self.root = ray, folder, root
        self.device, self.threads = device, threads
        gpus = ray.cluster_resources().get("GPU", 0) > 0 and device == "cuda"
        self.remote = ray.remote(task).options(num_cpus=options.cpus, num_gpus=1 if gpus else 0,
                                               max_retries=RETRIES, retry_exceptions=False)
        self.arrays = ray.put(arrays)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # the tally lives beside the driver: a worker node that dies takes only its own tasks with it
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        self.tally = ray.remote(Tally).options(num_cpus=0, scheduling_strategy=here, max_restarts=-1,
                                               max_task_retries=-1).remote()

    def run(self, chains: list[list[Step]], common: list[Path], progress: records.Progress) -> None:
        """Each chain's steps in order, the chains side by side; files written as tasks end."""
        common_ref = self.ray.put(pack(self.root, common))
        queues, flying = [iter(c) for c in chains], {}

        def launch(i: int) -> None:
            step = next(queues[i], None)
            if step is not None:
                ref = self.remote.remote(step.make, step.work, common_ref, pack(self.root, step.inputs()), self.arrays,
                                         self.device, self.threads, step.key, self.tally)
                flying[ref] = (i, step)

        for i in range(len(chains)):
            launch(i)
        finished, again = 0, 0
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
                if rerun > again:
                    log.warning("a worker was lost: its task runs again (%d so far); the run's files are still "
                                "written once each, whole", rerun)
                    again = rerun
                progress.level = min((s.level for _, s in flying.values()), default=progress.level)
                progress.add(max(0, finished + running - progress.done))
                if progress.cancelled():
                    raise Cancelled("cancelled")
        finally:
            for ref in flying:
                self.ray.cancel(ref, force=True)
            progress.close()


def _arrays(dataset: data_mod.Dataset) -> dict:
    return {k: v.cpu().numpy() if torch.is_tensor(v) else v for k, v in vars(dataset).items()}


def _lottery(config: Config, root: Path, dataset, device) -> lottery.Lottery:
    return lottery.Lottery(config, root, dataset, device, show_progress=False)


def _level(level: int, trials: list[int], job: lottery.Lottery) -> None:
    job.run_level(level, trials)


def run(config: Config, runs_dir: Path, options: lottery.RunOptions, cluster: ClusterOptions) -> Path:
    """`lth run --cluster`: the run of `config` computed (or finished, or just opened) on a Ray cluster."""
    ray = connect(cluster)
    run_dir, dataset = lottery.open_run(config, runs_dir, options, torch.device("cpu"))
    device = ray.get(ray.remote(worker_device).options(num_cpus=0).remote(options.device))
    saved = store.read_execution(run_dir)
    if device not in saved and not store.is_complete(run_dir, config):
        threads = {"threads": cluster.cpus} if device == "cpu" else {}
        chosen, why = ray.get(ray.remote(probe).options(num_cpus=cluster.cpus).remote(
            config, dataset.input_shape, dataset.num_classes, device, options.trials_together))
        saved[device] = {**chosen, **threads}
        store.write_json(paths.execution_file(run_dir), saved)
        log.info("the cluster's %s workers train up to K=%d models at once (%s)", device, chosen["stack"], why)

    def body() -> None:
        plan = lottery.Lottery(config, run_dir, dataset, torch.device(device), options.progress)
        todo = set(plan.todo())
        per_level = config.training.iterations
        chains = []
        for trials in plan.groups():
            chain = []
            for level in range(config.experiment.levels + 1):
                pending = [t for t in trials if (level, t) in todo]
                if pending:
                    inputs = partial(_level_inputs, run_dir, level, pending)
                    chain.append(Step(f"level {level}, trials {pending}", partial(_lottery, config),
                                      partial(_level, level, pending), inputs,
                                      len(plan.members(level, pending)) * per_level, level))
            chains.append(chain)
        driver = Driver(ray, cluster, run_dir, run_dir, _arrays(dataset), device,
                        saved[device].get("threads"))
        driver.run(chains, [paths.config_file(run_dir), paths.execution_file(run_dir)], plan.progress)

    return lottery.compute(config, run_dir, torch.device(device), body)


def _level_inputs(run_dir: Path, level: int, trials: list[int]) -> list[Path]:
    """What a level of these trials reads: each trial's plan (one-shot masks, rewind point) and last masks."""
    if level == 0:
        return []
    return [f for t in trials for f in (paths.plan_file(run_dir, t), paths.unit_masks(run_dir, level - 1, t))]


def _sweep_job(factory: Callable, rel: Path, root: Path, dataset, device):
    return factory(root / rel, dataset, device, False)


def _trial(trial: int, search: records.Sweep) -> None:
    search.run_trial(trial)


def run_sweep(job: records.SweepJob, options: lottery.RunOptions, cluster: ClusterOptions) -> Path:
    """`lth gates / prune-init / stability --cluster`: a sweep's trials as tasks, side by side."""
    ray = connect(cluster)
    dataset = data_mod.load(job.config.data, options.data_dir, "cpu", options.download)
    mdir = sweeps.create(job.run_dir, job.spec)
    device = ray.get(ray.remote(worker_device).options(num_cpus=0).remote(options.device))
    rel = mdir.relative_to(job.run_dir)
    methods = paths.methods_root(job.run_dir).relative_to(job.run_dir)
    # every task reads the IMP run (not its other sweeps) and the sweep's settings; each trial its own plan
    common = tree(job.run_dir, lambda f: methods in f.parents) + [paths.method_file(mdir)]

    def execute(search: records.Sweep) -> None:
        per_trial = search.progress.total // max(1, len(search.todo()))
        chains = [[Step(f"trial {t}", partial(_sweep_job, job.factory, rel), partial(_trial, t),
                        partial(_trial_inputs, mdir, t), per_trial)] for t in search.todo()]
        Driver(ray, cluster, mdir, job.run_dir, _arrays(dataset), device,
               cluster.cpus if device == "cpu" else None).run(chains, common, search.progress)

    return records.compute_sweep(mdir, torch.device(device),
                                 lambda: job.factory(mdir, dataset, torch.device("cpu"), options.progress), execute)


def _trial_inputs(mdir: Path, trial: int) -> list[Path]:
    """A sweep trial's own files so far (a gate sweep's learned masks, kept so retraining resumes)."""
    return [f for f in tree(mdir) if f"trial_{trial:02d}" in f.name or f"trial_{trial:02d}" in f.parent.name]

