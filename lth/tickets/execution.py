"""Running a protocol, apart from the science: an IMP run's or a sweep's data read first, its folder made, its
missing units computed under its lock with status and progress, here or (lth.cluster) on a Ray cluster.

An IMP run also keeps its execution settings (stack size, trials together and, on a CPU, threads) in
execution.json, so that a resumed run, here or on a cluster's worker, ends with the numbers an uninterrupted
run would have.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol

import torch
from tqdm.auto import tqdm

from ..core import catalog, devices, paths, store, sweeps
from ..core.config import Config, ConfigError
from ..core.seeds import Streams
from ..engine import data as data_mod
from ..engine import models
from ..engine.train import Cancelled, Diverged, Hooks

log = logging.getLogger("lth")


@dataclass
class RunOptions:
    data_dir: Path = Path("data")
    device: str = "auto"
    download: bool = False
    progress: bool = True
    trials_together: int | None = None  # trials per cohort; None: as many as fill one stack


# --- execution settings ----------------------------------------------------------------
def settings(model: models.Model, device, batch: int, per_trial: int, trials_together: int | None = None
             ) -> tuple[dict, str]:
    """The execution settings a new run takes on `device` (stack size, trials together; on a CPU, threads): the
    dict execution.json keeps for that device type, and why (for the log)."""
    stack_size, why = devices.stack_size(model, device, batch)
    chosen = {"stack": stack_size, "trials_together": trials_together or max(1, stack_size // per_trial)}
    if device.type == "cpu":
        chosen["threads"] = torch.get_num_threads()
    return chosen, why


def kept_settings(run_dir: Path, kind: str, choose: Callable[[], tuple[dict, str]]) -> tuple[dict, str]:
    """The execution settings the run in `run_dir` computes with on a device of type `kind`, and why: the ones it
    saved there, else `choose()`'s, saved in execution.json for every later resume.

    Batched matrix products may sum in another order for another stack size (and, on a CPU, another thread
    count), so a run keeps the settings it started with on this device type: resumed, here or on a cluster's
    worker, it ends with the numbers an uninterrupted run would have. On another device type the numbers differ
    anyway, so there it takes that device's settings; every unit's summary says which device and settings
    trained it.
    """
    saved = store.read_execution(run_dir)
    if kind in saved:
        return saved[kind], f"the run's saved execution settings on {kind}"
    if saved:
        log.warning("this run's earlier units trained on %s; the rest train on %s, whose rounding differs",
                    ", ".join(saved), kind)
    chosen, why = choose()
    saved[kind] = chosen
    store.write_json(paths.execution_file(run_dir), saved)
    return chosen, why


# --- opening: the data set read first, then the folder ----------------------------------
def open_run(config: Config, runs_dir: Path, options: RunOptions, device) -> tuple[Path, data_mod.Dataset]:
    """The run's folder and its data set on `device`; the data set is read first, so a missing one (or a batch
    larger than it) leaves nothing behind."""
    dataset = data_mod.load(config.data, options.data_dir, device, options.download)
    if config.training.batch_size > len(dataset.x_train):
        raise ConfigError(f"--batch-size={config.training.batch_size} is not allowed: at most the "
                          f"{len(dataset.x_train)} training examples of {config.data.dataset}")
    network = None
    if catalog.form(config.model.model, catalog.MODEL_FORMS):  # built and checked on the data before any folder
        network = models.build(config.model.model, dataset.input_shape, dataset.num_classes).description()
    return store.create(runs_dir, config, dataset.input_shape, dataset.num_classes, network), dataset


@dataclass(frozen=True)
class SweepJob:
    """A sweep to compute on an IMP run (a gate sweep, pruning at init, an instability analysis), checked."""
    run_dir: Path
    spec: object  # its settings, stored as the method folder's method.json (lth.core.sweeps.Spec)
    config: Config  # the run's config as the sweep trains with it
    factory: Callable[..., "Sweep"]  # (method folder, dataset, device, show_progress) -> the search


def open_sweep(job: SweepJob, options: RunOptions, device) -> tuple[Path, data_mod.Dataset]:
    """The sweep's method folder and the run's data set on `device`; the data set is read first, so a missing one
    leaves nothing behind."""
    dataset = data_mod.load(job.config.data, options.data_dir, device, options.download)
    return sweeps.create(job.run_dir, job.spec), dataset


# --- computing: under the lock, with status ---------------------------------------------
class Work(Protocol):
    """What computes a run's or a sweep's missing units (lth.tickets.lottery.Lottery, a sweep's search)."""
    progress: "Progress"

    def todo(self) -> list: ...

    def run(self) -> None: ...


class Sweep:
    """What every sweep's search shares (a gate sweep, pruning at init, an instability analysis): the IMP run's
    network, data and seeds, and its units (point, trial) for points 1..`point_count`, computed a trial at a time
    so that a cluster can take its trials as tasks; a trial with any point unfinished is trained again whole. A
    search gives `run_trial` and sets `progress` once it knows its total work."""

    progress: "Progress"

    def __init__(self, config: Config, folder: Path, dataset: data_mod.Dataset, device, point_count: int,
                 trial_count: int):
        self.config = config
        self.folder = folder  # the sweep's method folder: its units, status and CANCEL
        self.data = dataset
        self.device = device
        self.model = models.build(config.model.model, dataset.input_shape, dataset.num_classes)
        self.streams = Streams(config.experiment.seed)
        self.point_count = point_count
        self.trial_count = trial_count

    def todo(self) -> list[int]:
        """The trials with a point not finished yet."""
        done = store.finished_units(self.folder)
        points = range(1, self.point_count + 1)
        return [t for t in range(self.trial_count) if any((p, t) not in done for p in points)]

    def run(self) -> None:
        for trial in self.todo():
            self.run_trial(trial)
        self.progress.close()

    def run_trial(self, trial: int) -> None:
        raise NotImplementedError


def run_here(work: Work) -> None:
    work.run()


def compute(folder: Path, device, make: Callable[[], Work | None], execute: Callable[[Work], None] = run_here
            ) -> Path:
    """The run or sweep in `folder` computed under its lock: `make()` gives its work (None when the run is already
    complete), `execute` computes the missing units (here, or on a cluster) with status 'running', then 'done',
    'cancelled' or 'failed'; with nothing left to do it is only marked done."""
    with store.lock(folder):
        work = make()
        if work is None or not work.todo():
            store.write_status(folder, state="done")
            return folder
        paths.cancel_file(folder).unlink(missing_ok=True)
        with computing(folder, device):
            execute(work)
    return folder


def run_sweep(job: SweepJob, options: RunOptions) -> Path:
    """Compute (or finish, or just open) a sweep on this machine; returns its method folder."""
    device = devices.resolve(options.device)
    mdir, dataset = open_sweep(job, options, device)
    return compute(mdir, device, lambda: job.factory(mdir, dataset, device, options.progress))


@contextmanager
def computing(folder: Path, device) -> Iterator[None]:
    """Status 'running' while the body computes; then 'done', 'cancelled' or 'failed' with the reason."""
    store.write_status(folder, state="running", error="", device=str(device), started=time.time())
    try:
        yield
    except Cancelled:
        store.write_status(folder, state="cancelled")
        raise
    except Diverged as err:
        store.write_status(folder, state="failed", error=f"diverged: {err}")
        raise
    except BaseException as err:
        store.write_status(folder, state="failed", error=f"{type(err).__name__}: {err}")
        raise
    store.write_status(folder, state="done")


def cancel(folder: Path) -> None:
    """Asks the process computing the run or sweep in `folder` to stop (it resumes from its last finished unit)."""
    paths.cancel_file(folder).touch()


# --- progress: a bar on the terminal, a status file for the app ---------------------
class Progress:
    def __init__(self, folder: Path, total: int, show: bool):
        self.folder = folder
        self.total = total
        self.done = 0
        self.bar = tqdm(total=total, unit="model-it", unit_scale=True, disable=not show, dynamic_ncols=True)
        self.started = time.time()
        self.last_write = 0.0
        self.level = 0
        self.models = 1
        self.last_it = 0

    def start_level(self, level: int, models: int) -> None:
        self.level, self.models, self.last_it = level, models, 0
        self.bar.set_description(f"level {level}")

    def at_eval(self, iteration: int) -> None:
        step = (iteration - self.last_it) * self.models
        self.last_it = iteration
        self.add(step, iteration)

    def add(self, step: int, iteration: int | None = None) -> None:
        """`step` more model-iterations done; the status file (rate, ETA) at most once a second."""
        self.done += step
        self.bar.update(step)
        now = time.time()
        if now - self.last_write > 1.0:
            rate = self.done / max(now - self.started, 1e-9)
            store.write_status(self.folder, level=self.level, iteration=iteration,
                               fraction=self.done / max(self.total, 1),
                               eta_seconds=(self.total - self.done) / rate if rate > 0 else None,
                               model_iterations_per_second=rate)
            self.last_write = now

    def cancelled(self) -> bool:
        return paths.cancel_file(self.folder).exists()

    @property
    def hooks(self) -> Hooks:
        """What a training loop calls: progress at each evaluation, and the CANCEL file."""
        return Hooks(self.at_eval, self.cancelled)

    def close(self) -> None:
        self.bar.close()
