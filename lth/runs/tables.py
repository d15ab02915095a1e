"""Tables derived from a run's summary: per level, what each ticket cost, and IMP's level nearest a sparsity.

Where a rule about levels lives: the mean % of weights remaining per level, and the nearest level to
a sparsity (on the log scale every chart uses), exist here once; the CLI, the export and the pages ask.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core import arms, catalog
from .results import Run

GRADIENT = "Found by gradient descent"  # the arm group of the gate and cs sweeps' arms (arms.GROUPS)
AT_INIT = "Pruned at initialization"  # the arm group of pruning at init's arms and its sanity checks


def imp_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """IMP's rows (the ticket and its controls, by pruning level), `level` as a plain integer."""
    if summary.empty:
        return summary
    rows = summary[summary.point.isna()] if "point" in summary else summary
    return rows.assign(level=rows.level.astype(int))


def sweep_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """The sweeps' rows (by sweep point), `point` as a plain integer."""
    if summary.empty or "point" not in summary:
        return summary.iloc[:0]
    rows = summary[summary.point.notna()]
    return rows.assign(point=rows.point.astype(int))


def percent_by_level(summary: pd.DataFrame, arm: str = "ticket") -> pd.Series:
    """Mean % of weights remaining of an arm at each of its levels (a sweep arm's: at each point)."""
    rows = summary[summary.arm == arm]
    if rows.empty:
        return pd.Series(dtype=float)
    key = "point" if rows.point.notna().all() else "level"
    rows = sweep_rows(rows) if key == "point" else imp_rows(rows)
    return rows.groupby(key)["percent_remaining"].mean()


def settings_by_point(summary: pd.DataFrame, arm: str) -> pd.Series:
    """A gradient method's arm: its setting (λ or s0) at each sweep point."""
    return sweep_rows(summary[summary.arm == arm]).groupby("point")["setting"].first()


def at(summary: pd.DataFrame, arm: str, level: int | None = None, point: int | None = None,
       trial: int | None = None) -> pd.Series:
    """An arm's figures at a level (or sweep point): the mean over trials and control copies, or one trial's."""
    if point is None:
        rows = imp_rows(summary)
        rows = rows[rows.level == level]
    else:
        rows = sweep_rows(summary)
        rows = rows[rows.point == point]
    rows = rows[(rows.arm == arm) & (rows.trial == trial)] if trial is not None else rows[rows.arm == arm]
    return rows.mean(numeric_only=True)


def pruned_accuracy(prune_curve: pd.DataFrame, percent: float) -> float:
    """Test accuracy (%) of the trained dense net pruned by magnitude to `percent`, not retrained: the mean over
    trials of the measured curve (Run.prune_curve), interpolated between its measured sparsities."""
    mean = prune_curve.groupby("remaining")["test_acc"].mean().sort_index()
    return 100 * float(np.interp(percent / 100, mean.index, mean.values))


def movement_kept_vs_pruned(stats: pd.DataFrame) -> pd.DataFrame:
    """Weight movement (Run.weight_stats rows) of the weights the next level keeps vs prunes: means over the rows
    given (trials, a layer), the weight count per trial rounded to whole weights. Indexed by the stored column
    `group`, which says "kept" or "pruned" (not an arm group)."""
    columns = ["count", "mean_abs_initial", "mean_abs_final", "mean_movement", "median_movement"]
    table = stats.groupby("group")[columns].mean()
    return table.assign(count=table["count"].round().astype(int))




def nearest(percents: pd.Series, percent: float):
    """The index of `percents` (% remaining by level) closest to `percent` on a log scale: ratios, not differences."""
    if percents.empty:
        return None
    ratio = np.abs(np.log(np.maximum(percent, 1e-9) / np.maximum(percents.to_numpy(dtype=float), 1e-9)))
    return percents.index[int(ratio.argmin())]


