"""IMP with its controls: arms, masks, rewinding, resuming, and one computation per run."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import ALL_ARMS, lth_command, options, stamps, subprocess_env

from lth.core import config, devices, paths, store
from lth.core.paths import PROJECT_ROOT
from lth.core.seeds import generator
from lth.engine import data, pruning, train
from lth.runs import results, tables
from lth.tickets import execution, lottery

CPU = torch.device("cpu")
TRIALS = [0, 1]  # the shared run's trials


def _lottery(fr) -> lottery.Lottery:
    return lottery.Lottery(fr.config, fr.path, fr.dataset, CPU, show_progress=False)


def _ladders(fr):
    """The model, and the total and per-layer surviving counts at each of the run's levels."""
    model, cfg, levels = fr.run.model(), fr.config.pruning, fr.config.experiment.levels
    return model, pruning.ladder(model, cfg, levels), pruning.layer_ladder(model, cfg, levels)


def _summary_without_timing(run_dir: Path, level: int, trial: int) -> dict:
    blob = store.read_json(paths.unit_summary(run_dir, level, trial))
    blob.pop("seconds")
    return blob


# --- one finished run, shared ---------------------------------------------------------
def test_every_arm_is_trained_at_every_pruned_level(finished_run):
    s = finished_run.run.summary()
    assert sorted(s.level.unique()) == [0, 1, 2]
    assert set(s[s.level == 0].arm) == {"ticket"}
    for level in (1, 2):
        rows = s[s.level == level]
        assert set(rows.arm) == ALL_ARMS
        assert len(rows) == 2 * 4  # 2 trials x (ticket, reinit, random prune, one-shot)
        assert sorted(rows[rows.arm == "ticket"].trial) == [0, 1]


def test_remaining_fraction_follows_the_ladder_for_every_arm(finished_run):
    model, totals, per_layer = _ladders(finished_run)
    s = finished_run.run.summary()
    for _, row in s.iterrows():  # fractions are stored at float32 precision: counts come back exactly
        assert row.remaining == pytest.approx(totals[row.level] / model.prunable, rel=1e-6)
        assert round(row.remaining * model.prunable) == totals[row.level]
        for layer in model.layers:
            fraction = row[f"remaining:{layer.name}"]
            assert round(fraction * layer.size) == per_layer[row.level][layer.name], (row.arm, layer.name)
    table = tables.level_table(finished_run.run)
    assert table["% remaining"].tolist() == [round(100 * t / model.prunable, 2) for t in totals]
    assert table["% remaining"].tolist() == [100.0, 80.04, 64.06]


def test_status_is_done_with_every_unit(finished_run):
    status = store.read_status(finished_run.path)
    assert status["state"] == "done" and status["units_done"] == 3 * 2
    assert finished_run.run.units == {(level, t) for level in (0, 1, 2) for t in TRIALS}
    assert finished_run.run.levels_done == [0, 1, 2]


def test_ticket_mask_is_the_previous_ticket_pruned_by_magnitude(finished_run):
    run = finished_run.run
    model, _, per_layer = _ladders(finished_run)
    for level in (0, 1):
        now, after = run.masks(level), run.masks(level + 1)
        for t in (0, 1):
            for name, mask in now[("next", t, 0)].items():
                assert np.array_equal(mask, after[("ticket", t, 0)][name])
                assert not (mask & ~now[("ticket", t, 0)][name]).any()  # only survivors survive
    # Level 1's ticket for trial 0: the trained dense net's largest weights, per layer.
    dense = {n: torch.from_numpy(w)[None] for n, w in run.dense_weights().items()}
    expected = pruning.magnitude_prune(model, dense, pruning.dense_masks(model, 1), finished_run.config.pruning,
                                       per_layer[1])
    for name, mask in expected.items():
        assert np.array_equal(mask[0].numpy(), run.masks(1)[("ticket", 0, 0)][name])


