"""Runs read back as tidy pandas frames: the app's and the CLI's one door to the store.

`Run` reads one run folder (and the gradient methods' sweeps inside it); `index` lists
the runs of several roots; `stamp` changes whenever a run records progress, for caches.
Derived tables (per level, costs, IMP's nearest level) are in lth.runs.tables.

What a run cannot read is named in `Run.problems`, never raised: a damaged sweep folder or one in an
earlier layout from the moment the run is opened, an unreadable unit's summary once the summary is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core import catalog, paths, store, sweeps
from ..core.config import Config, ConfigError


class Problems(list):
    """What could not be read in a run, one line each: a problem met by several reads is named once."""

    def append(self, problem: str) -> None:
        if problem not in self:
            super().append(problem)


class Run:
    """A run folder, read lazily: the config and its sweeps' settings at once, everything else when asked."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.config: Config = store.read_config(self.path)
        meta = store.read_json(paths.config_file(self.path))
        self.input_shape = tuple(meta.get("input_shape") or ())
        self.num_classes = int(meta.get("num_classes") or 10)
        self.network = meta.get("network")  # a network named by a form: its stored description
        self.problems: list[str] = Problems()
        self._summary: pd.DataFrame | None = None
        for mdir in self.method_dirs():  # a damaged or outdated sweep is named before any of its tables is read
            self._sweep(mdir)

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
        return "" if done >= total else f"in progress: {done} of {total} level×trial units"

    @property
    def tag(self) -> str:
        """The run's short id and, while unfinished, its progress: what a chart's subtitle adds to the config."""
        note = self.progress_note()
        return f"run {self.run_id[:6]}" + (f" · {note}" if note else "")

    def _trials_at(self, level: int) -> list[int]:
        return sorted(t for lv, t in self.units if lv == level)

    def model(self):
        from ..engine import models  # torch is imported only where a model is needed: the app starts faster

        if self.network:  # a network named by a form: its layers as the run stored them (it may not build here)
            layers = tuple(models.Layer(name, kind, tuple(shape)) for name, kind, shape in self.network["layers"])
            return models.Model(self.config.model.model, layers, (), self.input_shape)
        return models.build(self.config.model.model, self.input_shape, self.num_classes)

    def method_dirs(self) -> list[Path]:
        """Folders of the gradient methods' sweeps run on this run (lth gates); one in an earlier version's
        layout is named in `problems` with the command that migrates it."""
        found = sorted(p.parent for p in paths.methods_root(self.path).glob("*/method.json"))
        for mdir in found:
            if (mdir / "levels").is_dir():
                migrate = f"python -m lth migrate {self.path}"
                self.problems.append(f"{mdir.name}: stored in an earlier layout; run `{migrate}`")
        return found

    def _sweep(self, mdir: Path) -> tuple[sweeps.Spec, list] | None:
        """A sweep's settings and its points, or None with the sweep named in `problems`."""
        try:
            spec = sweeps.read(mdir)
            return spec, sweeps.units_of(spec, self.config)
        except (ConfigError, ValueError, KeyError, TypeError) as err:
            self.problems.append(f"{mdir.name}: {err}")
            return None

    def methods(self) -> pd.DataFrame:
        """One row per sweep: method, family ("gradient" or "init"), arms, its settings (λ or s0; IMP levels), how
        it makes its binary mask, and its state."""
        rows = []
        for mdir in self.method_dirs():
            if (read := self._sweep(mdir)) is None:
                continue
            spec, points = read
            key = sweeps.key_of(spec)
            rule = catalog.METHODS[spec.method].rule if spec.method in catalog.METHODS else ""
            rows.append({"method": spec.method, "family": sweeps.FAMILIES[key], "arms": list(spec.arms),
                         "sweep": points, "rule": rule,
                         "gate_iterations": getattr(spec, "gate_iterations", 0), "trials": spec.trials,
                         "path": str(mdir), "state": store.read_status(mdir).get("state", "unknown"),
                         "units_done": len(store.finished_units(mdir)), "units": spec.trials * len(points)})
        return pd.DataFrame(rows)

    def _sources(self, imp: bool = True, sweeps: bool = True) -> list[tuple[Path, str, set[tuple[int, int]]]]:
        """(folder, "level" or "point", its finished units): the IMP run's levels, then each sweep's points."""
        out = [(self.path, "level", self.units)] if imp else []
        found = [m for m in self.method_dirs() if m != paths.stability_dir(self.path)]  # its units hold no arm
        return out + ([(m, "point", store.finished_units(m)) for m in found] if sweeps else [])

    def _summaries(self):
        for folder, kind, units in self._sources():
            for index, trial in sorted(units):
                try:
                    yield kind, index, store.read_json(paths.unit_summary(folder, index, trial))
                except (OSError, ValueError) as err:
                    where = "" if folder == self.path else f"{folder.name} "
                    self.problems.append(f"{where}{kind} {index}, trial {trial}: summary.json unreadable ({err})")

    def summary(self) -> pd.DataFrame:
        """One row per level (or sweep point), trial, arm and control copy (its column is `replicate`); per-layer
        remaining fractions as `remaining:<layer>`. Read once per Run, and shared: the callers never change it.

        IMP's rows have a `level` (pruning round); the rows of gate and cs arms have a `point` (their place in
        the sweep, 1..K) instead, with `method`, `setting` (λ or s0) and what finding them cost
        (`cost_model_iterations`, `cost_seconds`). lth.runs.tables.imp_rows / sweep_rows give either part.
        """
        if self._summary is None:  # kept on the run, not in a cache of the class that would keep every run alive
            self._summary = self._read_summary()
        return self._summary

    def _read_summary(self) -> pd.DataFrame:
        rows = []
        for kind, index, blob in self._summaries():
            for row in blob["rows"]:
                flat = {k: v for k, v in row.items() if k not in ("remaining_by_layer", "channels_by_layer")}
                flat.update({f"remaining:{n}": v for n, v in row["remaining_by_layer"].items()})
                flat.update({f"channels:{n}": v for n, v in row.get("channels_by_layer", {}).items()})
                rows.append({"level": index if kind == "level" else None,
                             "point": index if kind == "point" else None, **flat})
        frame = pd.DataFrame(rows)
        if not frame.empty:
            for col in ("level", "point"):  # NaN where a row has the other: floats then, whole numbers otherwise
                frame[col] = frame[col].astype(float) if frame[col].isna().any() else frame[col]
            frame["percent_remaining"] = 100 * frame["remaining"]
        return frame

    @property
    def first_device(self) -> str:
        """The device type the run started on: where units written before units named their device trained."""
        return next(iter(store.read_execution(self.path)), "unknown")

    def costs(self) -> pd.DataFrame:
        """Per IMP unit: models trained, model-iterations and wall seconds."""
        rows = []
        for level, trial in sorted(self.units):
            try:
                blob = store.read_json(paths.unit_summary(self.path, level, trial))
                rows.append({"level": level, "trial": trial, "models": blob["models"],
                             "model_iterations": blob["model_iterations"], "seconds": blob["seconds"],
                             "device": blob.get("execution", {}).get("device") or self.first_device})
            except (OSError, ValueError, KeyError):
                continue
        return pd.DataFrame(rows)

    def curves(self, levels: list[int] | None = None) -> pd.DataFrame:
        """IMP's learning curves in long format (level, trial, arm, replicate: the control copy, iteration,
        metrics...)."""
        frames = [pd.read_parquet(paths.unit_curves(self.path, lv, t)) for lv, t in sorted(self.units)
                  if levels is None or lv in levels]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def weight_hist(self, level: int) -> pd.DataFrame:
        return self._concat_imp(paths.unit_weight_hist, level)

    def weight_stats(self, level: int) -> pd.DataFrame:
        return self._concat_imp(paths.unit_weight_stats, level)

    def _concat_imp(self, path_of, level: int) -> pd.DataFrame:
        frames = [pd.read_parquet(path_of(self.path, level, t)) for t in self._trials_at(level)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def masks(self, level: int | None = None, point: int | None = None) -> dict[tuple, dict[str, np.ndarray]]:
        """{(arm, trial, control copy): {layer: bool array}} of IMP's arms at `level`, or of the sweeps' at `point`.

        The reinit control uses the ticket's mask and is not stored apart.
        """
        if (level is None) == (point is None):
            raise ValueError("masks(): give a level or a sweep point")
        wanted, out = level if point is None else point, {}
        for folder, _, units in self._sources(imp=point is None, sweeps=point is not None):
            for index, trial in sorted(units):
                if index == wanted:
                    out.update(store.read_masks(paths.unit_masks(folder, index, trial)))
        return out

    def prune_curve(self) -> pd.DataFrame:
        frames = [pd.read_parquet(p) for p in sorted((self.path / "plan").glob("prune_curve_trial_*.parquet"))]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def dense_weights(self) -> dict[str, np.ndarray]:
        return store.read_npz(paths.dense_weights(self.path))


def resolve(ref: str | None, runs_dir: Path) -> Path:
    """A run folder from a path, a folder holding exactly one run (e.g. pretrained_runs/lenet-mnist),
    a run id (or its prefix), or None for the latest run in runs_dir."""
    if ref and Path(ref, "config.json").exists():
        return Path(ref)
    if ref and Path(ref).is_dir():
        inside = store.find_runs(Path(ref))
        if len(inside) == 1:
            return inside[0]
        if inside:
            names = ", ".join(str(r) for r in inside)
            raise ConfigError(f"{ref} holds {len(inside)} runs; give one of their folders: {names}")
    runs = store.find_runs(runs_dir)
    if ref is None:
        if not runs:
            raise ConfigError(f"no runs in {runs_dir}; start one with `python -m lth run --preset synthetic`")
        return max(runs, key=lambda r: store.read_status(r).get("updated", 0.0))
    hits = [r for r in runs if r.name.startswith(ref)]
    if len(hits) != 1:
        what = "no run" if not hits else f"{len(hits)} runs"
        raise ConfigError(f"{what} in {runs_dir} match {ref!r}; give a run folder or a unique run-id prefix "
                          "(see `lth ls`)")
    return hits[0]


INDEX_COLUMNS = {"units_done": 0, "levels_done": 0, "trials": 0, "label": "", "state": "", "damaged": ""}


def index(roots: dict[str, Path]) -> pd.DataFrame:
    """The runs of several roots ({source name: folder}), a row each with its `source`; damaged folders included
    (their `damaged` says why), every row with every column of INDEX_COLUMNS."""
    frames = [table.assign(source=source) for source, root in roots.items() if not (table := store.index(root)).empty]
    if not frames:
        return pd.DataFrame(columns=["path", "run_id", "source", *INDEX_COLUMNS])
    table = pd.concat(frames, ignore_index=True)
    for col, empty in INDEX_COLUMNS.items():
        table[col] = table[col].fillna(empty) if col in table else empty
    return table


def stamp(path: Path) -> float:
    """Changes when the run or any of its sweeps (methods/<method>/) records progress or finishes a unit."""
    folders = [Path(path), *(m.parent for m in paths.methods_root(Path(path)).glob("*/status.json"))]
    return sum(store.mtime(paths.status_file(f)) + len(store.finished_units(f)) for f in folders)