def nearest_level(summary: pd.DataFrame, percent: float, arm: str = "ticket") -> int | None:
    """The level of IMP's `arm` whose mean % remaining is closest to `percent` (log scale); None: no level yet."""
    level = nearest(percent_by_level(imp_rows(summary), arm), percent)
    return None if level is None else int(level)


def level_table(run: Run, metric: str = "test_acc_at_early_stop") -> pd.DataFrame:
    """Per IMP level: % weights remaining, then the mean over trials and control copies of each arm's figures."""
    s = imp_rows(run.summary())  # sweep points are not pruning rounds: see gate_table
    if s.empty:
        return pd.DataFrame()
    ticket = percent_by_level(s).rename("% remaining")
    cols = [ticket.round(2)]
    for arm in sorted(s.arm.unique(), key=arms.order):
        g = s[s.arm == arm].groupby("level")
        cols.append(g["early_stop_iteration"].mean().round(0).rename(f"{arm} es-iter"))
        cols.append((100 * g[metric].mean()).round(2).rename(f"{arm} acc %"))
    return pd.concat(cols, axis=1).reset_index()


def comparison(runs: dict[str, Run], metric: str = "test_acc_at_early_stop") -> pd.DataFrame:
    """Two or more runs of one ladder side by side, per level, on the (level, trial) units every run has: the
    ticket's early-stop iteration and accuracy, the random-reinit control's early-stop iteration, and the ticket's
    lead in accuracy over it (points)."""
    rows = {name: imp_rows(run.summary()) for name, run in runs.items()}
    units = set.intersection(*({(int(r.level), int(r.trial)) for r in s.itertuples()} for s in rows.values()))
    if not units:
        return pd.DataFrame()
    cols = []
    for name, s in rows.items():
        s = s[[(int(lv), int(t)) in units for lv, t in zip(s.level, s.trial)]]
        ticket = s[s.arm == "ticket"].groupby("level")
        reinit = s[s.arm == "reinit"].groupby("level")
        cols += [ticket["early_stop_iteration"].mean().round(0).rename(f"{name} es-iter"),
                 (100 * ticket[metric].mean()).round(2).rename(f"{name} ticket %"),
                 reinit["early_stop_iteration"].mean().round(0).rename(f"{name} reinit es-iter"),
                 (100 * (ticket[metric].mean() - reinit[metric].mean())).round(2).rename(f"{name} ticket-reinit")]
    table = pd.concat(cols, axis=1)
    trials = pd.Series([t for _, t in sorted(units)], index=[lv for lv, _ in sorted(units)])
    trials_by_level = trials.groupby(level=0).apply(lambda t: ",".join(map(str, sorted(t))))
    table.insert(0, "trials", trials_by_level)
    table.insert(0, "% remaining", percent_by_level(next(iter(rows.values()))).round(2))
    return table.rename_axis("level").reset_index()


def structure_table(run: Run, metric: str = "test_acc_at_early_stop") -> pd.DataFrame:
    """What each network of a slimming run costs, per level and arm (means over trials): % of weights and channels
    left, parameters, FLOPs per example and the speed-up they promise, the measured inference time beside the
    dense network's (timed in the same moment) and the speed-up measured, and accuracy. IMP's ticket is there as
    the unstructured comparison: stored and run dense, its FLOPs and time are the dense network's."""
    s = imp_rows(run.summary())
    if s.empty or "inference_ms" not in s:
        return pd.DataFrame()
    s = s[s.inference_ms.notna()]
    channel_cols = [c for c in s.columns if c.startswith("channels:")]
    total = s[channel_cols].sum(axis=1, min_count=1)
    s = s.assign(channels=total, speedup_flops=s.flops_dense / s.flops,
                 speedup=s.inference_ms_dense / s.inference_ms)
    g = s.groupby(["level", "arm"], sort=False)
    table = pd.DataFrame({
        "% remaining": 100 * g.remaining.mean(),
        "channels": g.channels.mean(),
        "params": g.parameters.mean(), "params dense": g.parameters_dense.mean(),
        "MFLOPs": g.flops.mean() / 1e6, "x fewer FLOPs": g.speedup_flops.mean(),
        "ms": g.inference_ms.mean(), "ms dense": g.inference_ms_dense.mean(), "x faster": g.speedup.mean(),
        "acc %": 100 * g[metric].mean()}).reset_index()
    table = table.sort_values(["level", "arm"], key=_arms_in_order)
    return table.reset_index(drop=True)