def test_reinit_control_shares_the_ticket_mask_with_fresh_weights(finished_run):
    run, lot = finished_run.run, _lottery(finished_run)
    for level in (1, 2):
        masks = run.masks(level)
        for key in [k for k in masks if k[0] == "reinit"]:  # stored only if it differs from no one
            for name, m in masks[key].items():
                assert np.array_equal(m, masks[("ticket", key[1], 0)][name])
        s = run.summary()
        s = s[s.level == level].set_index(["trial", "arm"])
        layer_cols = [c for c in s.columns if c.startswith("remaining")]
        for t in (0, 1):
            assert s.loc[(t, "reinit"), layer_cols].tolist() == s.loc[(t, "ticket"), layer_cols].tolist()
        # Inside the stack the runner trains: same mask, different initial weights.
        members = lot.members(level, TRIALS)
        params = lot.starting_weights(level, members, TRIALS)
        masks = lot.masks(level, members, TRIALS)
        for t in (0, 1):
            i = members.index(lottery.Member(t, "ticket", 0))
            j = members.index(lottery.Member(t, "reinit", 0))
            for name in masks:
                assert torch.equal(masks[name][i], masks[name][j])
                assert not torch.equal(params[f"{name}.weight"][i], params[f"{name}.weight"][j])
        curves = run.curves([level])
        ticket = curves[(curves.trial == 0) & (curves.arm == "ticket")].val_loss.to_numpy()
        reinit = curves[(curves.trial == 0) & (curves.arm == "reinit")].val_loss.to_numpy()
        assert len(ticket) == len(reinit) == 3 and not np.allclose(ticket[1:], reinit[1:])


def test_random_prune_keeps_the_ticket_counts_with_another_mask(finished_run):
    run = finished_run.run
    for level in (1, 2):
        masks = run.masks(level)
        for t in (0, 1):
            ticket, rand = masks[("ticket", t, 0)], masks[("random_prune", t, 0)]
            assert {n: int(m.sum()) for n, m in rand.items()} == {n: int(m.sum()) for n, m in ticket.items()}
            assert not np.array_equal(rand["fc1"], ticket["fc1"])
            # Random, not magnitude-based: it keeps many weights the ticket pruned.
            assert (rand["fc1"] & ~ticket["fc1"]).sum() > 0.1 * (~ticket["fc1"]).sum()


def test_one_shot_masks_have_the_ladder_counts_from_the_dense_net(finished_run):
    run = finished_run.run
    model, _, per_layer = _ladders(finished_run)
    dense = {n: torch.from_numpy(w)[None] for n, w in run.dense_weights().items()}
    for level in (1, 2):
        shot = run.masks(level)[("one_shot", 0, 0)]
        assert {n: int(m.sum()) for n, m in shot.items()} == per_layer[level]
        expected = pruning.magnitude_prune(model, dense, pruning.dense_masks(model, 1), finished_run.config.pruning,
                                           per_layer[level])
        for name, mask in expected.items():
            assert np.array_equal(mask[0].numpy(), shot[name])
    # One round of pruning is the same either way; after two, iterative and one-shot part ways.
    one, two = run.masks(1), run.masks(2)
    assert all(np.array_equal(one[("one_shot", 0, 0)][n], one[("ticket", 0, 0)][n]) for n in per_layer[1])
    assert not np.array_equal(two[("one_shot", 0, 0)]["fc1"], two[("ticket", 0, 0)]["fc1"])


def test_survivors_are_rewound_to_theta0(finished_run):
    lot = _lottery(finished_run)
    model = finished_run.run.model()
    seed = finished_run.config.experiment.seed
    theta0 = model.init([generator(seed, t, "init") for t in (0, 1)])
    rewind = lot.rewind_point(TRIALS)
    for n, p in theta0.items():
        assert torch.equal(rewind[n], p)
    for level in (0, 1, 2):
        members = lot.members(level, TRIALS)
        params = lot.starting_weights(level, members, TRIALS)
        for i, m in enumerate(members):
            if m.arm in ("ticket", "random_prune", "one_shot"):
                for n in theta0:
                    assert torch.equal(params[n][i], theta0[n][m.trial]), (level, m, n)
    # The weight statistics agree: level 1's ticket starts from level 0's initial weights.
    stats0, stats1 = finished_run.run.weight_stats(0), finished_run.run.weight_stats(1)
    kept0 = stats0[(stats0.group == "kept") & (stats0.layer == "fc1")].sort_values("trial")
    fc1 = stats1[stats1.layer == "fc1"].assign(total=lambda f: f["count"] * f.mean_abs_initial).groupby("trial")
    alive1 = fc1.total.sum() / fc1["count"].sum()  # kept and pruned together: all of level 1's ticket
    np.testing.assert_allclose(kept0.mean_abs_initial.to_numpy(), alive1.to_numpy(), rtol=1e-5)


