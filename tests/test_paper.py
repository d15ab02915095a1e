"""check-paper's verdicts on small hand-made summaries: agree, disagree, 'not yet', and that every
verdict is taken on the means over trials while the per-trial figures only make the spread."""

from __future__ import annotations

import pandas as pd
import pytest

from lth.report import paper

FIRST_DROP = "Tickets first fall below dense at"
ONE_SHOT_ACC = "One-shot more accurate than dense for 95% >= Pm >= 5.2%"
EARLIER = "Tickets stop early sooner than dense (ticket at 21.1% / dense)"
LAST = 20


def rows(accuracy: dict[int, float], trial=0, arm="ticket", es: dict[int, int] | None = None) -> list[dict]:
    """One arm of one trial, at 0.8**level of the weights; accuracies in % by level."""
    return [{"level": lv, "trial": trial, "arm": arm, "replicate": 0, "percent_remaining": 100 * 0.8 ** lv,
             "test_acc_at_early_stop": acc / 100, "early_stop_iteration": (es or {}).get(lv, 1000)}
            for lv, acc in accuracy.items()]


def summary(ticket_accuracy: dict[int, float], trials=(0, 1)) -> pd.DataFrame:
    """Ticket rows only, the same accuracies for each trial."""
    return pd.DataFrame([r for t in trials for r in rows(ticket_accuracy, t)])


def claim(frame: pd.DataFrame, name=FIRST_DROP, last_level=LAST) -> pd.Series:
    return paper.check(frame, last_level).set_index("claim").loc[name]


def test_first_drop_near_the_papers_point_agrees():
    acc = {lv: 98.0 + (0.3 if lv < 16 else -0.2) for lv in range(LAST + 1)}  # 0.8**16: 2.8% remaining
    acc[0] = 98.0
    row = claim(summary(acc))
    assert row.verdict == "agree" and row["mean"] == pytest.approx(100 * 0.8 ** 16)


def test_one_noisy_dense_trial_no_longer_decides_the_first_drop():
    """Trial 0's dense net is 0.5 points luckier than the others: on its own, its tickets are below its
    dense at once (80%). The mean curve stays above the mean dense down to 2.8%, and that decides."""
    tickets = {lv: 98.3 if lv < 16 else 97.8 for lv in range(1, LAST + 1)}
    frame = pd.DataFrame([r for t in range(5) for r in rows({0: 98.5 if t == 0 else 98.0, **tickets}, t)])
    row = claim(frame)
    assert row["mean"] == pytest.approx(100 * 0.8 ** 16)  # the mean of per-trial drops would be 18.2%
    assert row.verdict == "agree"
    assert row["range"] == f"{100 * 0.8 ** 16:.2f} to 80.00 over 5 trial(s)"  # the noisy trial shows as spread


def test_the_verdict_is_the_mean_curves_not_the_mean_of_per_trial_figures():
    """One-shot at 98.2% everywhere; dense 98.4% in trial 0, 97.8% in trial 1. Per trial the shares of
    levels above dense are 0% and 100% (mean 50%: would disagree); on the means (98.2 vs 98.1) 100%."""
    one_shot = {lv: 98.2 for lv in range(1, 14)}  # down to 5.5% remaining
    frame = pd.DataFrame(rows({0: 98.4}, 0) + rows(one_shot, 0, "one_shot")
                         + rows({0: 97.8}, 1) + rows(one_shot, 1, "one_shot"))
    row = claim(frame, ONE_SHOT_ACC)
    assert row.verdict == "agree" and row["mean"] == pytest.approx(100.0)
    assert row["range"] == "0.00 to 100.00 over 2 trial(s)"


def test_ratios_are_taken_of_the_means():
    """Early-stop ticket/dense: trial 0 800/1000, trial 1 1200/3000. On the mean curves 1000/2000 = 0.5;
    the mean of the two per-trial ratios would be 0.6."""
    acc = {lv: 98.0 for lv in range(8)}
    frame = pd.DataFrame(rows(acc, 0, es={0: 1000, 7: 800}) + rows(acc, 1, es={0: 3000, 7: 1200}))
    row = claim(frame, EARLIER)
    assert row["mean"] == pytest.approx(1000 / 2000)
    assert row["range"] == "0.40 to 0.80 over 2 trial(s)"