def _arms_in_order(column: pd.Series) -> pd.Series:
    """A sort key: the arm column in registry order, any other column as it is."""
    return column.map(arms.order) if column.name == "arm" else column


MIXED = "mixed"  # cost_table's device of a chain that trained on more than one device type


def sweep_trials(run: Run) -> list[int]:
    """The trials gate and cs sweeps ran on (without any: the trials of any other method's sweep): the ones
    cost_table compares IMP over."""
    s = run.summary()
    if s.empty:
        return []
    gates = s.arm.map(arms.group) == GRADIENT
    rows = s[gates] if gates.any() else s[~s.arm.map(arms.is_imp_family)]
    return sorted(rows.trial.unique().tolist())


def cost_note(run: Run) -> str:
    """What a cost chart's subtitle says of its trials."""
    trials = sweep_trials(run)
    return f" · every arm on trial(s) {', '.join(map(str, trials))}, the sweeps'" if trials else ""


def _chains(costs: pd.DataFrame) -> pd.DataFrame:
    """Run.costs() by (level, trial): each model's share of its stack's seconds and its device type, and the
    chain's up to that level: seconds summed, and its device type (MIXED from the first unit on another)."""
    costs = costs.assign(per_model=costs.seconds / costs.models, device=costs.device.str.split().str[0])
    costs = costs.sort_values(["trial", "level"])  # device: its type (cpu, cuda, mps), what sets the speed
    crossed = costs.groupby("trial").device.transform(lambda d: (d != d.iloc[0]).cummax())
    chain = costs.assign(chain_seconds=costs.groupby("trial").per_model.cumsum(),
                         chain_device=costs.device.where(~crossed, MIXED))
    return chain.set_index(["level", "trial"])


def _same_device(a: str | None, b: str | None) -> str | None:
    """Two units' device type when they share it, else MIXED."""
    return a if a == b else MIXED


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
        chain = _chains(costs)
        iterations = run.config.training.iterations

        def ticket(lv, t) -> tuple:  # its whole chain, levels 0..L
            return (lv + 1) * iterations, chain.chain_seconds.get((lv, t)), chain.chain_device.get((lv, t))

        def one_shot(lv, t) -> tuple:  # the dense level 0, then its own training
            seconds = chain.per_model.get((0, t), np.nan) + chain.per_model.get((lv, t), np.nan)
            return 2 * iterations, seconds, _same_device(chain.device.get((0, t)), chain.device.get((lv, t)))

        for arm, cost in (("ticket", ticket), ("one_shot", one_shot)):
            sel = s.arm == arm
            priced = [cost(lv, t) for lv, t in zip(s.level[sel], s.trial[sel])]
            s.loc[sel, "cost_model_iterations"] = [model_iterations for model_iterations, _, _ in priced]
            s.loc[sel, "cost_seconds"] = [seconds for _, seconds, _ in priced]
            s.loc[sel, "cost_device"] = [device for _, _, device in priced]
    if "cost_model_iterations" not in s:
        return pd.DataFrame()
    s = s[s.cost_model_iterations.notna()]
    if "setting" not in s:
        s["setting"] = ""
    s["setting"] = s["setting"].fillna("")
    g = s.groupby(["arm", "level", "point", "setting"], sort=False, dropna=False)  # a row has a level or a point
    out = g.agg(percent_remaining=("percent_remaining", "mean"), accuracy=(metric, "mean"),
                model_iterations=("cost_model_iterations", "mean"), seconds=("cost_seconds", "mean"),
                trials=("trial", "nunique"), devices=("cost_device", "unique")).reset_index()
    out.loc[[len(d) > 1 or MIXED in d for d in out.devices], "seconds"] = np.nan
    out = out.drop(columns="devices")
    out["accuracy"] = 100 * out["accuracy"]
    return out.sort_values(["arm", "percent_remaining"], ascending=[True, False], ignore_index=True)


