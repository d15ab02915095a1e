"""`lth bench`'s projection of the paper's LeNet experiment counts the stacks `lth run` would train it in."""

from __future__ import annotations

import pytest
import torch

from lth import bench_protocol
from lth.engine import models
from lth.tickets import lottery


def test_the_projection_uses_the_stacks_lth_run_would_train(monkeypatch):
    lenet = models.build("lenet_300_100", (1, 28, 28))
    cpu = bench_protocol.paper_stacks(lenet, torch.device("cpu"))
    # on a CPU: stacks of at most 10, so 3 trials at a time (then 2); level 0 trains only the dense nets
    assert cpu == {9: 20 * 9, 6: 20 * 6, 3: 3, 2: 2} and sum(cpu.values()) == 5 * (1 + 20 * 3)
    monkeypatch.setattr(lottery.devices, "stack_size", lambda model, device, batch: (64, "a GPU's"))
    assert bench_protocol.paper_stacks(lenet, torch.device("cpu")) == {15: 300, 5: 5}  # all five trials at once


def test_the_projection_adds_each_stacks_training_and_evaluation_time():
    lenet = models.build("lenet_300_100", (1, 28, 28))
    hours = bench_protocol.paper_projection(lenet, torch.device("cpu"), lambda k, its, reps: 1000.0 * k,
                                            lambda k, reps: 1e5 * k, reps=1, its=10)
    stacks, p = bench_protocol.paper_stacks(lenet, torch.device("cpu")), bench_protocol.PAPER
    evaluated = 500 * 5_000 + 50 * 10_000 + 55_000  # validation every 100, test every 1,000, train set at the end
    expected = sum(n * (50_000 / (1000 * k) + evaluated / (1e5 * k)) for k, n in stacks.items()) / 3600
    assert hours["thin"] == pytest.approx(expected, rel=1e-12) and p["iterations"] == 50_000
    assert hours["every"] > hours["thin"]
