"""Masks learned by gradient descent: relaxations against their closed forms, the penalty, the sweep in the store."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import GATE_ARMS, GATE_SWEEPS, options

from lth.core import paths, store
from lth.core.config import ConfigError
from lth.core.gate_config import GateConfig
from lth.core.paths import PROJECT_ROOT
from lth.engine import models
from lth.runs import results, tables
from lth.tickets import gate_search, lottery
from lth.tickets.gates import GaussianGate, HardConcreteGate, cs_beta, cs_mask

N = 400_000  # samples per probability estimate: standard error <= 0.0008


def empirical_open(gate, param: float) -> float:
    g = torch.Generator().manual_seed(0)
    z = gate.sample(torch.full((N,), param), g)
    return float((z > 0).double().mean())


@pytest.mark.parametrize("m", [-0.8, -0.5, -0.2, 0.0, 0.3, 1.0])
def test_gaussian_gate_opens_with_probability_phi(m):
    # Yamada's shifted form z = clamp(m + 0.5 + σε): P(z > 0) = Φ((m + 0.5)/σ); ours is μ = m + 0.5.
    sigma = 0.5
    gate = GaussianGate(sigma=sigma)
    phi = 0.5 * (1 + math.erf((m + 0.5) / sigma / math.sqrt(2)))
    assert empirical_open(gate, m + 0.5) == pytest.approx(phi, abs=0.004)
    assert float(gate.open_probability(torch.tensor(m + 0.5))) == pytest.approx(phi, abs=1e-6)


def test_hard_concrete_opens_with_probability_0_8318_at_log_alpha_zero():
    gate = HardConcreteGate()
    assert float(gate.open_probability(torch.tensor(0.0))) == pytest.approx(0.8318, abs=1e-4)
    assert empirical_open(gate, 0.0) == pytest.approx(0.8318, abs=0.004)


@pytest.mark.parametrize("log_alpha", [-3.0, -1.0, 1.0, 2.5])
def test_hard_concrete_open_probability_matches_sampling(log_alpha):
    gate = HardConcreteGate()
    assert empirical_open(gate, log_alpha) == pytest.approx(float(gate.open_probability(torch.tensor(log_alpha))),
                                                            abs=0.004)


def test_samples_stay_in_the_unit_interval_and_hit_both_ends():
    for gate, param in ((GaussianGate(), 0.5), (HardConcreteGate(), 0.0)):
        z = gate.sample(torch.full((10_000,), param), torch.Generator().manual_seed(1))
        assert z.min() == 0 and z.max() == 1  # the clamp makes exact zeros and ones: a true binary limit
        assert ((z > 0) & (z < 1)).any()


@pytest.mark.parametrize("gate", [GaussianGate(), HardConcreteGate()], ids=["gaussian", "hard_concrete"])
def test_binary_rule_keeps_gates_open_with_probability_above_one_half(gate):
    params = torch.linspace(-4, 4, 801)
    assert torch.equal(gate.binary(params), gate.open_probability(params) > 0.5)


@pytest.mark.parametrize("gate", [GaussianGate(), HardConcreteGate()], ids=["gaussian", "hard_concrete"])
def test_penalty_gradient_closes_gates(gate):
    params = torch.linspace(-1, 1, 11, requires_grad=True)
    gate.open_probability(params).sum().backward()
    assert (params.grad > 0).all()  # gradient descent on λ·Σ P(open) lowers every gate parameter
    s = torch.linspace(-0.3, 0.3, 7, requires_grad=True)
    cs_mask(s, 5.0).sum().backward()
    assert (s.grad > 0).all()


def test_cs_beta_grows_geometrically_from_1_to_beta_max():
    betas = [cs_beta(i, 101, 200.0) for i in range(101)]
    assert betas[0] == 1.0 and betas[-1] == pytest.approx(200.0)
    ratios = np.array(betas[1:]) / np.array(betas[:-1])
    assert np.allclose(ratios, ratios[0])


def test_strong_mode_leaves_the_frozen_weights_unchanged(tiny_data):
    model = models.build("lenet_300_100", tiny_data.input_shape)
    theta0 = model.init([torch.Generator().manual_seed(0)] * 2)
    before = {n: p.clone() for n, p in theta0.items()}
    g = GateConfig(method="gaussian", sweep="1e-4,1e-2", gate_iterations=40, gate_eval_every=20, gate_lr=0.05)
    draws = gate_search.Draws(gate_search.BatchOrder([(0, 0)] * 2, len(tiny_data.x_train), 20, "cpu"),
                              torch.Generator().manual_seed(1), torch.Generator().manual_seed(2), 1e-3)
    masks, result, start = gate_search.learn_gates(model, theta0, g.values, tiny_data, g, draws)
    for n in before:
        assert torch.equal(theta0[n], before[n]) and torch.equal(start[n], before[n])
    assert all(m.dtype == torch.bool for m in masks.values())
    kept = [float(sum(m[i].sum() for m in masks.values())) for i in range(2)]
    assert kept[1] < kept[0] < model.prunable  # gates closed, more under the larger λ
    assert result.curves["remaining"][:, 0].tolist() == [1.0, 1.0]  # μ starts at 0.5 > 0: every gate open


def test_every_method_runs_end_to_end_into_the_store(gated_run):
    run = gated_run.run
    s = run.summary()
    assert GATE_ARMS <= set(s.arm)
    for g in GATE_SWEEPS:
        rows = s[s.method == g.method]
        assert sorted(rows.point.unique()) == list(range(1, len(g.values) + 1)) and rows.level.isna().all()
        assert len(rows) == len(g.values) * len(g.arms)
        assert (rows.cost_model_iterations > 0).all() and (rows.cost_seconds > 0).all()
    weak = s[s.arm == "gaussian_weak"]
    assert (weak.early_stop_iteration <= gated_run.config.training.iterations).all()
    strong = s[s.arm == "gaussian_strong"]
    assert (strong.early_stop_iteration == GATE_SWEEPS[0].gate_iterations).all()  # reported at the end
    assert set(run.methods().state) == {"done"}
    for mdir in run.method_dirs():  # every unit names the device that wrote it, as IMP's do
        for point, trial in store.finished_units(mdir):
            assert store.read_json(paths.unit_summary(mdir, point, trial))["execution"]["device"].startswith("cpu")


def test_masks_are_binary_with_the_density_the_summary_claims(gated_run):
    run, s = gated_run.run, gated_run.run.summary()
    for _, row in s[s.arm.isin(GATE_ARMS)].iterrows():
        masks = run.masks(point=int(row.point))[(row.arm, int(row.trial), 0)]
        kept = sum(int(m.sum()) for m in masks.values())
        total = sum(m.size for m in masks.values())
        assert all(m.dtype == bool for m in masks.values())
        assert kept / total == pytest.approx(row.remaining, abs=1e-9)
        for name, m in masks.items():
            assert m.mean() == pytest.approx(row[f"remaining:{name}"], abs=1e-9)
    for point in (1, 2, 3):  # strong and weak are the same learned mask
        m = run.masks(point=point)
        for layer in m[("gaussian_strong", 0, 0)]:
            assert np.array_equal(m[("gaussian_strong", 0, 0)][layer], m[("gaussian_weak", 0, 0)][layer])


def test_larger_penalty_gives_sparser_masks(gated_run):
    s = gated_run.run.summary()
    for arm in ("gaussian_strong", "hard_concrete_strong"):
        remaining = s[s.arm == arm].sort_values("point").remaining.to_numpy()
        assert (np.diff(remaining) <= 0).all() and remaining[0] > remaining[-1]


def test_cost_table_covers_imp_and_every_method(gated_run):
    table = tables.cost_table(gated_run.run)
    assert {"ticket", "one_shot"} | GATE_ARMS <= set(table.arm)
    ticket = table[table.arm == "ticket"].sort_values("level").assign(level=lambda f: f.level.astype(int))
    its = gated_run.config.training.iterations
    assert ticket.model_iterations.tolist() == [its * (lv + 1) for lv in ticket.level]  # the whole chain
    assert ticket.seconds.is_monotonic_increasing


def test_cost_seconds_are_left_blank_where_a_chain_crossed_devices(tmp_path, gated_run):
    """A run resumed on a GPU: its seconds there do not add to the CPU's."""
    shutil.copytree(gated_run.path, tmp_path / "run", ignore=shutil.ignore_patterns(".lock"))
    unit = paths.unit_summary(tmp_path / "run", 1, 0)
    elsewhere = {"device": "cuda (H100)", "stack": 8, "trials_together": 2}
    store.write_json(unit, {**store.read_json(unit), "execution": elsewhere})
    run = results.Run(tmp_path / "run")
    costs = run.costs()
    assert dict(zip(costs.level, costs.device.str.split().str[0])) == {0: "cpu", 1: "cuda", 2: "cpu"}
    ticket = tables.cost_table(run).query("arm == 'ticket'").set_index("level")
    assert ticket.seconds[0] > 0 and ticket.seconds[[1, 2]].isna().all()
    assert ticket.model_iterations.tolist() == [gated_run.config.training.iterations * (lv + 1) for lv in (0, 1, 2)]


