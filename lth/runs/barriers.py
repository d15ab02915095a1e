"""An instability analysis read back (lth stability; lth.tickets.stability computes it): barriers and paths."""

from __future__ import annotations

import pandas as pd

from ..core import paths, store
from . import tables
from .results import Run


def summary(run: Run) -> pd.DataFrame:
    """One row per fork (arm, level, k) and trial: % remaining, the train and test barriers (means over the pairs of
    copies, in %; the test barrier's lowest and highest pair too), the copies' mean test error at the path's ends (%)
    and how many pairs were compared."""
    sdir = paths.stability_dir(run.path)
    rows = []
    for point, trial in sorted(store.finished_units(sdir)):
        try:
            blob = store.read_json(paths.unit_summary(sdir, point, trial))
            pairs = pd.DataFrame(blob["pairs"])
            end_errors = pairs.test_error_ends.map(lambda ends: sum(ends) / len(ends))  # each pair's, at its ends
            rows.append({"point": point, "trial": trial, "arm": blob["arm"], "level": blob["level"], "k": blob["k"],
                         "percent_remaining": 100 * blob["remaining"],
                         "train_barrier": 100 * pairs.train_barrier.mean(),
                         "test_barrier": 100 * pairs.test_barrier.mean(),
                         "test_barrier_min": 100 * pairs.test_barrier.min(),
                         "test_barrier_max": 100 * pairs.test_barrier.max(),
                         "end_test_error": 100 * end_errors.mean(),
                         "pairs": len(pairs)})
        except (OSError, ValueError, KeyError, AttributeError, TypeError) as err:
            run.problems.append(f"stability point {point}, trial {trial}: summary.json unreadable ({err})")
    return pd.DataFrame(rows)


def path_errors(run: Run, points: list[int]) -> pd.DataFrame:
    """Error (%) along the line between copies, every pair and trial of the given forks (long format)."""
    sdir = paths.stability_dir(run.path)
    units = [(p, t) for p, t in sorted(store.finished_units(sdir)) if p in points]
    frames = [pd.read_parquet(paths.unit_path(sdir, p, t)) for p, t in units]
    if not frames:
        return pd.DataFrame()
    frame = pd.concat(frames, ignore_index=True)
    return frame.assign(train_error=100 * frame.train_error, test_error=100 * frame.test_error)


def ticket_gain(run: Run, trials: list[int]) -> pd.DataFrame:
    """Per IMP level: % remaining and the ticket's test accuracy at early stop minus the dense network's (points),
    means over the given trials (the analysis's own)."""
    s = tables.imp_rows(run.summary())
    if s.empty:
        return pd.DataFrame(columns=["level", "percent_remaining", "gain"])
    ticket = s[(s.arm == "ticket") & s.trial.isin(trials)].groupby("level")
    acc = 100 * ticket.test_acc_at_early_stop.mean()
    gain = acc - acc.get(0, float("nan"))
    return pd.DataFrame({"percent_remaining": ticket.percent_remaining.mean(), "gain": gain}).reset_index()


def barrier_table(forks: pd.DataFrame) -> pd.DataFrame:
    """Per network and k: % remaining, mean test and train barriers (points), the copies' test error, trials; then
    the pairs of copies compared (over all trials) and the test barrier of the lowest and the highest of them."""
    if forks.empty:
        return forks
    return forks.groupby(["arm", "level", "k"], sort=False).agg(
        percent_remaining=("percent_remaining", "mean"), test_barrier=("test_barrier", "mean"),
        train_barrier=("train_barrier", "mean"), end_test_error=("end_test_error", "mean"),
        trials=("trial", "nunique"), pairs=("pairs", "sum"), test_min=("test_barrier_min", "min"),
        test_max=("test_barrier_max", "max")).reset_index()
