"""Reading runs back as tidy pandas frames: what the app, the CLI and the export use."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import arms, paths, store
from ..core.config import Config, ConfigError
from ..core.gate_config import RULES, GateConfig


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

        return models.build(self.config.model.model, self.input_shape, self.num_classes)

    def method_dirs(self) -> list[Path]:
        """Folders of the gate / continuous-sparsification sweeps run on this run (lth.gate_search)."""
        return sorted(p.parent for p in paths.methods_root(self.path).glob("*/method.json"))

    def methods(self) -> pd.DataFrame:
        """One row per sweep: method, arms, its settings, the binary-mask rule and its state."""
        rows = []
        for mdir in self.method_dirs():
            try:
                g = GateConfig.from_dict(store.read_json(paths.method_file(mdir))["gates"])
            except (OSError, ValueError, KeyError, TypeError, ConfigError) as err:
                self.problems.append(f"{mdir.name}: method.json unreadable ({err})")
                continue
            rows.append({"method": g.method, "arms": list(g.arms), "sweep": g.values, "rule": RULES[g.method],
                         "gate_iterations": g.gate_iterations, "trials": g.trials, "path": str(mdir),
                         "state": store.read_status(mdir).get("state", "unknown"),
                         "units_done": len(store.finished_units(mdir)), "units": g.trials * len(g.values)})
        return pd.DataFrame(rows)

    def _sources(self) -> list[tuple[Path, set[tuple[int, int]]]]:
        """The IMP units and each sweep's: (folder, its finished (level, trial) units). A sweep's level is its point."""
        return [(self.path, self.units)] + [(m, store.finished_units(m)) for m in self.method_dirs()]

    def _summaries(self):
        for folder, units in self._sources():
            for level, trial in sorted(units):
                try:
                    yield level, store.read_json(paths.unit_summary(folder, level, trial))
                except (OSError, ValueError) as err:
                    where = "" if folder == self.path else f"{folder.name} "
                    self.problems.append(f"{where}level {level}, trial {trial}: summary.json unreadable ({err})")

    @functools.cache
    def summary(self) -> pd.DataFrame:
        """One row per level, trial, arm and replicate; per-layer remaining fractions as `remaining:<layer>`.

        Rows of gate and cs arms carry `method`, `setting` (λ or s0) and what finding them cost
        (`cost_model_iterations`, `cost_seconds`); their `level` is the sweep point, 1..K.
        """
        rows = []
        for level, blob in self._summaries():
            for row in blob["rows"]:
                flat = {k: v for k, v in row.items() if k != "remaining_by_layer"}
                flat.update({f"remaining:{n}": v for n, v in row["remaining_by_layer"].items()})
                rows.append({"level": level, **flat})
        frame = pd.DataFrame(rows)
        if not frame.empty:
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

    def _concat(self, path_of, levels: list[int] | None) -> pd.DataFrame:
        frames = [pd.read_parquet(path_of(folder, lv, t)) for folder, units in self._sources()
                  for lv, t in sorted(units) if levels is None or lv in levels]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def curves(self, levels: list[int] | None = None) -> pd.DataFrame:
        """Learning curves in long format (level, trial, arm, replicate, iteration, metrics...)."""
        return self._concat(paths.unit_curves, levels)

    def weight_hist(self, level: int) -> pd.DataFrame:
        return self._concat_imp(paths.unit_weight_hist, level)

    def weight_stats(self, level: int) -> pd.DataFrame:
        return self._concat_imp(paths.unit_weight_stats, level)

    def _concat_imp(self, path_of, level: int) -> pd.DataFrame:
        frames = [pd.read_parquet(path_of(self.path, level, t)) for t in self._trials_at(level)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def masks(self, level: int) -> dict[tuple, dict[str, np.ndarray]]:
        """{(arm, trial, replicate): {layer: bool array}} of every arm at this level (sweeps: this point).

        The reinit control uses the ticket's mask and is not stored apart.
        """
        out = {}
        for folder, units in self._sources():
            for lv, trial in sorted(units):
                if lv == level:
                    out.update(store.read_masks(paths.unit_masks(folder, level, trial)))
        return out

    def prune_curve(self) -> pd.DataFrame:
        frames = [pd.read_parquet(p) for p in sorted((self.path / "plan").glob("prune_curve_trial_*.parquet"))]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def dense_weights(self) -> dict[str, np.ndarray]:
        return store.read_npz(paths.dense_weights(self.path))


def level_table(run: Run, metric: str = "test_acc_at_early_stop") -> pd.DataFrame:
    """Per IMP level: % weights remaining, then the mean over trials and replicates of each arm's figures."""
    s = run.summary()
    if "method" in s:  # sweeps' levels are sweep points, not pruning rounds: see gate_table
        s = s[s["method"].isna()]
    if s.empty:
        return pd.DataFrame()
    ticket = s[s.arm == "ticket"].groupby("level")["percent_remaining"].mean().rename("% remaining")
    cols = [ticket.round(2)]
    for arm in sorted(s.arm.unique(), key=arms.order):
        g = s[s.arm == arm].groupby("level")
        cols.append(g["early_stop_iteration"].mean().round(0).rename(f"{arm} es-iter"))
        cols.append((100 * g[metric].mean()).round(2).rename(f"{arm} acc %"))
    return pd.concat(cols, axis=1).reset_index()