def test_killed_retraining_resumes_from_the_learned_masks(tmp_path, gated_run):
    shutil.copytree(gated_run.path, tmp_path / "run", ignore=shutil.ignore_patterns(".lock"))
    mdir = paths.method_dir(tmp_path / "run", "gaussian")
    before = store.read_json(paths.unit_summary(mdir, 2, 0))
    plan_mtime = paths.learned_masks(mdir, 0).stat().st_mtime_ns
    for point in (1, 2, 3):  # as if killed during retraining: the learned masks are kept, no unit finished
        paths.unit_summary(mdir, point, 0).unlink()
    gate_search.run(tmp_path / "run", GATE_SWEEPS[0], options())
    after = store.read_json(paths.unit_summary(mdir, 2, 0))
    assert paths.learned_masks(mdir, 0).stat().st_mtime_ns == plan_mtime  # masks not learned again

    def untimed(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "cost_seconds"} for r in rows]

    assert untimed(after["rows"]) == untimed(before["rows"])


def test_other_settings_on_a_finished_sweep_are_refused(gated_run):
    other = GateConfig(method="gaussian", sweep="1e-3", gate_iterations=150, gate_eval_every=50, gate_lr=0.05)
    with pytest.raises(ConfigError, match="already holds a gaussian sweep with sweep="):
        gate_search.run(gated_run.path, other, options())


