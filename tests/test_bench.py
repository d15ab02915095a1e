"""`lth bench`'s projection of the paper's LeNet experiment counts the stacks `lth run` would train it in, level by
level at each level's sparsity; its live demo is timed to the first level's result and to the last's."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from lth.bench import paper as bench_paper
from lth.bench import protocol as bench_protocol
from lth.core.config import preset
from lth.engine import live_step, models
from lth.tickets import execution

LENET = models.build("lenet_300_100", (1, 28, 28))
CPU = torch.device("cpu")


def test_the_projection_uses_the_stacks_lth_run_would_train(monkeypatch):
    stacks = bench_paper.paper_stacks(LENET, CPU)
    # on a CPU: stacks of at most 10, so 3 trials at a time (then 2); level 0 trains only the dense nets
    assert stacks[0] == {3: 3, 2: 2} and all(stacks[level] == {9: 9, 6: 6} for level in range(1, 21))
    assert sum(stacks.values(), Counter()) == {9: 20 * 9, 6: 20 * 6, 3: 3, 2: 2}
    monkeypatch.setattr(execution.devices, "stack_size", lambda model, device, batch: (64, "a GPU's"))
    assert sum(bench_paper.paper_stacks(LENET, CPU).values(), Counter()) == {15: 300, 5: 5}  # all five trials at once


def test_the_projection_times_each_packed_level_at_its_own_sparsity(monkeypatch):
    monkeypatch.setattr(live_step, "vector_width", lambda device: 16)
    timed = []

    def train_rate(k, counts, its, reps):
        timed.append((k, sum(counts.values())))
        return 1000.0 * k

    hours = bench_paper.paper_projection(LENET, CPU, train_rate, lambda k, reps: 1e5 * k, reps=1, its=10)
    ladder = bench_paper.level_counts(LENET)
    packed = [level for level in range(21) if sum(ladder[level].values()) <= live_step.MAX_LIVE * LENET.prunable]
    assert packed == list(range(7, 21))  # 21.0% kept at level 7; every level before it is stepped whole
    whole = {(k, LENET.prunable) for k in (2, 3, 6, 9)}  # one dense timing per stack size
    assert sorted(timed) == sorted(whole | {(k, sum(ladder[level].values())) for level in packed for k in (6, 9)})
    evaluated = 500 * 5_000 + 50 * 10_000 + 55_000  # validation every 100, test every 1,000, train set at the end
    expected = sum(n * (50_000 / (1000 * k) + evaluated / (1e5 * k)) for k, n in
                   sum(bench_paper.paper_stacks(LENET, CPU).values(), Counter()).items()) / 3600
    assert hours["thin"] == pytest.approx(expected, rel=1e-12) and hours["every"] > hours["thin"]


def test_the_live_demo_is_timed_to_its_first_and_last_level(tmp_path, monkeypatch):
    """live_first_level_s and live_demo_s: from the run's start to level 0's summary on disk and to the last
    level's, in this process (a tiny synthetic run stands in for lenet-mnist-live, which needs MNIST)."""
    assert bench_protocol.live_demo_seconds(tmp_path, "cpu") is None  # no mnist.npz: not measured
    (tmp_path / "mnist.npz").touch()
    tiny = preset("synthetic").override(levels=2, iterations=40, eval_every=20)
    monkeypatch.setattr(bench_protocol, "preset", lambda name: tiny)
    times = bench_protocol.live_demo_seconds(tmp_path, "cpu")
    assert 0 < times["first_level"] < times["demo"] <= times["all"]


def test_the_own_module_row_trains_lenet_as_a_plain_module_both_ways(capsys):
    """Row 3b runs: the engine's Stack over LeNet as a plain nn.Sequential, stacked by vmap and one at a time."""
    from lth.bench import engine as bench_engine

    data = bench_engine.fake_data((1, 28, 28), 600, CPU)
    rates = bench_engine.foreign_rows(LENET, data, 1.0, bench_engine.train_flops(LENET), 1.0, its=2, reps=1)
    assert set(rates) == {"engine", "stacked", "looped"} and all(r > 0 for r in rates.values())
    out = capsys.readouterr().out
    assert "own module, torch.func, K=3" in out and "stacked vs one at a time" in out