def test_early_stop_iteration_is_the_minimum_of_the_stored_validation_curve(finished_run):
    run = finished_run.run
    curves = run.curves()
    for _, row in run.summary().iterrows():
        c = curves[(curves.level == row.level) & (curves.trial == row.trial) & (curves.arm == row.arm)
                   & (curves.replicate == row.replicate)].sort_values("iteration")
        j = int(np.argmin(c.val_loss.to_numpy()))
        assert row.early_stop_iteration == c.iteration.iloc[j]
        assert row.test_acc_at_early_stop == pytest.approx(float(c.test_acc.iloc[j]))


def test_a_finished_run_is_not_recomputed(finished_run):
    before = stamps(paths.level_dir(finished_run.path, 0).parent)
    plan = stamps(finished_run.path)
    started = time.perf_counter()
    again = lottery.run(finished_run.config, finished_run.runs_dir, options())
    assert again == finished_run.path
    assert time.perf_counter() - started < 5
    assert stamps(paths.level_dir(finished_run.path, 0).parent) == before
    assert {k: v for k, v in stamps(finished_run.path).items() if k != "status.json"} == \
           {k: v for k, v in plan.items() if k != "status.json"}
    assert store.read_status(finished_run.path)["state"] == "done"


# --- runs of their own ----------------------------------------------------------------
def test_end_to_end_imp_follows_the_ladder(tmp_path):
    cfg = config.preset("synthetic").override(iterations=40, eval_every=20, levels=4)
    run = results.Run(lottery.run(cfg, tmp_path, options()))
    model = run.model()
    totals = pruning.ladder(model, cfg.pruning, 4)
    s = run.summary()
    assert run.levels_done == [0, 1, 2, 3, 4]
    for level in range(5):
        rows = s[s.level == level]
        assert set(rows.arm) == ({"ticket"} if level == 0 else ALL_ARMS)
        assert [round(r * model.prunable) for r in rows.remaining] == [totals[level]] * len(rows)
    assert [round(p, 2) for p in s[s.arm == "ticket"].percent_remaining] == [100.0, 80.04, 64.06, 51.28, 41.05]
    assert s.test_acc_final.between(0, 1).all() and (s[s.level == 0].test_acc_final > 0.2).all()  # it learned


def test_late_rewinding_rewinds_to_the_dense_weights_at_iteration_k(tmp_path):
    cfg = config.preset("synthetic").override(iterations=60, eval_every=30, levels=1, rewind_iteration=20,
                                              reinit=0, random_prune=0)
    run_dir = lottery.run(cfg, tmp_path, options())
    dataset = data.load(cfg.data, Path("unused"))
    lot = lottery.Lottery(cfg, run_dir, dataset, CPU, show_progress=False)
    model = lot.model
    theta0 = model.init([generator(cfg.experiment.seed, 0, "init")])
    again = train.train(model, theta0, pruning.dense_masks(model, 1), dataset, cfg.training,
                        order_keys=[(cfg.experiment.seed, 0)], snapshot_at=20)
    plan = store.read_npz(paths.plan_file(run_dir, 0))
    rewind = lot.rewind_point([0])
    for n, p in again.snapshot.items():
        np.testing.assert_allclose(plan[f"rewind/{n}"], p[0].numpy(), rtol=0, atol=1e-6)
        assert not np.allclose(plan[f"rewind/{n}"], theta0[n][0].numpy())  # not the initialisation
        torch.testing.assert_close(rewind[n][0], torch.from_numpy(plan[f"rewind/{n}"]))
    params = lot.starting_weights(1, lot.members(1, [0]), [0])
    for n in theta0:
        torch.testing.assert_close(params[n][0], rewind[n][0], rtol=0, atol=0)


