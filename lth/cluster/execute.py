"""Experiments fanned out over a Ray cluster: `--cluster ADDRESS` on `lth run`, `gates`, `prune-init`, `stability`.

Trials are chains (a level needs the previous level's mask), so each cohort of trials that trains together goes
through its levels in order, one task at a time, while the other cohorts' tasks run beside it on other workers.
A sweep's trials are independent: one task each. Each task asks for `--cluster-cpus` CPUs, and for a GPU where
the cluster has them.

Workers need no shared disk. A task receives, as bytes, the files its unit reads (the run's config and
execution settings; the previous level's masks and the trial's plan), recreates them in a scratch folder, computes there
exactly what a local run computes, and returns the files it wrote. The driver (this process) writes them into the
run folder as a local run would: the same files, each atomic, every unit's summary.json last. So a killed driver
resumes with only the missing units, and a task whose worker died is simply run again by Ray (`max_retries`).

The numbers equal a local run's when the execution settings are the same: the run's saved stack size, trials
together and, on a CPU, thread count (lth.tickets.execution.settings). The driver asks a worker for those settings
once, before the first task, and keeps them in the run's execution.json, where a local resume finds them too.
"""

from __future__ import annotations

import importlib.util
import logging
import socket
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import torch

from ..core import paths, store
from ..core.config import Config, ConfigError
from ..tickets import execution, lottery
from .tasks import Driver, Step, arrays_of, probe, tree, worker_device

log = logging.getLogger("lth")

PACKAGE = Path(__file__).resolve().parents[1]  # the whole lth package travels to the workers
NEEDS_RAY = ("--cluster needs Ray, which is not installed: pip install 'lth-explorer[cluster]' "
             "(or pip install -r requirements.txt)")
LOCAL = "local"  # --cluster local: a throwaway one-machine cluster started by this process


@dataclass(frozen=True)
class ClusterOptions:
    address: str  # "auto", "local", or a Ray address (host:port, ray://host:10001)
    cpus: int = 1  # CPUs each task asks for (and, on a CPU, the threads a new run trains with)


def check(address: str | None, cpus: int) -> ClusterOptions | None:
    """The --cluster options, refused before any work when they cannot be right."""
    if address is None:
        return None
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(NEEDS_RAY)
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
    return ClusterOptions(given if given == "auto" else address, cpus)  # Ray's "auto" also finds the local token


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


def connect(options: ClusterOptions, local_cpus: int | None = None):
    """Ray, connected to the cluster; this package travels to the workers (they need only its requirements).
    `local_cpus`: the CPUs of a --cluster local cluster (default: this machine's)."""
    try:
        import ray
    except ImportError:
        raise ConfigError(NEEDS_RAY) from None
    if ray.is_initialized():
        return ray
    env = {"py_modules": [str(PACKAGE)], "env_vars": {"PYTHONWARNINGS": "ignore"}}
    try:
        if options.address == LOCAL:
            ray.init(address="local", num_cpus=local_cpus, runtime_env=env, log_to_driver=False,
                     include_dashboard=False, logging_level=logging.ERROR)
        else:
            ray.init(address=options.address, runtime_env=env, log_to_driver=False, logging_level=logging.ERROR)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise ConfigError(f"--cluster={options.address}: the Ray cluster there did not take this driver ({err}); "
                          "a cluster with token authentication (Ray's default for `ray start` since 2.59) needs "
                          "RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (`ray get-auth-token` on its head) here "
                          "too") from None
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


def _lottery(config: Config, root: Path, dataset, device) -> lottery.Lottery:
    return lottery.Lottery(config, root, dataset, device, show_progress=False)


def _level(level: int, trials: list[int], imp: lottery.Lottery) -> None:
    imp.run_level(level, trials)


