"""Reading runs back as tidy pandas frames: what the app, the CLI and the export use."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from . import paths, store
from .config import Config, ConfigError

ARM_LABELS = {"ticket": "Winning ticket (IMP)", "reinit": "Random reinitialisation",
              "random_prune": "Random pruning", "one_shot": "One-shot pruning"}
METRIC_LABELS = {"test_acc_at_early_stop": "Test accuracy at early stop",
                 "test_acc_final": "Test accuracy at the end of training",
                 "train_acc_final": "Train accuracy at the end of training",
                 "early_stop_iteration": "Early-stop iteration"}


class Run:
    """A run folder, read lazily: the config at once, everything else when asked."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.config: Config = store.read_config(self.path)
        meta = store.read_json(paths.config_file(self.path))
        self.input_shape = tuple(meta.get("input_shape") or ())
        self.num_classes = int(meta.get("num_classes") or 10)
        self.problems: list[str] = []

    @property
    def run_id(self) -> str:
        return self.config.run_id

    @property
    def label(self) -> str:
        return store.label(self.config, self.path)

    @property
    def status(self) -> dict:
        return store.read_status(self.path)

    @property
    def units(self) -> set[tuple[int, int]]:
        """Finished (level, trial) units."""
        return store.finished_units(self.path)

    @property
    def levels(self) -> list[int]:
        """Levels with at least one finished trial: what the pages can show."""
        return sorted({lv for lv, _ in self.units})

    @property
    def levels_done(self) -> list[int]:
        """Levels finished for every trial."""
        return store.finished_levels(self.path, self.config.experiment.trials)

    def progress_note(self) -> str:
        """'' for a finished run; otherwise how much of it the figures show (for chart subtitles)."""
        e = self.config.experiment
        total, done = (e.levels + 1) * e.trials, len(self.units)
        if done >= total:
            return ""
        trials = len({t for _, t in self.units})
        return f"in progress: {done}/{total} (level, trial) units, {trials} trial(s) started"

    def _trials_at(self, level: int) -> list[int]:
        return sorted(t for lv, t in self.units if lv == level)

    def model(self):
        from . import models  # torch is imported only where a model is needed: the app starts faster

        return models.build(self.config.model.model, self.input_shape, self.num_classes)

    @functools.cache
    def summary(self) -> pd.DataFrame:
        """One row per level, trial, arm and replicate; per-layer remaining fractions as `remaining:<layer>`."""
        rows = []
        for level, trial in sorted(self.units):
            try:
                blob = store.read_json(paths.unit_summary(self.path, level, trial))
            except (OSError, ValueError) as err:
                self.problems.append(f"level {level}, trial {trial}: summary.json unreadable ({err})")
                continue
            for row in blob["rows"]:
                flat = {k: v for k, v in row.items() if k != "remaining_by_layer"}
                flat.update({f"remaining:{n}": v for n, v in row["remaining_by_layer"].items()})
                rows.append({"level": level, **flat})
        frame = pd.DataFrame(rows)
        if not frame.empty:
            frame["percent_remaining"] = 100 * frame["remaining"]
        return frame

    def costs(self) -> pd.DataFrame:
        """Per unit: models trained, model-iterations and wall seconds."""
        rows = []
        for level, trial in sorted(self.units):
            try:
                blob = store.read_json(paths.unit_summary(self.path, level, trial))
                rows.append({"level": level, "trial": trial, "models": blob["models"],
                             "model_iterations": blob["model_iterations"], "seconds": blob["seconds"]})
            except (OSError, ValueError, KeyError):
                continue
        return pd.DataFrame(rows)

    def _concat(self, path_of, levels: list[int]) -> pd.DataFrame:
        frames = [pd.read_parquet(path_of(self.path, lv, t)) for lv in levels for t in self._trials_at(lv)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def curves(self, levels: list[int] | None = None) -> pd.DataFrame:
        """Learning curves in long format (level, trial, arm, replicate, iteration, metrics...)."""
        return self._concat(paths.unit_curves, self.levels if levels is None else levels)

    def weight_hist(self, level: int) -> pd.DataFrame:
        return self._concat(paths.unit_weight_hist, [level])

    def weight_stats(self, level: int) -> pd.DataFrame:
        return self._concat(paths.unit_weight_stats, [level])

    def masks(self, level: int) -> dict[tuple, dict[str, np.ndarray]]:
        """{(arm, trial, replicate): {layer: bool array}}; the reinit control uses the ticket's mask."""
        out = {}
        for trial in self._trials_at(level):
            out.update(store.read_masks(paths.unit_masks(self.path, level, trial)))
        return out

    def prune_curve(self) -> pd.DataFrame:
        frames = [pd.read_parquet(p) for p in sorted((self.path / "plan").glob("prune_curve_trial_*.parquet"))]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def dense_weights(self) -> dict[str, np.ndarray]:
        return store.read_npz(paths.dense_weights(self.path))


def level_table(run: Run, metric: str = "test_acc_at_early_stop") -> pd.DataFrame:
    """Per level: % weights remaining, then the mean over trials and replicates of each arm's figures."""
    s = run.summary()
    if s.empty:
        return pd.DataFrame()
    ticket = s[s.arm == "ticket"].groupby("level")["percent_remaining"].mean().rename("% remaining")
    cols = [ticket.round(2)]
    for arm in [a for a in records_arms(s) if a in s.arm.unique()]:
        g = s[s.arm == arm].groupby("level")
        cols.append(g["early_stop_iteration"].mean().round(0).rename(f"{arm} es-iter"))
        cols.append((100 * g[metric].mean()).round(2).rename(f"{arm} acc %"))
    return pd.concat(cols, axis=1).reset_index()


def records_arms(summary: pd.DataFrame) -> list[str]:
    known = list(ARM_LABELS)
    return known + sorted(set(summary.arm) - set(known))


def resolve(ref: str | None, runs_dir: Path) -> Path:
    """A run folder from a path, a run id (or its prefix), or None for the latest run in runs_dir."""
    if ref and Path(ref, "config.json").exists():
        return Path(ref)
    runs = store.find_runs(runs_dir)
    if ref is None:
        if not runs:
            raise ConfigError(f"no runs in {runs_dir}; start one with `python -m lth run --preset synthetic`")
        return max(runs, key=lambda r: store.read_status(r).get("updated", 0.0))
    hits = [r for r in runs if r.name.startswith(ref)]
    if len(hits) != 1:
        what = "no run" if not hits else f"{len(hits)} runs"
        raise ConfigError(f"{what} in {runs_dir} match {ref!r}; give a run folder or a unique run-id prefix (see `lth ls`)")
    return hits[0]
