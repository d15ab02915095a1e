"""check-paper's verdicts on small hand-made summaries: agree, disagree, and 'not yet'."""

from __future__ import annotations

import pandas as pd
import pytest

from lth.report import paper

CLAIM = "Tickets first fall below dense at"
LAST = 20


def summary(ticket_accuracy: dict[int, float], trials=(0, 1)) -> pd.DataFrame:
    """Ticket rows only, at 0.8**level of the weights; accuracies in % by level, the same for each trial."""
    return pd.DataFrame([{"level": lv, "trial": t, "arm": "ticket", "replicate": 0,
                          "percent_remaining": 100 * 0.8 ** lv, "test_acc_at_early_stop": acc / 100,
                          "early_stop_iteration": 1000}
                         for t in trials for lv, acc in ticket_accuracy.items()])


def verdict(frame: pd.DataFrame, last_level=LAST) -> pd.Series:
    return paper.check(frame, last_level).set_index("claim").loc[CLAIM]


def test_first_drop_near_the_papers_point_agrees():
    acc = {lv: 98.0 + (0.3 if lv < 16 else -0.2) for lv in range(LAST + 1)}  # 0.8**16: 2.8% remaining
    acc[0] = 98.0
    row = verdict(summary(acc))
    assert row.verdict == "agree" and row["mean"] == pytest.approx(100 * 0.8 ** 16)


def test_a_finished_trial_that_never_drops_counts_at_the_sparsest_level():
    acc = {lv: 98.0 + 0.1 * (lv > 0) for lv in range(LAST + 1)}
    row = verdict(summary(acc))
    assert row["mean"] == pytest.approx(100 * 0.8 ** LAST)  # 1.15%: below the tolerance's 1.5%
    assert row.verdict == "disagree"


def test_a_trial_that_has_not_dropped_yet_is_not_judged():
    acc = {lv: 98.0 + 0.1 * (lv > 0) for lv in range(11)}
    row = verdict(summary(acc))
    assert row.verdict == "not yet" and "so far" in row["range"]
    assert verdict(summary(acc), last_level=None).verdict == "not yet"  # no ladder given: never guessed


def test_an_empty_run_is_not_yet_on_every_claim():
    table = paper.check(pd.DataFrame(columns=["level", "trial", "arm", "replicate", "percent_remaining",
                                              "test_acc_at_early_stop", "early_stop_iteration"]), LAST)
    assert len(table) == len(paper.CLAIMS) and set(table.verdict) == {"not yet"}