def test_execution_settings_and_stack_size_change_numbers_only_by_amplified_rounding(finished_run, tmp_path,
                                                                                    monkeypatch):
    """One trial at a time, in stacks of 3 models (so a level of 4 splits 3 + 1), vs the shared run."""
    monkeypatch.setattr(devices, "CPU_FC_STACK", 3)
    run_dir = lottery.run(finished_run.config, tmp_path, options(trials_together=1))
    assert store.read_execution(run_dir) == {"cpu": {"stack": 3, "trials_together": 1,
                                                     "threads": torch.get_num_threads()}}
    assert store.read_json(paths.unit_summary(run_dir, 1, 0))["execution"]["stack"] == 3
    assert store.read_execution(finished_run.path) != store.read_execution(run_dir)  # so there is something to compare
    finished = {u: paths.unit_summary(run_dir, *u).stat().st_mtime_ns for u in results.Run(run_dir).units}
    assert finished[(2, 0)] < finished[(0, 1)]  # trial-major: trial 0's whole curve first
    order = ["level", "trial", "arm", "replicate", "iteration"]
    a = finished_run.run.curves().sort_values(order, ignore_index=True)
    b = results.Run(run_dir).curves().sort_values(order, ignore_index=True)
    # Another stack size sums batched products in another order; 100 Adam steps amplify that rounding,
    # which is why a run keeps its execution settings (execution.json) to resume bit for bit.
    pd.testing.assert_frame_equal(a, b, check_exact=False, atol=5e-3, rtol=1e-2)


def test_the_seed_changes_the_data_order(tmp_path, monkeypatch):
    """'every trial, arm and control derives its own [stream] from' experiment.seed: the batches too."""
    first_batches = {}

    class Seen(Exception):
        pass

    def spy(model, params, masks, dataset, cfg, order_keys, **kw):
        first_batches[seed] = train.BatchOrder(order_keys, len(dataset.x_train), cfg.batch_size, "cpu").indices(0)
        raise Seen  # enough seen; stop before any file is written

    monkeypatch.setattr(lottery, "train", spy)
    for seed in (0, 1):
        cfg = config.preset("synthetic").override(seed=seed, iterations=10)
        dataset = data.load(cfg.data, Path("unused"))
        with pytest.raises(Seen):
            lottery.Lottery(cfg, tmp_path / str(seed), dataset, CPU, show_progress=False).run_level(0, [0])
    assert not torch.equal(first_batches[0], first_batches[1])


@pytest.mark.parametrize("data_order", ["shared", "fresh"])
def test_data_order_is_the_trials_own_or_each_level_and_arms(finished_run, tmp_path, monkeypatch, data_order):
    seen = {}

    class Seen(Exception):
        pass

    def spy(model, params, masks, dataset, cfg, order_keys, **kw):
        seen[level] = order_keys
        raise Seen

    monkeypatch.setattr(lottery, "train", spy)
    cfg, dataset = finished_run.config.override(data_order=data_order), finished_run.dataset
    path = shutil.copytree(finished_run.path, tmp_path / "run")  # its levels 0-1: the masks levels 1-2 start from
    imp = lottery.Lottery(cfg, path, dataset, CPU, show_progress=False)
    for level in (1, 2):
        with pytest.raises(Seen):
            imp.run_level(level, [0, 1])
    members = imp.members(1, [0, 1])
    if data_order == "shared":  # today's: every level and arm of a trial sees the trial's batches
        assert seen[1] == seen[2] == [(0, m.trial) for m in members]
    else:
        assert len(set(seen[1])) == len(members) and not set(seen[1]) & set(seen[2])
        batches = train.BatchOrder(seen[1], len(dataset.x_train), cfg.training.batch_size, "cpu").indices(0)
        assert len({tuple(b.tolist()) for b in batches}) == len(members)


def test_divergence_marks_the_run_failed(tmp_path):
    cfg = config.preset("synthetic").override(lr=1e30, iterations=20, eval_every=10, levels=1)
    with pytest.raises(train.Diverged):
        lottery.run(cfg, tmp_path, options())
    status = store.read_status(tmp_path / cfg.run_id)
    assert status["state"] == "failed" and status["error"].startswith("diverged")
    assert store.finished_levels(tmp_path / cfg.run_id) == []


