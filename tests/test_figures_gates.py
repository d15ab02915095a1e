"""Figures for gate arms (lth.figures, lth.gate_figures): hand-made masks and frames, then the gated fixture run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import GATE_ARMS

from lth.core import arms
from lth.report import figures, gate_figures
from lth.runs import results, tables


def masks(**layers) -> dict[str, np.ndarray]:
    return {name: np.array(bits, dtype=bool) for name, bits in layers.items()}


# --- Jaccard overlap -------------------------------------------------------------------------
def test_jaccard_of_identical_masks_is_one_and_of_disjoint_masks_zero():
    a = np.array([1, 0, 1, 1, 0], dtype=bool)
    assert gate_figures.jaccard(a, a) == 1.0
    assert gate_figures.jaccard(a, ~a) == 0.0
    assert gate_figures.jaccard(np.zeros(4, bool), np.zeros(4, bool)) == 1.0  # two empty masks are the same mask


def test_overlap_frame_per_layer_and_pooled_on_a_hand_example():
    a = masks(fc1=[[1, 1], [0, 0]], out=[1, 1, 1, 0, 0, 0])
    b = masks(fc1=[[1, 0], [1, 0]], out=[1, 1, 1, 0, 0, 0])
    frame = gate_figures.overlap_frame(a, b).set_index("layer")
    assert list(frame.index) == ["fc1", "out", gate_figures.ALL_LAYERS]
    # fc1: both keep 1 weight, either keeps 3; out: identical; pooled: both 4, either 6.
    assert frame.loc["fc1", ["kept_a", "kept_b", "kept_both", "kept_either"]].tolist() == [2, 2, 1, 3]
    assert frame.jaccard.tolist() == pytest.approx([1 / 3, 1.0, 4 / 6])
    # Two independent masks each keeping half the weights share 0.25 / 0.75 on average.
    assert frame.loc["fc1", "chance"] == pytest.approx(1 / 3)
    assert frame.loc[gate_figures.ALL_LAYERS, "weights"] == 10


def test_mask_overlap_chart_draws_the_frame():
    a, b = masks(fc1=[1, 1, 0, 0]), masks(fc1=[0, 0, 1, 1])
    chart = gate_figures.mask_overlap(a, b, ("gate", "imp"), "sub", "overlap_x")
    bars = chart.figure.data[0]
    assert list(bars.x) == ["fc1", gate_figures.ALL_LAYERS] and list(bars.y) == [0.0, 0.0]
    assert chart.name == "overlap_x" and set(chart.data.mask_a) == {"gate"}
    assert "gate vs imp" in chart.figure.layout.title.text


# --- gate arms in the sparsity charts -------------------------------------------------------------
def summary_with_gates() -> pd.DataFrame:
    """As Run.summary gives it: IMP's rows by level, a gradient method's by sweep point (the other NaN)."""
    nan = float("nan")
    rows = [dict(level=0, point=nan, arm="ticket", setting=None, percent_remaining=100.0, acc=0.9),
            dict(level=1, point=nan, arm="ticket", setting=None, percent_remaining=80.0, acc=0.91),
            dict(level=1, point=nan, arm="reinit", setting=None, percent_remaining=80.0, acc=0.85),
            dict(level=nan, point=1, arm="gaussian_weak", setting="λ=1e-05", percent_remaining=50.0, acc=0.92),
            dict(level=nan, point=2, arm="gaussian_weak", setting="λ=1e-04", percent_remaining=10.0, acc=0.90),
            dict(level=nan, point=3, arm="gaussian_weak", setting="λ=1e-03", percent_remaining=0.0, acc=0.10)]
    frame = pd.DataFrame(rows).assign(trial=0)
    return frame.assign(test_acc_at_early_stop=frame.acc, early_stop_iteration=100)


def test_dense_level_starts_controls_but_never_gate_arms():
    frame = figures.sparsity_frame(summary_with_gates(), "test_acc_at_early_stop")
    assert sorted(frame[frame.arm == "reinit"].level) == [0, 1]
    gate = frame[frame.arm == "gaussian_weak"]
    assert sorted(gate.point) == [1, 2, 3] and gate.level.isna().all() and 100.0 not in set(gate.percent_remaining)
    assert gate.label.tolist() == ["λ=1e-05", "λ=1e-04", "λ=1e-03"]
    assert frame[frame.arm == "ticket"].label.tolist() == ["level 0", "level 1"]


def test_gate_points_hover_by_setting_and_zero_remaining_is_said_not_drawn():
    chart = figures.sparsity_chart({"run": summary_with_gates()}, "test_acc_at_early_stop")
    trace = next(t for t in chart.figure.data if t.name == arms.label("gaussian_weak"))
    assert list(trace.x) == [50.0, 10.0]  # the 0% point cannot sit on a log axis
    assert [c[0] for c in trace.customdata] == ["λ=1e-05", "λ=1e-04"]
    assert "1 point(s) with no weight left not drawn" in chart.figure.layout.title.text


def test_gate_arm_styles_pair_strong_and_weak():
    for method in ("gaussian", "hard_concrete"):
        strong, weak = f"{method}_strong", f"{method}_weak"
        assert arms.colour(strong) != arms.colour(weak)
        assert (arms.marker(strong), arms.marker(weak)) == ("diamond", "circle")
        assert "strong" in arms.label(strong) and "weak" in arms.label(weak)
    # every arm drawn solid has a colour of its own; a sanity check (lth prune-init) shares its method's, dashed
    colours = [arms.colour(a) for a in arms.REGISTRY if arms.dash(a) == "solid"]
    assert len(set(colours)) == len(colours)
    styles = [(arms.colour(a), arms.marker(a), arms.dash(a)) for a in arms.REGISTRY]
    assert len(set(styles)) == len(styles)


# --- on the gated fixture run -----------------------------------------------------------------
def test_gated_run_figures(gated_run):
    run = results.Run(gated_run.path)
    summary = run.summary()
    frame = figures.sparsity_frame(summary, "test_acc_at_early_stop")
    for arm in GATE_ARMS:
        assert frame[frame.arm == arm].level.isna().all() and frame[frame.arm == arm].point.notna().all(), arm
        assert frame[frame.arm == arm].label.str.contains("=").all(), arm
    es = figures.sparsity_chart({"r": summary}, "early_stop_iteration")
    assert not set(es.data.arm) & set(arms.of_kind("strong"))  # never trained: no early stop

    costs = tables.cost_table(run)
    chart = gate_figures.cost_chart(costs, "sub")
    legend = {t.name for t in chart.figure.data if t.showlegend is not False}
    shown = costs[costs.percent_remaining > 0]
    assert legend == {arms.label(a) for a in shown.arm.unique()}
    bottom = [t for t in chart.figure.data if t.yaxis == "y2"]
    drawn = sorted(v for t in bottom for v in t.y)
    assert drawn == sorted(shown.model_iterations)


def test_gated_run_overlap_of_a_gate_mask_with_itself_is_one(gated_run):
    run = results.Run(gated_run.path)
    mine = run.masks(point=1)[("gaussian_strong", 0, 0)]
    assert (gate_figures.overlap_frame(mine, mine).jaccard == 1.0).all()
    # strong and weak share the learned mask by construction
    weak = run.masks(point=1)[("gaussian_weak", 0, 0)]
    assert (gate_figures.overlap_frame(mine, weak).jaccard == 1.0).all()