def gate_table(run: Run, metric: str = "test_acc_at_early_stop") -> pd.DataFrame:
    """Per gate / cs arm and sweep point (not pruning at init's: init_table): % remaining, accuracy, and IMP's
    ticket at the closest sparsity."""
    costs = cost_table(run, metric)
    if costs.empty:
        return pd.DataFrame()
    imp = costs[costs.arm == "ticket"]
    out = costs[costs.arm.map(arms.group) == GRADIENT].copy()
    if out.empty or imp.empty:
        return out
    by_level = imp.set_index("level").percent_remaining
    nearest_levels = [nearest(by_level, pct) for pct in out.percent_remaining]
    nearest_rows = imp.set_index("level").loc[nearest_levels].reset_index()
    out = out.drop(columns="level").reset_index(drop=True).assign(point=lambda f: f.point.astype(int))
    for col in ("level", "percent_remaining", "accuracy", "model_iterations", "seconds"):
        out[f"imp_{col}"] = nearest_rows[col].to_numpy()
    return out.assign(imp_level=out.imp_level.astype(int))


IMP_CHECKS = {"": "ticket", "shuffled": "random_prune", "reinit": "reinit"}  # IMP's controls are its sanity checks


def init_table(run: Run, metric: str = "test_acc_at_early_stop") -> pd.DataFrame:
    """Per method (IMP's ticket and each pruning-at-init method) and IMP level: accuracy of the mask as found, of
    the mask shuffled within each layer and of the mask on re-drawn weights, and the two changes (points).

    IMP's checks are its controls: random pruning keeps the ticket's per-layer counts (its mask shuffled within
    each layer) and random reinitialisation re-draws its weights. IMP's rows are over the sweeps' trials only.
    """
    s = run.summary()
    if s.empty or "imp_level" not in s:
        return pd.DataFrame()
    found = sweep_rows(s[s.arm.map(arms.group) == AT_INIT])
    trials = sorted(found.trial.unique())
    imp = imp_rows(s[s.trial.isin(trials)])
    check_of_arm = {arm: check for check, arm in IMP_CHECKS.items()}
    parts = [imp[imp.arm.isin(IMP_CHECKS.values())].assign(method="imp", check=imp.arm.map(check_of_arm))]
    checks = [arm[len(method) + 1:] if arm != method else "" for arm, method in zip(found.arm, found.method)]
    parts.append(found.assign(level=found.imp_level.astype(int), check=checks))
    rows = pd.concat(parts, ignore_index=True)
    rows = rows[rows.level.isin(found.imp_level.astype(int).unique())]
    acc = (100 * rows.pivot_table(index=["method", "level"], columns="check", values=metric, aggfunc="mean"))
    out = acc.rename(columns={"": "found", "shuffled": "shuffled", "reinit": "reinit"}).reset_index()
    pct = rows[rows.check == ""].groupby(["method", "level"]).percent_remaining.mean().rename("percent_remaining")
    out = out.merge(pct.reset_index(), on=["method", "level"])
    n = rows[rows.check == ""].groupby(["method", "level"]).trial.nunique().rename("trials").reset_index()
    out = out.merge(n, on=["method", "level"])
    for check in ("shuffled", "reinit"):
        if check in out:
            out[f"{check}_change"] = out[check] - out["found"]
    order = {m: i for i, m in enumerate(["imp", *catalog.methods("init")])}
    out = out.sort_values(["level", "method"], key=lambda c: c.map(order) if c.name == "method" else c)
    columns = ["method", "level", "percent_remaining", "found", "shuffled", "reinit", "shuffled_change",
               "reinit_change", "trials"]
    return out[[c for c in columns if c in out]].reset_index(drop=True)