def test_cancel_stops_after_a_level_and_the_run_resumes(tmp_path, monkeypatch):
    cfg = config.preset("synthetic").override(iterations=40, eval_every=20, levels=2)
    real_run_level = lottery.Lottery.run_level

    def run_level_then_cancel(self, level, trials):
        real_run_level(self, level, trials)
        if level == 0:
            execution.cancel(self.run_dir)

    monkeypatch.setattr(lottery.Lottery, "run_level", run_level_then_cancel)
    with pytest.raises(train.Cancelled):
        lottery.run(cfg, tmp_path, options())
    run_dir = tmp_path / cfg.run_id
    assert store.read_status(run_dir)["state"] == "cancelled"
    assert store.finished_units(run_dir) == {(0, 0)}
    level0 = stamps(paths.level_dir(run_dir, 0))

    monkeypatch.setattr(lottery.Lottery, "run_level", real_run_level)
    lottery.run(cfg, tmp_path, options())
    assert store.finished_levels(run_dir) == [0, 1, 2]
    assert store.read_status(run_dir)["state"] == "done"
    assert stamps(paths.level_dir(run_dir, 0)) == level0
    assert not paths.cancel_file(run_dir).exists()


def test_the_prune_curves_come_after_the_levels_and_a_stopped_run_still_ends_with_them(tmp_path, monkeypatch):
    """`lth run` measures each trial's prune curve after its cohort's last level (off the path to level 0's result),
    keeping the trained dense network on disk until then: stopped after level 0, or after the last level, a
    resumed run ends with the curves a level run alone (a cluster's task) writes at level 0, and no pending file."""
    cfg = config.preset("synthetic").override(iterations=40, eval_every=20, levels=1, trials=2)
    dataset = data.load(cfg.data, Path("unused"))

    def curves(run_dir: Path) -> list[pd.DataFrame]:
        return [pd.read_parquet(paths.prune_curve(run_dir, t)) for t in range(2)]

    alone = store.create(tmp_path / "alone", cfg, dataset.input_shape, dataset.num_classes)
    imp = lottery.Lottery(cfg, alone, dataset, CPU, show_progress=False)
    imp.run_level(0, [0, 1])  # as a cluster's task: the curves at once
    reference = curves(alone)

    real_run_level = lottery.Lottery.run_level

    def cancel_after_level_0(self, level, trials):
        real_run_level(self, level, trials)
        if level == 0:
            assert not paths.prune_curve(self.run_dir, 0).exists()  # level 0's result came first
            execution.cancel(self.run_dir)

    monkeypatch.setattr(lottery.Lottery, "run_level", cancel_after_level_0)
    with pytest.raises(train.Cancelled):
        lottery.run(cfg, tmp_path / "stopped", options())
    run_dir = tmp_path / "stopped" / cfg.run_id
    assert all(paths.pending_dense(run_dir, t).exists() and not paths.prune_curve(run_dir, t).exists()
               for t in range(2))
    monkeypatch.setattr(lottery.Lottery, "run_level", real_run_level)
    lottery.run(cfg, tmp_path / "stopped", options())
    for a, b in zip(curves(run_dir), reference):
        pd.testing.assert_frame_equal(a, b, check_exact=True)

    real_curves = lottery.write_prune_curves

    def killed(*args, **kw):  # stopped after the last level's summary, before the curves
        raise KeyboardInterrupt

    monkeypatch.setattr(lottery, "write_prune_curves", killed)
    with pytest.raises(KeyboardInterrupt):
        lottery.run(cfg, tmp_path / "killed", options())
    run_dir = tmp_path / "killed" / cfg.run_id
    assert store.is_complete(run_dir, cfg) and not paths.prune_curve(run_dir, 1).exists()
    monkeypatch.setattr(lottery, "write_prune_curves", real_curves)
    lottery.run(cfg, tmp_path / "killed", options())
    for a, b in zip(curves(run_dir), reference):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not list((run_dir / "plan").glob("dense_pending_*")) and store.read_status(run_dir)["state"] == "done"


