"""Every path the project reads or writes, in one place."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
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


def plan_file(run: Path) -> Path:
    """Masks and weights decided at level 0 that later levels need (one-shot masks, rewind point)."""
    return run / "plan.npz"


def level_dir(run: Path, level: int) -> Path:
    return run / "levels" / f"level_{level:02d}"


def level_summary(run: Path, level: int) -> Path:
    """Written last: a level is finished exactly when this file exists."""
    return level_dir(run, level) / "summary.json"


def level_curves(run: Path, level: int) -> Path:
    return level_dir(run, level) / "curves.parquet"


def level_masks(run: Path, level: int) -> Path:
    return level_dir(run, level) / "masks.npz"


def level_weight_hist(run: Path, level: int) -> Path:
    return level_dir(run, level) / "weight_hist.parquet"


def level_weight_stats(run: Path, level: int) -> Path:
    return level_dir(run, level) / "weight_stats.parquet"


def dense_weights(run: Path) -> Path:
    """Trial 0's trained dense network (level 0), for the pruning lab's slider."""
    return run / "dense_trial0.npz"


def prune_curve(run: Path) -> Path:
    """Accuracy of the trained dense nets pruned by magnitude with no retraining."""
    return run / "prune_curve.parquet"


def index_file(root: Path) -> Path:
    return root / "index.json"
