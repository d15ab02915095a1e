"""Instability analysis: copies forked at k, the straight line between them, barriers, resume, the CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pandas as pd
import pytest
import torch
from helpers import options

from lth.core import paths, store
from lth.core.config import ConfigError
from lth.core.paths import PROJECT_ROOT
from lth.core.stability_config import StabilityConfig
from lth.engine.train import Cancelled, evaluate
from lth.runs import barriers as readback
from lth.runs import results
from lth.tickets import execution, stability

FORKS = StabilityConfig(levels="0,2", rewinds="0,50", masks="ticket,reinit", points=5, train_eval_examples=200)


def copy_of(run, folder):
    return shutil.copytree(run.path, folder / run.path.name)


def analysis(path, run, scfg=FORKS) -> stability.Analysis:
    return stability.Analysis(run.config, scfg, scfg.forks(run.config), paths.stability_dir(path), run.dataset,
                              torch.device("cpu"), False)


def unit_numbers(path) -> dict:
    sdir = paths.stability_dir(path)
    out = {}
    for point, trial in sorted(store.finished_units(sdir)):
        blob = store.read_json(paths.unit_summary(sdir, point, trial))
        out[(point, trial)] = (blob["pairs"], pd.read_parquet(paths.unit_path(sdir, point, trial)).to_dict("list"))
    return out


@pytest.fixture(scope="module")
def analysed(finished_run, tmp_path_factory):
    path = copy_of(finished_run, tmp_path_factory.mktemp("stability"))
    stability.run(path, FORKS, options())
    return path


def test_every_fork_is_recorded_with_its_paths(analysed):
    forks = readback.summary(results.Run(analysed))
    assert len(forks) == 6  # dense and the ticket at level 2 at k = 0 and 50, the reinit control at level 2
    assert set(zip(forks.arm, forks.level)) == {("ticket", 0), ("ticket", 2), ("reinit", 2)}
    assert (forks.pairs == 1).all() and forks.percent_remaining.between(0, 100).all()
    errors = readback.path_errors(results.Run(analysed), [1])
    assert list(errors.alpha) == pytest.approx([0, 0.25, 0.5, 0.75, 1])
    line = errors.test_error.to_numpy()
    assert forks.test_barrier.iloc[0] == pytest.approx(line.max() - (line[0] + line[-1]) / 2, abs=1e-4)


def test_copies_with_the_same_data_order_have_a_barrier_of_exactly_zero(finished_run, tmp_path, monkeypatch):
    monkeypatch.setattr(stability.Analysis, "copy_order", lambda self, trial, copy: ("one order for both", trial))
    a = analysis(copy_of(finished_run, tmp_path), finished_run)
    final, _ = a.train(0)
    for p in range(len(a.forks)):
        copy_a, copy_b = ({n: v[2 * p + i:2 * p + i + 1] for n, v in final.items()} for i in (0, 1))
        assert all(torch.equal(copy_a[n], copy_b[n]) for n in copy_a)
        line = a.path(copy_a, copy_b)
        assert stability.barrier(line.test_error.to_numpy()) == 0.0
        assert stability.barrier(line.train_error.to_numpy()) == 0.0


def test_a_paths_ends_are_the_copies_own_errors(finished_run, tmp_path):
    a = analysis(copy_of(finished_run, tmp_path), finished_run, StabilityConfig(levels="2", rewinds="50", points=3))
    final, _ = a.train(0)
    line = a.path({n: v[:1] for n, v in final.items()}, {n: v[1:2] for n, v in final.items()})
    _, acc = evaluate(a.model, final, finished_run.dataset.x_test, finished_run.dataset.y_test)
    assert line.test_error.iloc[0] == pytest.approx(1 - float(acc[0]), abs=1e-6)
    assert line.test_error.iloc[-1] == pytest.approx(1 - float(acc[1]), abs=1e-6)


def test_copies_follow_the_runs_own_order_until_the_fork():
    order = stability.ForkedOrder([("run",), ("run",)], [("a",), ("b",)], [3, 3], n=50, batch=5, device="cpu")
    before = [order.indices(i) for i in range(3)]
    assert all(torch.equal(b[0], b[1]) for b in before)
    assert not torch.equal(order.indices(3)[0], order.indices(3)[1])


def test_a_killed_analysis_resumes_to_identical_numbers(finished_run, analysed, tmp_path, monkeypatch):
    path = copy_of(finished_run, tmp_path)
    calls = iter(range(10**6))
    monkeypatch.setattr(execution.Progress, "cancelled", lambda self: next(calls) == 1)  # killed after 100 iterations
    with pytest.raises(Cancelled):
        stability.run(path, FORKS, options())
    assert store.read_status(paths.stability_dir(path))["state"] == "cancelled"
    monkeypatch.undo()
    stability.run(path, FORKS, options())
    assert unit_numbers(path) == unit_numbers(analysed)


def test_forks_the_run_has_not_are_refused_before_anything_is_written(finished_run, tmp_path):
    path = copy_of(finished_run, tmp_path)
    for flags, message in ((["--levels", "0,5"], "--levels='0,5' is not allowed: levels 0 to 2"),
                           (["--rewinds", "100"], "--rewinds='100' is not allowed: iterations 0 to 99"),
                           (["--masks", "reinit", "--levels", "0"], "forks nothing"),
                           (["--copies", "1"], "--copies=1 is not allowed")):
        out = subprocess.run([sys.executable, "-m", "lth", "stability", str(path), *flags],
                             cwd=PROJECT_ROOT, capture_output=True, text=True)
        assert out.returncode == 2 and message in out.stderr and out.stderr.count("\n") == 1, out.stderr
    assert not paths.stability_dir(path).exists()


def test_unfinished_levels_are_refused(finished_run, tmp_path):
    path = copy_of(finished_run, tmp_path)
    shutil.rmtree(paths.level_dir(path, 2))
    with pytest.raises(ConfigError, match="has not finished level 2 of trial 0"):
        stability.run(path, FORKS, options())


def test_the_run_lists_the_analysis_but_its_units_add_no_arm(analysed):
    run = results.Run(analysed)
    methods = run.methods()
    assert methods.family.tolist() == ["stability"] and methods.units.iloc[0] == 6
    assert set(run.summary().arm) == {"ticket", "reinit", "random_prune", "one_shot"}
    assert not run.problems


def test_show_prints_and_export_draws_the_analysis(analysed, tmp_path):
    out = subprocess.run([sys.executable, "-m", "lth", "show", str(analysed)], cwd=PROJECT_ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0 and "stability: copies forked at iteration k" in out.stdout
    table = readback.barrier_table(readback.summary(results.Run(analysed)))
    assert len(table) == 6 and f"{table.test_barrier.iloc[0]:.2f}" in out.stdout
    from lth.report import export

    names = {c.name for c in export.stability_charts(results.Run(analysed), "")}
    assert names == {"stability_barrier_vs_k", "stability_barrier_vs_sparsity",
                     "stability_path_test_error_ticket_level0", "stability_path_test_error_ticket_level2",
                     "stability_path_test_error_reinit_level2"}


def test_a_damaged_path_leaves_only_its_chart_out_of_the_export(analysed, tmp_path):
    from lth.report import export

    path = shutil.copytree(analysed, tmp_path / "run")
    paths.unit_path(paths.stability_dir(path), 1, 0).write_bytes(b"not parquet")
    names = {c.name for c in export.stability_charts(results.Run(path), "")}
    assert "stability_path_test_error_ticket_level0" not in names and "stability_barrier_vs_k" in names


def test_a_late_rewinding_runs_ticket_forks_from_its_rewind_point(tmp_path):
    """In a run that rewinds to iteration r, a ticket's fork starts from the θr its level 0 saved (masked), the
    dense network's from θ0; every fork of such a run gets its barrier."""
    from helpers import SMALL

    from lth.core import config
    from lth.core.stability_config import Fork
    from lth.engine import data
    from lth.tickets import lottery

    cfg = config.preset("synthetic").override(**{**SMALL, "trials": 1, "levels": 1, "rewind_iteration": 30})
    path = lottery.run(cfg, tmp_path, options())
    scfg = StabilityConfig(levels="0,1", rewinds="0,20", masks="ticket,reinit", points=3, train_eval_examples=200)
    a = stability.Analysis(cfg, scfg, scfg.forks(cfg), paths.stability_dir(path), data.load(cfg.data, "unused"),
                           torch.device("cpu"), False)
    theta0 = a.model.init([a.streams.init(0)])
    plan = store.read_npz(paths.plan_file(path, 0))
    ticket, mask = a.start(Fork("ticket", 1, 0), 0)
    dense, _ = a.start(Fork("ticket", 0, 0), 0)
    for n in theta0:
        assert torch.equal(ticket[n][0], torch.from_numpy(plan[f"rewind/{n}"]))
        assert torch.equal(dense[n], theta0[n])
    assert not torch.equal(ticket["fc1.weight"], theta0["fc1.weight"])  # θ30 is not θ0
    assert 0 < float(next(iter(mask.values())).float().mean()) < 1
    stability.run(path, scfg, options())
    forks = readback.summary(results.Run(path))
    assert len(forks) == 6 and forks.test_barrier.notna().all()


