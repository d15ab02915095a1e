"""The arm registry: an arm declared once reaches the run, the summary frame, the figures and the export."""

from __future__ import annotations

import pytest
import torch
from helpers import SMALL, options

from lth.core import arms, config
from lth.report import export, figures
from lth.runs import results, tables
from lth.tickets import lottery, masks


def checkerboard(level: masks.Level, member: masks.Member):
    """The ticket's mask with every other weight of it dropped: a toy arm's mask function."""
    ticket = masks.ticket(level, member)
    return {n: m & (torch.arange(m.numel()).view(m.shape) % 2 == 0).to(m.device) for n, m in ticket.items()}


@pytest.fixture
def toy_arm(monkeypatch):
    arm = arms.Arm("toy", "Toy arm (checkerboard of the ticket)", "#117733", "control", mask="checkerboard",
                   from_dense=True, copies=lambda e: 1)
    monkeypatch.setitem(arms.REGISTRY, "toy", arm)
    monkeypatch.setitem(masks.MAKERS, "checkerboard", checkerboard)
    return arm


def test_a_toy_arm_is_one_entry_plus_its_mask_function(tmp_path, toy_arm):
    cfg = config.preset("synthetic").override(**{**SMALL, "trials": 1})
    assert arms.in_run(cfg)[-1] == "toy"
    run = results.Run(lottery.run(cfg, tmp_path, options()))

    s = run.summary()
    toy, ticket = s[s.arm == "toy"].set_index("level"), s[s.arm == "ticket"].set_index("level")
    assert sorted(toy.index) == [1, 2]  # like every control, it starts at level 1 (level 0 is the dense net)
    for level in (1, 2):  # half the ticket's weights, give or take one per layer
        assert toy.remaining[level] == pytest.approx(ticket.remaining[level] / 2, abs=0.01)
    mask, ticket_mask = run.masks(2)[("toy", 0, 0)], run.masks(2)[("ticket", 0, 0)]
    assert all((mask[n] <= ticket_mask[n]).all() for n in mask)  # a subset of the ticket

    assert "toy acc %" in tables.level_table(run).columns
    chart = figures.sparsity_chart({run.label: s}, "test_acc_at_early_stop", subtitle="")
    trace = next(t for t in chart.figure.data if t.name == toy_arm.label)
    assert trace.line.color == toy_arm.colour and list(trace.x)[0] == 100.0  # drawn from the dense network
    exported = {c.name: c.data for c in export.run_charts(run)}
    assert "toy" in set(exported["test_acc_at_early_stop_vs_sparsity"].arm)


def test_registry_answers_for_every_arm_the_engine_knows():
    assert arms.in_run(config.Config()) == ("ticket", "reinit", "random_prune", "one_shot")
    assert set(arms.of_kind("strong")) == {"gaussian_strong", "hard_concrete_strong"}
    assert all(arms.get(a).mask in masks.MAKERS for a in arms.in_run(config.Config()))
    assert not arms.has_own_mask("reinit") and arms.has_own_mask("random_prune")
    assert [arms.is_imp_family(a) for a in ("one_shot", "cs", "unknown")] == [True, False, True]
    with pytest.raises(ValueError, match="kind"):
        arms.register(arms.Arm("bad", "Bad", "#000000", "nonsense", mask="ticket"))
