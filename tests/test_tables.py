"""lth.runs.tables: the rules about levels that exist once (IMP's rows, % remaining per level, the nearest level)."""

from __future__ import annotations

import pandas as pd

from lth.runs import tables


def summary() -> pd.DataFrame:
    nan = float("nan")
    return pd.DataFrame({
        "arm": ["ticket", "ticket", "ticket", "ticket", "reinit", "cs", "cs"],
        "level": [0, 1, 2, 3, 3, nan, nan], "point": [nan, nan, nan, nan, nan, 1, 2], "trial": 0,
        "percent_remaining": [100.0, 10.0, 2.0, 1.0, 1.0, 5.0, 4.0]})


def test_imp_and_sweep_rows_split_by_level_and_point_as_whole_numbers():
    imp, sweep = tables.imp_rows(summary()), tables.sweep_rows(summary())
    assert imp.level.tolist() == [0, 1, 2, 3, 3] and imp.level.dtype.kind == "i"
    assert sweep.point.tolist() == [1, 2] and set(sweep.arm) == {"cs"}


def test_percent_by_level_is_the_mean_per_level_or_per_sweep_point():
    assert tables.percent_by_level(summary()).to_dict() == {0: 100.0, 1: 10.0, 2: 2.0, 3: 1.0}
    assert tables.percent_by_level(summary(), "cs").to_dict() == {1: 5.0, 2: 4.0}
    assert tables.percent_by_level(summary(), "one_shot").empty


def test_nearest_level_is_closest_on_the_log_scale_not_by_difference():
    # 5% is 3 points from 2% and 5 from 10%, but 10% is the nearer on a log axis (x2 vs x2.5).
    assert tables.nearest_level(summary(), 5.0) == 1
    assert tables.nearest_level(summary(), 99.0) == 0
    assert tables.nearest_level(summary(), 1.1) == 3
    assert tables.nearest_level(summary(), 5.0, arm="one_shot") is None


def test_at_gives_an_arms_mean_or_one_trials_figures_at_a_level_or_point():
    s = pd.concat([summary(), summary().assign(trial=1, percent_remaining=lambda f: f.percent_remaining / 2)])
    assert tables.at(s, "ticket", level=1).percent_remaining == 7.5
    assert tables.at(s, "ticket", level=1, trial=1).percent_remaining == 5.0
    assert tables.at(s, "cs", point=2).percent_remaining == 3.0


def test_pruned_accuracy_interpolates_the_mean_measured_curve():
    curve = pd.DataFrame({"remaining": [1.0, 0.5, 1.0, 0.5], "test_acc": [0.98, 0.90, 0.96, 0.80]})
    assert tables.pruned_accuracy(curve, 100.0) == 97.0
    assert tables.pruned_accuracy(curve, 75.0) == (97.0 + 85.0) / 2


def test_movement_kept_vs_pruned_means_over_trials_with_whole_weight_counts():
    stats = pd.DataFrame({"group": ["kept", "kept", "pruned"], "count": [10, 11, 5],
                          "mean_abs_initial": [1.0, 3.0, 2.0], "mean_abs_final": 1.0, "mean_movement": 0.5,
                          "median_movement": 0.4})
    table = tables.movement_kept_vs_pruned(stats)
    assert table.loc["kept", "count"] == 10 and table.loc["kept", "mean_abs_initial"] == 2.0  # 10.5 rounds to even


def test_comparison_reads_only_the_units_every_run_has(finished_run, gated_run):
    """finished_run has trials 0-1, gated_run (the same ladder) trial 0: compared on trial 0 alone."""
    table = tables.comparison({"a": finished_run.run, "b": gated_run.run}).set_index("level")
    s = finished_run.run.summary()
    s = s[(s.trial == 0) & s.point.isna()] if "point" in s else s[s.trial == 0]
    assert list(table.index) == [0, 1, 2] and set(table.trials) == {"0"}
    for level in (1, 2):
        at = s[s.level == level].set_index("arm")
        assert table.loc[level, "a ticket %"] == round(100 * at.loc["ticket", "test_acc_at_early_stop"], 2)
        gap = 100 * (at.loc["ticket", "test_acc_at_early_stop"] - at.loc["reinit", "test_acc_at_early_stop"])
        assert table.loc[level, "a ticket-reinit"] == round(gap, 2)
        assert table.loc[level, "a es-iter"] == at.loc["ticket", "early_stop_iteration"]
        assert table.loc[level, "a reinit es-iter"] == at.loc["reinit", "early_stop_iteration"]
    assert tables.comparison({"a": finished_run.run, "b": finished_run.run})[["a ticket %", "a es-iter"]].equals(
        tables.comparison({"a": finished_run.run, "b": finished_run.run})[["b ticket %", "b es-iter"]].set_axis(
            ["a ticket %", "a es-iter"], axis=1))