def run(config: Config, runs_dir: Path, options: execution.RunOptions, cluster: ClusterOptions) -> Path:
    """`lth run --cluster`: the run of `config` computed (or finished, or just opened) on a Ray cluster."""
    ray = connect(cluster)
    run_dir, dataset = execution.open_run(config, runs_dir, options, torch.device("cpu"))
    device = ray.get(ray.remote(worker_device).options(num_cpus=0).remote(options.device))

    def probed() -> tuple[dict, str]:
        """The execution settings a worker chooses for a new run (on a CPU, with --cluster-cpus threads)."""
        threads = {"threads": cluster.cpus} if device == "cpu" else {}
        resources = ray.cluster_resources()
        slots = int(resources.get("GPU", 0) if device == "cuda" else resources.get("CPU", 0) // cluster.cpus)
        remote = ray.remote(probe).options(num_cpus=cluster.cpus)
        chosen, why = ray.get(remote.remote(config, dataset.input_shape, dataset.num_classes, device,
                                            options.trials_together, slots))
        log.info("the cluster runs %d task(s) at once; its %s workers train up to K=%d models at once (%s), "
                 "%d trial(s) per task", slots, device, chosen["stack"], why, chosen["trials_together"])
        return {**chosen, **threads}, why

    threads = None
    if not store.is_complete(run_dir, config):
        threads = execution.kept_settings(run_dir, device, probed)[0].get("threads")

    def imp() -> lottery.Lottery | None:
        if store.is_complete(run_dir, config):
            return None
        return lottery.Lottery(config, run_dir, dataset, torch.device(device), options.progress)

    def execute(work: lottery.Lottery) -> None:
        todo = set(work.todo())
        per_level = config.training.iterations
        chains = []
        for trials in work.cohorts():
            chain = []
            for level in range(config.experiment.levels + 1):
                pending = [t for t in trials if (level, t) in todo]
                if pending:
                    inputs = partial(_level_inputs, run_dir, level, pending)
                    chain.append(Step(f"level {level}, trials {pending}", partial(_lottery, config),
                                      partial(_level, level, pending), inputs,
                                      len(work.members(level, pending)) * per_level, level))
            chains.append(chain)
        driver = Driver(ray, cluster.cpus, run_dir, run_dir, arrays_of(dataset), device, threads)
        driver.run(chains, [paths.config_file(run_dir), paths.execution_file(run_dir)], work.progress)

    return execution.compute(run_dir, torch.device(device), imp, execute)


def _level_inputs(run_dir: Path, level: int, trials: list[int]) -> list[Path]:
    """What a level of these trials reads: each trial's plan (one-shot masks, rewind point), last masks and (with
    network slimming) the fine-tuned network it continues from; pack() skips the files a run does not have."""
    if level == 0:
        return []
    return [f for t in trials for f in (paths.plan_file(run_dir, t), paths.unit_masks(run_dir, level - 1, t),
                                        paths.unit_slim_weights(run_dir, level - 1, t))]


def _sweep_job(factory: Callable, rel: Path, root: Path, dataset, device):
    return factory(root / rel, dataset, device, False)


def _trial(trial: int, search: execution.Sweep) -> None:
    search.run_trial(trial)


def run_sweep(job: execution.SweepJob, options: execution.RunOptions, cluster: ClusterOptions) -> Path:
    """`lth gates / prune-init / stability --cluster`: a sweep's trials as tasks, side by side."""
    ray = connect(cluster)
    mdir, dataset = execution.open_sweep(job, options, "cpu")
    device = ray.get(ray.remote(worker_device).options(num_cpus=0).remote(options.device))
    rel = mdir.relative_to(job.run_dir)
    methods = paths.methods_root(job.run_dir).relative_to(job.run_dir)
    # every task reads the IMP run (not its other sweeps) and the sweep's settings; each trial its own plan
    common = tree(job.run_dir, lambda f: methods in f.parents) + [paths.method_file(mdir)]

    def execute(search: execution.Sweep) -> None:
        per_trial = search.progress.total // max(1, len(search.todo()))
        chains = [[Step(f"trial {t}", partial(_sweep_job, job.factory, rel), partial(_trial, t),
                        partial(_trial_inputs, mdir, t), per_trial)] for t in search.todo()]
        threads = cluster.cpus if device == "cpu" else None
        driver = Driver(ray, cluster.cpus, mdir, job.run_dir, arrays_of(dataset), device, threads)
        driver.run(chains, common, search.progress)

    def search() -> execution.Sweep:
        return job.factory(mdir, dataset, torch.device("cpu"), options.progress)

    return execution.compute(mdir, torch.device(device), search, execute)


def _trial_inputs(mdir: Path, trial: int) -> list[Path]:
    """A sweep trial's own files so far (a gate sweep's learned masks, kept so retraining resumes)."""
    return [f for f in tree(mdir) if f"trial_{trial:02d}" in f.name or f"trial_{trial:02d}" in f.parent.name]