# --- processes: a killed run resumes, two runners compute once ------------------------
RESUME_ARGS = ["--preset", "synthetic", "--levels", "3", "--iterations", "100", "--quiet", "--device", "cpu",
               "--no-download"]


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_numbers(tmp_path):
    cfg = config.preset("synthetic").override(levels=3, iterations=100)
    runs = tmp_path / "interrupted"
    run_dir = runs / cfg.run_id
    log = open(tmp_path / "first.log", "w")
    proc = subprocess.Popen(lth_command("run", *RESUME_ARGS, "--runs-dir", str(runs)), cwd=PROJECT_ROOT,
                            env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while not paths.unit_summary(run_dir, 1, 0).exists():
            assert proc.poll() is None, (tmp_path / "first.log").read_text()
            assert time.time() < deadline, "level 1 never finished"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        log.close()
    assert store.finished_levels(run_dir) == [0, 1], "killed too late: level 2 had finished"
    assert store.read_status(run_dir)["state"] == "running"  # what a killed run leaves behind
    kept = {level: stamps(paths.level_dir(run_dir, level)) for level in (0, 1)}

    second = subprocess.run(lth_command("run", *RESUME_ARGS, "--runs-dir", str(runs)), cwd=PROJECT_ROOT,
                            env=subprocess_env(), capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stderr
    assert store.finished_levels(run_dir) == [0, 1, 2, 3]
    assert store.read_status(run_dir)["state"] == "done"
    for level in (0, 1):  # finished levels were not recomputed
        assert stamps(paths.level_dir(run_dir, level)) == kept[level]

    reference = lottery.run(cfg, tmp_path / "uninterrupted", options())
    for level in range(4):
        assert _summary_without_timing(run_dir, level, 0) == _summary_without_timing(reference, level, 0), level
        pd.testing.assert_frame_equal(pd.read_parquet(paths.unit_curves(run_dir, level, 0)),
                                      pd.read_parquet(paths.unit_curves(reference, level, 0)), check_exact=True)
        a = store.read_npz(paths.unit_masks(run_dir, level, 0))
        b = store.read_npz(paths.unit_masks(reference, level, 0))
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    a, b = store.read_npz(paths.plan_file(run_dir, 0)), store.read_npz(paths.plan_file(reference, 0))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# Runs the CLI with two hooks: every lottery.run entry and every level computed is logged with pid and time;
# each level also takes 0.5 s longer, so that the two processes surely overlap.
SPY = """
import os, sys, time
from lth import cli
from lth.tickets import lottery

def note(event):
    with open(os.environ["LTH_TEST_LOG"], "a") as f:
        f.write(f"{os.getpid()} {event} {time.time():.6f}\\n")

real_run, real_level = lottery.run, lottery.Lottery.run_level

def run(*args, **kw):
    note("enter -1")
    return real_run(*args, **kw)

def run_level(self, level, trials):
    time.sleep(0.5)
    real_level(self, level, trials)
    note(f"level {level}")

lottery.run, lottery.Lottery.run_level = run, run_level
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_two_processes_starting_the_same_run_compute_it_once(tmp_path):
    runs, log = tmp_path / "runs", tmp_path / "events.log"
    args = ["run", "--preset", "synthetic", "--levels", "2", "--iterations", "60", "--eval-every", "30", "--quiet",
            "--device", "cpu", "--no-download", "--runs-dir", str(runs)]
    env = subprocess_env(LTH_TEST_LOG=str(log))
    procs = [subprocess.Popen([sys.executable, "-c", SPY, *args], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err
        assert "finished" in out

    events = [line.split() for line in log.read_text().splitlines()]
    entered = {int(pid): float(t) for pid, what, _, t in events if what == "enter"}
    computed = [(int(pid), int(level), float(t)) for pid, what, level, t in events if what == "level"]
    assert set(entered) == {p.pid for p in procs}
    assert sorted(level for _, level, _ in computed) == [0, 1, 2], "a level was computed twice (or never)"
    (worker,) = {pid for pid, _, _ in computed}
    (waiter,) = set(entered) - {worker}
    assert entered[waiter] < max(t for _, _, t in computed), "the processes did not overlap: test inconclusive"
    cfg = config.preset("synthetic").override(levels=2, iterations=60, eval_every=30)
    assert store.read_status(runs / cfg.run_id)["state"] == "done"
    assert store.finished_levels(runs / cfg.run_id) == [0, 1, 2]