@pytest.fixture(scope="module")
def batch_norm_run(tmp_path_factory):
    """A tiny VGG with batch norm (levels 0-1) and a run of its analysis: dense and ticket, k = 0 and 10."""
    from lth.core.config import Config
    from lth.engine import data
    from lth.tickets import lottery

    config = Config().override(dataset="synthetic", synthetic_shape="1x12x12", synthetic_train=400, validation_size=100,
                               synthetic_test=100, model="vgg6_w8", optimizer="sgd", lr=0.05, iterations=20,
                               eval_every=10, batch_size=32, levels=1, strategy="global", global_layers="conv",
                               random_prune=0, one_shot=False)
    cpu = execution.RunOptions(device="cpu", progress=False)
    run_dir = lottery.run(config, tmp_path_factory.mktemp("bn_runs"), cpu)
    scfg = StabilityConfig(levels="0,1", rewinds="0,10", masks="ticket,reinit", points=3, train_eval_examples=200)
    stability.run(run_dir, scfg, cpu)
    return config, run_dir, scfg, data.load(config.data, "unused")


def test_batch_norm_running_averages_are_measured_afresh_along_the_path(batch_norm_run):
    """The averages at a point are the mean over whole training batches of each batch's statistics; copies with one
    data order still have a barrier of exactly 0, and a path's ends are the copies with averages measured so."""
    from lth.engine import deep_models, models

    config, run_dir, scfg, dataset = batch_norm_run
    model = models.build("vgg6_w8", dataset.input_shape)
    params = model.init([torch.Generator().manual_seed(0)])
    x = dataset.x_train[:64]
    fresh = deep_models.reestimate_running_averages(model, params, x, batch=32)
    out = torch.nn.functional.conv2d(x, params["conv1.weight"][0], padding=1)
    halves = torch.stack([out[:32].mean((0, 2, 3)), out[32:].mean((0, 2, 3))])
    torch.testing.assert_close(fresh["conv1.running_mean"][0], halves.mean(0), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(fresh["conv1.weight"], params["conv1.weight"])  # only the averages change

    forks = readback.summary(results.Run(run_dir))
    assert len(forks) == 6 and forks.test_barrier.notna().all()  # dense, ticket and reinit (level 1) at k = 0, 10
    a = stability.Analysis(config, scfg, scfg.forks(config), paths.stability_dir(run_dir), dataset,
                           torch.device("cpu"), False)
    final, _ = a.train(0)
    one, two = ({n: v[i:i + 1] for n, v in final.items()} for i in (0, 1))
    line = a.path(one, two)
    both = {n: v[:2] for n, v in final.items()}
    ends = deep_models.reestimate_running_averages(model, both, dataset.x_train[:200], 32)
    _, acc = evaluate(model, ends, dataset.x_test, dataset.y_test)
    assert line.test_error.iloc[[0, -1]].tolist() == pytest.approx((1 - acc).tolist(), abs=1e-6)
    same = a.path(one, one)
    assert stability.barrier(same.test_error.to_numpy()) == 0.0
    assert stability.barrier(same.train_error.to_numpy()) == 0.0