def test_a_finished_trial_that_never_drops_counts_at_the_sparsest_level():
    acc = {lv: 98.0 + 0.1 * (lv > 0) for lv in range(LAST + 1)}
    row = claim(summary(acc))
    assert row["mean"] == pytest.approx(100 * 0.8 ** LAST)  # 1.15%: below the tolerance's 1.5%
    assert row.verdict == "disagree"


def test_a_run_that_has_not_dropped_yet_is_not_judged():
    acc = {lv: 98.0 + 0.1 * (lv > 0) for lv in range(11)}
    row = claim(summary(acc))
    assert row.verdict == "not yet" and "so far" in row["range"]
    assert claim(summary(acc), last_level=None).verdict == "not yet"  # no ladder given: never guessed
    table = paper.check(summary(acc), LAST).set_index("claim")
    assert table.loc["Accuracy back to dense near 3.6%"].verdict == "not yet"  # level 15 not run yet
    gain = table.loc["Accuracy gain over dense at 13.5%"]  # level 9 is there: judged, +0.1 < +0.15
    assert gain.verdict == "disagree" and gain["mean"] == pytest.approx(0.1)


def test_means_wait_for_trials_still_running():
    """Trial 0 finished; trial 1 has run levels 0-5 only. The means are trial 0's alone (a level's mean
    never sets trials that have it against a dense mean over others); trial 1 joins the spread where it can."""
    done = {lv: 98.0 + (0.3 if lv < 16 else -0.2) for lv in range(LAST + 1)}
    done[0] = 98.0
    frame = pd.DataFrame(rows(done, 0) + rows({lv: 97.0 if lv else 98.0 for lv in range(6)}, 1))
    table = paper.check(frame, LAST).set_index("claim")
    assert table.loc[FIRST_DROP, "mean"] == pytest.approx(100 * 0.8 ** 16)
    assert table.loc[FIRST_DROP, "range"].endswith("over 2 trial(s); means over the 1 trial(s) that reached level 20")
    assert table.loc["Accuracy gain over dense at 13.5%", "range"].startswith("0.30 to 0.30 over 1 trial(s)")


def test_an_empty_run_is_not_yet_on_every_claim():
    table = paper.check(pd.DataFrame(columns=["level", "trial", "arm", "replicate", "percent_remaining",
                                              "test_acc_at_early_stop", "early_stop_iteration"]), LAST)
    assert len(table) == len(paper.CLAIMS) and set(table.verdict) == {"not yet"}
    assert set(paper.check(pd.DataFrame(), LAST).verdict) == {"not yet"}


# --- Section 5 (lth.report.paper_deep) ---------------------------------------------------------------------------
def _deep_frame(ticket: dict[int, float], reinit: dict[int, float]) -> pd.DataFrame:
    return pd.DataFrame(rows(ticket) + rows(reinit, arm="reinit"))


def test_section5_claims_follow_the_network_and_regime():
    from lth.core.config import preset
    from lth.report import paper_deep

    high = preset("resnet18-cifar10")
    assert paper_deep.regime(high) == "high" and paper_deep.full_run(high)
    assert paper_deep.regime(preset("vgg19-cifar10-low")) == "low"
    assert paper_deep.regime(preset("resnet18-cifar10-warmup")) == "warmup"
    assert paper_deep.regime(high.override(rewind_iteration=500)) == "late"
    assert not paper_deep.full_run(preset("resnet8-fashion-reduced"))
    assert not paper_deep.full_run(high.override(iterations=3000, lr_drops="1000,2000"))
    # at rate 0.1 the ticket falls under dense at once and tracks reinit: both claims agree
    ticket = {0: 90.5, **{lv: 89.8 - 0.3 * lv for lv in range(1, 9)}}  # down to 16.8% remaining
    reinit = {lv: 89.7 - 0.3 * lv for lv in range(1, 9)}
    table, note = paper_deep.check_run(high, _deep_frame(ticket, reinit))
    assert "rewound to θ0 at a high rate" in note
    assert table.verdict.tolist() == ["agree", "agree", "agree"]
    assert table["mean"].iloc[2] == pytest.approx(0.1)  # ticket minus reinit, in points
    # with late rewinding the same curves disagree (no level within 0.2 points of dense), ticket still > reinit
    late = paper_deep.check_run(high.override(rewind_iteration=500), _deep_frame(ticket, reinit))[0]
    assert late.verdict.tolist() == ["disagree", "agree"]


