"""IMP live in class: which preset the "Run IMP live" button runs, which run the page shows, and how far it got.

The live runs are one preset (lenet-mnist-live where mnist.npz is in the data folder, else the synthetic one) with
seeds 0, 1, 2, ... in the lab's runs folder. The page shows the highest seed, found on disk (and in this server's
queue, before its folder exists), so a reload or a second browser shows the same run. The button joins or resumes
that run while it is unfinished, and starts the next seed once it is done: the next class watches IMP run again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..core import catalog, paths, store
from ..core.config import Config, ConfigError
from ..core.presets import preset
from .queue import Lab

LIVE_PRESET = "lenet-mnist-live"
FALLBACK_PRESET = "synthetic"
ACTIVE = ("waiting", "starting", "running")  # states in which the page polls the run


def choose(data_dir: Path) -> tuple[str, str]:
    """The preset the button runs, and '' or why it is not real MNIST (in words, for the page)."""
    if (Path(data_dir) / "mnist.npz").exists():
        return LIVE_PRESET, ""
    return FALLBACK_PRESET, (f"No mnist.npz in {Path(data_dir).resolve()}, so this runs the synthetic data set "
                             "(noisy class prototypes, no download) instead of real MNIST. Put mnist.npz there, "
                             "or start the app with LTH_DATA_DIR set to a folder that has it.")


def explain(preset_name: str) -> str:
    """What the button runs, in a few words a class reads from the back of the room (markdown)."""
    config = preset(preset_name)
    t, p, e = config.training, config.pruning, config.experiment
    return (f"Each level trains **{catalog.model_name(config.model.model)}** on "
            f"**{catalog.dataset_name(config.data.dataset)}** for {t.iterations:,} iterations, removes the "
            f"{p.rate_fc:.0%} smallest weights of each layer ({p.rate_output:.0%} of the output layer) and resets "
            "the survivors to their initial values θ0: that is the **winning ticket**. Its two controls train the "
            "same mask from fresh random weights (**random reinitialisation**), and a random mask of the same size "
            f"(**random pruning**). Each level adds a point to each line: {e.levels} levels, down to about "
            f"{100 * (1 - p.rate_fc) ** e.levels:.0f}% of the weights.")


def seeds(preset_name: str, runs_dir: Path, known: Iterable[Config] = ()) -> dict[int, Config]:
    """{seed: config} of the preset's live runs: those in `runs_dir` and those `known` (e.g. queued) not there yet."""
    base = preset(preset_name)
    found = {}
    candidates = list(known)
    for config_file in Path(runs_dir).glob("*/config.json"):
        try:
            candidates.append(store.read_config(config_file.parent))
        except ConfigError:
            continue
    for config in candidates:
        if config.override(seed=base.experiment.seed) == base:
            found[config.experiment.seed] = config
    return found


def current(preset_name: str, runs_dir: Path, lab: Lab | None = None) -> Config | None:
    """The live run the page shows: the highest seed; None before the first."""
    found = seeds(preset_name, runs_dir, lab.configs() if lab is not None else ())
    return found[max(found)] if found else None


def to_start(preset_name: str, runs_dir: Path, lab: Lab | None = None) -> Config:
    """What the button submits: the shown run while unfinished (joined, or resumed), else the next seed."""
    shown = current(preset_name, runs_dir, lab)
    if shown is None:
        return preset(preset_name)
    if not store.is_complete(Path(runs_dir) / shown.run_id, shown):
        return shown
    return shown.override(seed=shown.experiment.seed + 1)


@dataclass
class Board:
    """What the page shows of a live run: its state, its finished levels and its progress."""

    config: Config
    run_dir: Path
    state: str  # idle, waiting, starting, running, done, cancelled, failed, interrupted
    levels_done: list[int]
    status: dict
    place: int | None = None  # in the queue, while waiting
    error: str = ""

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def levels(self) -> int:
        return self.config.experiment.levels


def board(config: Config, runs_dir: Path, lab: Lab | None = None) -> Board:
    """The run of `config` as it is now, read from its folder (and this server's queue)."""
    run_dir = Path(runs_dir).resolve() / config.run_id
    status = store.read_status(run_dir) if run_dir.exists() else {}
    done = store.finished_levels(run_dir, config.experiment.trials) if run_dir.exists() else []
    job = lab.jobs.get(config.run_id) if lab is not None else None
    place = lab.place(config.run_id) if lab is not None else None
    state, error = status.get("state", "idle"), ""
    if store.is_complete(run_dir, config):
        state = "done"
    elif place is not None:
        state = "waiting"
    elif job is not None and job.running:
        state = "running" if state == "running" else "starting"
    elif job is not None and job.returncode not in (None, 0) and state != "cancelled":
        state, error = "failed", job.error()
    elif state in ("running", "pending"):
        state = "running" if store.is_locked(run_dir) else "interrupted"  # another server's, or killed
    elif state == "failed":
        error = status.get("error", "")
    elif state not in ("cancelled", "failed"):
        state = "interrupted" if done else "idle"
    return Board(config, run_dir, state, done, status, place, error)


def cancel(board: Board) -> None:
    """Ask the process computing the run to stop (the CANCEL file); pressing the button again resumes it."""
    if board.run_dir.exists():
        paths.cancel_file(board.run_dir).touch()
