"""IMP live's sentence and chart (lth.report.live): what the class saw, computed from the run's summary."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from lth.core import arms
from lth.core.config import preset
from lth.report import live


def summary(levels: dict[int, dict[str, float]], percents: dict[int, float]) -> pd.DataFrame:
    """A run's summary as Run.summary() has it: one row per level and arm (accuracies as fractions)."""
    return pd.DataFrame([{"level": lv, "trial": 0, "arm": arm, "replicate": 0, "test_acc_at_early_stop": acc,
                          "percent_remaining": percents[lv], "remaining": percents[lv] / 100}
                         for lv, row in levels.items() for arm, acc in row.items()])


def test_the_sentence_says_where_the_ticket_stands_against_its_controls_at_the_sparsest_level():
    s = summary({0: {"ticket": 0.975}, 1: {"ticket": 0.976, "reinit": 0.970, "random_prune": 0.969},
                 10: {"ticket": 0.971, "reinit": 0.952, "random_prune": 0.941}}, {0: 100.0, 1: 80.2, 10: 13.42})
    assert live.sentence(s) == ("At 13.4% of the weights the ticket reached 97.1% test accuracy: 1.9 points above "
                                "random reinitialisation and 3.0 above random pruning.")


def test_the_sentence_follows_the_data_below_level_and_without_controls():
    s = summary({0: {"ticket": 0.90}, 2: {"ticket": 0.88, "reinit": 0.885, "random_prune": 0.88}}, {0: 100, 2: 64})
    assert live.sentence(s) == ("At 64.0% of the weights the ticket reached 88.0% test accuracy: 0.5 points below "
                                "random reinitialisation and level with random pruning.")
    assert live.sentence(s[s.level == 0]) == "The dense network, all of its weights, reached 90.0% test accuracy."
    alone = s[s.arm == "ticket"]
    assert live.sentence(alone) == "At 64.0% of the weights the ticket reached 88.0% test accuracy."
    assert live.sentence(pd.DataFrame()) == ""


def test_the_gap_is_between_the_rounded_figures_a_student_would_subtract():
    s = summary({0: {"ticket": 0.98}, 1: {"ticket": 0.97149, "reinit": 0.95251, "random_prune": 0.9}},
                {0: 100, 1: 80})
    assert "97.1% test accuracy: 1.8 points above" in live.sentence(s)  # 97.1 - 95.3, not 97.149 - 95.251 = 1.9


@pytest.mark.parametrize("levels", [{}, {0: {"ticket": 0.95}}, {0: {"ticket": 0.95},
                                                                  1: {"ticket": 0.96, "reinit": 0.9}}])
def test_the_chart_spans_the_whole_run_from_its_first_point(levels):
    config = preset("lenet-mnist-live")
    s = summary(levels, {0: 100.0, 1: 80.2}) if levels else pd.DataFrame()
    chart = live.chart(s, config)
    left, right = chart.figure.layout.xaxis.range  # log10 of %, 100% on the left
    assert left == pytest.approx(math.log10(115))
    assert right == pytest.approx(math.log10(0.85 * 100 * 0.8 ** 10))  # below level 10's 10.8%: every point fits
    assert chart.figure.layout.xaxis.type == "log"
    assert chart.figure.layout.xaxis.ticktext == ("100%", "64%", "41%", "26%", "17%", "11%")  # every other level
    drawn = {trace.name for trace in chart.figure.data if trace.name}
    assert drawn == {arms.label(arm) for row in levels.values() for arm in row}