def test_a_reduced_deep_run_gets_its_figures_and_no_verdict():
    from lth.core.config import preset
    from lth.report import paper_deep

    reduced = preset("resnet8-fashion-reduced")
    ticket = {0: 90.0, **{lv: 91.0 for lv in range(1, 6)}}
    table, note = paper_deep.check_run(reduced, _deep_frame(ticket, {lv: 89.0 for lv in range(1, 6)}))
    assert "needs the full run" in note
    assert set(table.verdict) == {"needs the full run"}
    assert table["mean"].tolist()[:2] == pytest.approx([90.0, 100.0])  # dense; every pruned level at or above it


def test_a_slimming_run_is_checked_against_rethinkings_claims():
    """Fresh init vs fine-tuned, and θ0 vs fresh init (at rate 0.1 only), as mean gaps over the pruned levels."""
    from lth.core.config import preset
    from lth.report import paper_deep

    full = preset("vgg19-cifar10").override(slimming=True)
    ticket = {0: 93.0, **{lv: 92.0 for lv in range(1, 4)}}
    frame = pd.DataFrame(rows(ticket) + rows({lv: 91.0 for lv in range(1, 4)}, arm="reinit")
                         + rows({0: 93.1}, arm="slim_finetune") + rows({1: 93.0, 2: 92.6, 3: 92.0}, arm="slim_finetune")
                         + rows({1: 92.9, 2: 92.8, 3: 92.2}, arm="slim_fresh")
                         + rows({1: 93.0, 2: 92.7, 3: 92.4}, arm="slim_rewind"))
    table, note = paper_deep.check_run(full, frame)
    assert "network slimming" in note
    slim = table[table.claim.str.startswith("Slimming")].set_index("claim")
    assert slim["mean"].tolist() == pytest.approx([0.1, 0.0667], abs=1e-3)  # (−0.1+0.2+0.2)/3, (0.1−0.1+0.2)/3
    assert set(slim.verdict) == {"agree"}
    low = paper_deep.check_run(preset("vgg19-cifar10-low").override(slimming=True), frame)[0]
    assert low.claim.str.startswith("Slimming").sum() == 1  # the θ0 claim is about rate 0.1


def test_a_claim_resting_on_an_early_stop_at_the_last_evaluation_is_censored():
    """The ticket at 21.1% (level 7) stops at the budget's last evaluation in one trial: its early stop is a
    lower bound, so the ratio to the dense net's is 'censored', not agree or disagree. Accuracy claims on the
    same rows keep their verdicts, and without the budget nothing is censored."""
    acc = {lv: 98.0 for lv in range(LAST + 1)}
    es = {lv: 1000 for lv in range(LAST + 1)}
    frame = pd.DataFrame(rows(acc, 0, es=es) + rows(acc, 1, es={**es, 7: 5000}))
    checked = paper.check(frame, LAST, budget=5000).set_index("claim")
    assert checked.loc[EARLIER].verdict == "censored"
    assert "censored" in checked.loc[EARLIER]["range"]
    assert checked.loc[FIRST_DROP].verdict == paper.check(frame, LAST).set_index("claim").loc[FIRST_DROP].verdict
    assert paper.check(frame, LAST).set_index("claim").loc[EARLIER].verdict == "disagree"  # 3000/1000 is later
    uncensored = pd.DataFrame(rows(acc, 0, es=es) + rows(acc, 1, es=es))
    assert paper.check(uncensored, LAST, budget=5000).set_index("claim").loc[EARLIER].verdict == "disagree"