MIXED = "mixed"  # cost_table's device of a chain that trained on more than one device type


def sweep_trials(run: Run) -> list[int]:
    """The trials gate and cs sweeps ran on: the ones cost_table compares IMP over."""
    s = run.summary()
    return sorted(s.trial[~s.arm.map(arms.is_imp_family)].unique().tolist()) if not s.empty else []


def cost_note(run: Run) -> str:
    """What a cost chart's subtitle says of its trials."""
    trials = sweep_trials(run)
    return f" · every arm on trial(s) {', '.join(map(str, trials))}, the sweeps'" if trials else ""


def cost_table(run: Run, metric: str = "test_acc_at_early_stop") -> pd.DataFrame:
    """Per arm and level (sweep point): % remaining, accuracy, and what finding and training that ticket cost.

    Cost is model-iterations and wall seconds per trial, each model's share of its stack's time.
    IMP's ticket at level L needs its whole chain, levels 0..L; one-shot needs level 0 and its own training;
    gate and cs rows carry their own (mask learning plus retraining). Controls find nothing: left out.
    Where gate or cs sweeps exist, IMP's rows are over the sweeps' own trials: the same θ0 and data order.
    Seconds are left blank for a row whose units trained on more than one device: they do not add up.
    """
    s = run.summary()
    if s.empty:
        return pd.DataFrame()
    trials = sweep_trials(run)
    s = (s[s.trial.isin(trials)] if trials else s).assign(cost_device=None)
    costs = run.costs()
    if not costs.empty:
        costs = costs.assign(per_model=costs.seconds / costs.models, device=costs.device.str.split().str[0])
        costs = costs.sort_values(["trial", "level"])  # device: its type (cpu, cuda, mps), what sets the speed
        crossed = costs.groupby("trial").device.transform(lambda d: (d != d.iloc[0]).cummax())
        chain = costs.assign(chain_seconds=costs.groupby("trial").per_model.cumsum(),
                             chain_device=costs.device.where(~crossed, MIXED)).set_index(["level", "trial"])
        both = lambda a, b: a if a == b else MIXED  # noqa: E731
        iterations = run.config.training.iterations
        for arm, its, secs, device in (
                ("ticket", lambda lv: (lv + 1) * iterations, lambda lv, t: chain.chain_seconds.get((lv, t)),
                 lambda lv, t: chain.chain_device.get((lv, t))),
                ("one_shot", lambda lv: 2 * iterations,
                 lambda lv, t: chain.per_model.get((0, t), np.nan) + chain.per_model.get((lv, t), np.nan),
                 lambda lv, t: both(chain.device.get((0, t)), chain.device.get((lv, t))))):
            sel = s.arm == arm
            s.loc[sel, "cost_model_iterations"] = [its(lv) for lv in s.level[sel]]
            s.loc[sel, "cost_seconds"] = [secs(lv, t) for lv, t in zip(s.level[sel], s.trial[sel])]
            s.loc[sel, "cost_device"] = [device(lv, t) for lv, t in zip(s.level[sel], s.trial[sel])]
    if "cost_model_iterations" not in s:
        return pd.DataFrame()
    s = s[s.cost_model_iterations.notna()]
    if "setting" not in s:
        s["setting"] = ""
    s["setting"] = s["setting"].fillna("")
    g = s.groupby(["arm", "level", "setting"], sort=False)
    out = g.agg(percent_remaining=("percent_remaining", "mean"), accuracy=(metric, "mean"),
                model_iterations=("cost_model_iterations", "mean"), seconds=("cost_seconds", "mean"),
                trials=("trial", "nunique"), devices=("cost_device", "unique")).reset_index()
    out.loc[[len(d) > 1 or MIXED in d for d in out.devices], "seconds"] = np.nan
    out = out.drop(columns="devices")
    out["accuracy"] = 100 * out["accuracy"]
    return out.sort_values(["arm", "percent_remaining"], ascending=[True, False], ignore_index=True)


def gate_table(run: Run, metric: str = "test_acc_at_early_stop") -> pd.DataFrame:
    """Per gate / cs arm and sweep point: % remaining, accuracy, and IMP's ticket at the closest sparsity."""
    costs = cost_table(run, metric)
    if costs.empty:
        return pd.DataFrame()
    imp = costs[costs.arm == "ticket"]
    out = costs[~costs.arm.map(arms.is_imp_family)].copy()
    if out.empty or imp.empty:
        return out
    # closest on the log scale the charts use: ratios, not differences, of % remaining
    ratio = np.abs(np.log(np.maximum(out.percent_remaining.to_numpy()[:, None], 1e-9) / imp.percent_remaining.to_numpy()))
    nearest = imp.iloc[ratio.argmin(axis=1)]
    out["imp_level"] = nearest.level.to_numpy()
    out["imp_percent_remaining"] = nearest.percent_remaining.to_numpy()
    out["imp_accuracy"] = nearest.accuracy.to_numpy()
    out["imp_model_iterations"] = nearest.model_iterations.to_numpy()
    out["imp_seconds"] = nearest.seconds.to_numpy()
    return out.reset_index(drop=True)


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
        raise ConfigError(f"{what} in {runs_dir} match {ref!r}; give a run folder or a unique run-id prefix (see `lth ls`)")
    return hits[0]
