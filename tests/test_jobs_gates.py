"""Gate sweeps as background jobs (lth.lab.jobs): the flags they pass, what they refuse before starting anything."""

from __future__ import annotations

from dataclasses import fields

import pytest
from helpers import GATE_SWEEPS, stamps, write_fake_mnist

from lth.cli import build_parser
from lth.core import config, paths
from lth.core.config import ConfigError
from lth.core.gate_config import GateConfig
from lth.lab import jobs


@pytest.mark.parametrize("gcfg", [*GATE_SWEEPS, GateConfig(method="gaussian", sweep="1e-5", retrain=False)])
def test_gate_args_give_back_the_same_sweep(gcfg):
    args = build_parser().parse_args(["gates", "RUN", *jobs.gate_args(gcfg)])
    given = {f.name: getattr(args, f.name) for f in fields(GateConfig) if getattr(args, f.name) is not None}
    assert GateConfig(**given) == gcfg


def test_data_missing_names_the_data_set(tmp_path):
    mnist = config.preset("lenet-mnist")
    assert "mnist" in jobs.data_missing(mnist, tmp_path)
    write_fake_mnist(tmp_path)
    assert jobs.data_missing(mnist, tmp_path) == ""
    assert jobs.data_missing(config.preset("synthetic"), tmp_path / "nowhere") == ""


def test_other_settings_on_a_finished_sweep_are_refused_and_nothing_changes(gated_run):
    mdir = paths.method_dir(gated_run.path, "gaussian")
    before, data_dir = stamps(mdir), gated_run.runs_dir  # synthetic: needs no data
    with pytest.raises(ConfigError, match="already has a gaussian sweep"):
        jobs.start_gates(gated_run.path, GateConfig(method="gaussian", sweep="1e-5"), data_dir)
    jobs.check_gates(gated_run.path, GATE_SWEEPS[0])  # the same settings: fine
    job = jobs.start_gates(gated_run.path, GATE_SWEEPS[0], data_dir)
    assert job.process is None and job.run_dir == mdir.resolve()  # already complete: nothing to start
    assert stamps(mdir) == before