@pytest.mark.parametrize("fields, message", [
    (dict(method="dropout"), "--method='dropout' is not allowed: choose one of"),
    (dict(sweep="1e-5,abc"), "--sweep='1e-5,abc' is not allowed: comma-separated numbers"),
    (dict(sweep="1e-5,1e-5"), "distinct values"),
    (dict(sweep="-1e-5"), "λ values >= 0"),
    (dict(method="cs", gate_iterations=100, cs_rewind_iteration=100), "--cs-rewind-iteration=100 is not allowed"),
    (dict(sigma=0), "--sigma=0.0 is not allowed"),
    (dict(rounds=0), "--rounds=0 is not allowed"),
])
def test_bad_gate_settings_name_the_flag(fields, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        GateConfig(**fields)


def test_cli_gates_bad_input_exits_2_and_writes_nothing(finished_run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(finished_run.path, target, ignore=shutil.ignore_patterns(".lock"))
    cmd = [sys.executable, "-m", "lth", "gates", str(target), "--method", "gaussian", "--sweep", "1e-4,x"]
    out = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == ["lth gates: error: --sweep='1e-4,x' is not allowed: "
                                               "comma-separated numbers, e.g. 1e-5,4e-5"]
    assert not paths.methods_root(target).exists()


def test_cli_gates_runs_a_sweep(finished_run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(finished_run.path, target, ignore=shutil.ignore_patterns(".lock"))
    cmd = [sys.executable, "-m", "lth", "gates", str(target), "--method", "hard_concrete", "--sweep", "1e-3",
           "--gate-iterations", "30", "--gate-eval-every", "10", "--no-retrain", "--device", "cpu", "--quiet"]
    out = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    s = results.Run(target).summary()
    assert set(s[s.method == "hard_concrete"].arm) == {"hard_concrete_strong"}


def test_sweep_uses_the_imp_runs_initialisation(gated_run):
    """Trial t's gates start from the IMP run's trial-t θ0: the strong ticket's learning begins on that network."""
    run = gated_run.run
    model = run.model()
    cfg = gated_run.config
    search = gate_search.Search(cfg, GATE_SWEEPS[0], paths.method_dir(run.path, "gaussian"), gated_run.dataset,
                                torch.device("cpu"), show_progress=False)
    theta = search.theta0(0)
    imp = lottery.Lottery(cfg, gated_run.path, gated_run.dataset, torch.device("cpu"), False).theta0([0])
    for n, p in imp.items():
        assert torch.equal(theta[n][0], p[0]) and torch.equal(theta[n][-1], p[0])
    assert model.prunable == sum(int(np.prod(v.shape[1:])) for n, v in theta.items() if n.endswith(".weight"))


def test_show_keeps_imp_levels_apart_from_sweep_points(gated_run):
    levels = tables.level_table(gated_run.run)
    assert levels.level.tolist() == [0, 1, 2] and not any(c.startswith("gaussian") for c in levels.columns)
    table = tables.gate_table(gated_run.run)
    assert set(table.arm) == GATE_ARMS and "level" not in table and table.point.notna().all()  # points, not levels
    imp = tables.cost_table(gated_run.run).query("arm == 'ticket'").set_index("level")
    for _, row in table.iterrows():  # IMP's level is the closest in % remaining on the log scale
        ratios = (imp.percent_remaining / max(row.percent_remaining, 1e-9)).map(lambda r: abs(math.log(r)))
        assert row.imp_level == ratios.idxmin()
        assert row.imp_accuracy == imp.accuracy[row.imp_level]
