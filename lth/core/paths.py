"""Every path the project reads or writes, in one place."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PRETRAINED_RUNS = PROJECT_ROOT / "pretrained_runs"


def runs_dir(explicit: str | os.PathLike | None = None) -> Path:
    """--runs-dir, else $LTH_RUNS_DIR, else ./runs."""
    return Path(explicit or os.environ.get("LTH_RUNS_DIR") or "runs")


def pretrained_dir() -> Path:
    """The shipped results the app opens first ($LTH_PRETRAINED_DIR overrides, e.g. in tests)."""
    return Path(os.environ.get("LTH_PRETRAINED_DIR") or PRETRAINED_RUNS)


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """--data-dir, else $LTH_DATA_DIR, else ./data."""
    return Path(explicit or os.environ.get("LTH_DATA_DIR") or "data")


# --- inside one run folder ------------------------------------------------------------
def config_file(run: Path) -> Path:
    return run / "config.json"


def status_file(run: Path) -> Path:
    return run / "status.json"


def lock_file(run: Path) -> Path:
    return run / ".lock"


def cancel_file(run: Path) -> Path:
    return run / "CANCEL"


def execution_file(run: Path) -> Path:
    """The run's execution settings per device type (stack size, trials together, threads): kept so a resume
    ends with the numbers an uninterrupted run would have."""
    return run / "execution.json"


def plan_file(run: Path, trial: int) -> Path:
    """What a trial's later levels need from its level 0: one-shot masks, the rewind point."""
    return run / "plan" / f"trial_{trial:02d}.npz"


def unit_kind(folder: Path) -> str:
    """What a folder's units are indexed by: "point" in a gradient method's sweep (its folder has method.json),
    "level" (pruning round) in an IMP run."""
    return "point" if method_file(folder).exists() else "level"


def level_dir(run: Path, level: int) -> Path:
    """One level (pruning round) of an IMP run: levels/level_LL."""
    return run / "levels" / f"level_{level:02d}"


def point_dir(method_dir: Path, point: int) -> Path:
    """One point of a sweep (a penalty value, an IMP level pruned to, a fork) in its method folder: points/point_PP."""
    return method_dir / "points" / f"point_{point:02d}"


def unit_dir(folder: Path, index: int, trial: int) -> Path:
    """One trial at one level of a run, or at one point of a sweep (`index`: which, as unit_kind says): the unit of
    work, finished exactly when its summary.json exists."""
    where = level_dir(folder, index) if unit_kind(folder) == "level" else point_dir(folder, index)
    return where / f"trial_{trial:02d}"


def unit_summary(folder: Path, index: int, trial: int) -> Path:
    return unit_dir(folder, index, trial) / "summary.json"


def unit_curves(folder: Path, index: int, trial: int) -> Path:
    return unit_dir(folder, index, trial) / "curves.parquet"


def unit_masks(folder: Path, index: int, trial: int) -> Path:
    return unit_dir(folder, index, trial) / "masks.npz"


def unit_slim_weights(run: Path, level: int, trial: int) -> Path:
    """Network slimming's fine-tuned network at the end of a level: where the next level's fine-tuning starts."""
    return unit_dir(run, level, trial) / "slim_weights.npz"


def unit_weight_hist(run: Path, level: int, trial: int) -> Path:
    return unit_dir(run, level, trial) / "weight_hist.parquet"


def unit_weight_stats(run: Path, level: int, trial: int) -> Path:
    return unit_dir(run, level, trial) / "weight_stats.parquet"


def dense_weights(run: Path) -> Path:
    """Trial 0's trained dense network (level 0), for the pruning lab's slider."""
    return run / "dense_trial0.npz"


def prune_curve(run: Path, trial: int) -> Path:
    """Accuracy of a trial's trained dense net pruned by magnitude with no retraining."""
    return run / "plan" / f"prune_curve_trial_{trial:02d}.parquet"


def pending_dense(run: Path, trial: int) -> Path:
    """A trial's trained dense network (level 0) kept only until its prune curve is written: `lth run` computes
    the curves after the levels, and a killed run resumed computes them from here."""
    return run / "plan" / f"dense_pending_trial_{trial:02d}.npz"


def index_file(root: Path) -> Path:
    return root / "index.json"


# --- masks learned by gradient descent (lth.gate_search), inside a run folder ----------
def methods_root(run: Path) -> Path:
    return run / "methods"


def method_dir(run: Path, method: str) -> Path:
    """One method's sweep: method.json, status, lock, and units points/point_PP/trial_TT."""
    return methods_root(run) / method


def method_file(method_dir: Path) -> Path:
    return method_dir / "method.json"


def stability_dir(run: Path) -> Path:
    """The instability analysis of a run (lth stability): its units are forks, points/point_PP/trial_TT."""
    return method_dir(run, "stability")


def unit_path(method_dir: Path, point: int, trial: int) -> Path:
    """A fork's errors along the straight line between its copies (lth stability)."""
    return unit_dir(method_dir, point, trial) / "path.parquet"


def learned_masks(method_dir: Path, trial: int) -> Path:
    """A trial's learned masks and search curves: kept so a killed retraining resumes without relearning."""
    return method_dir / "plan" / f"trial_{trial:02d}.npz"
