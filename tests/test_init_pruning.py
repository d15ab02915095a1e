"""Pruning at initialization: each score against a hand computation on a 2-layer net, the masks, the sweep."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import options

from lth.core import arms, paths, store
from lth.core.config import ConfigError
from lth.core.init_config import InitConfig
from lth.core.paths import PROJECT_ROOT
from lth.engine import models, pruning
from lth.runs import results, tables
from lth.tickets import init_scores, init_search

# A 2-layer net (4 inputs -> 3 hidden -> 2 outputs): small enough to differentiate by hand.
NET = models.Model("two_layer", (models.Layer("fc1", "fc", (3, 4)), models.Layer("output", "output", (2, 3))),
                   (), (1, 2, 2))


def net_params(seed: int = 0, k: int = 1) -> models.Params:
    g = torch.Generator().manual_seed(seed)
    return {"fc1.weight": torch.randn(k, 3, 4, generator=g), "fc1.bias": 0.1 * torch.randn(k, 3, generator=g),
            "output.weight": torch.randn(k, 2, 3, generator=g), "output.bias": 0.1 * torch.randn(k, 2, generator=g)}


def batch(seed: int = 1, n: int = 5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 2, 2, generator=g), torch.randint(0, 2, (n,), generator=g)


def hand_gradient(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, t: float = 1.0) -> dict[str, np.ndarray]:
    """∂L/∂W of the mean cross-entropy of softmax((W2 relu(W1 x + b1) + b2) / t), by the chain rule in numpy."""
    w1, b1, w2, b2 = p["fc1.weight"], p["fc1.bias"], p["output.weight"], p["output.bias"]
    pre = x @ w1.T + b1
    h = np.maximum(pre, 0)
    z = (h @ w2.T + b2) / t
    soft = np.exp(z - z.max(1, keepdims=True))
    soft /= soft.sum(1, keepdims=True)
    dz = (soft - np.eye(2)[y]) / len(x) / t
    dpre = (dz @ w2) * (pre > 0)
    return {"fc1": dpre.T @ x, "output": dz.T @ h}


def as_numpy(params: models.Params) -> dict[str, np.ndarray]:
    return {n: v[0].double().numpy() for n, v in params.items()}


def test_snip_is_abs_gradient_times_weight_normalised():
    params, (x, y) = net_params(), batch()
    p = as_numpy(params)
    g = hand_gradient(p, x.flatten(1).double().numpy(), y.numpy())
    raw = {n: np.abs(g[n] * p[f"{n}.weight"]) for n in g}
    total = sum(r.sum() for r in raw.values())
    scores = init_scores.snip(NET, params, x, y)
    for n in raw:
        np.testing.assert_allclose(scores[n][0].double().numpy(), raw[n] / total, rtol=1e-4, atol=1e-7)


def test_grasp_is_weight_times_hessian_gradient_product():
    params, (x, y) = net_params(2), batch(3)
    p = as_numpy(params)
    xs, ys = x.flatten(1).double().numpy(), y.numpy()
    t = 2.0  # GraSP's temperature
    g = hand_gradient(p, xs, ys, t)
    eps = 1e-5  # Hg by central differences of the hand gradient along g (ReLU's kinks are not crossed at this ε)

    def step(s: int) -> dict:
        return {**p, **{f"{n}.weight": p[f"{n}.weight"] + s * eps * g[n] for n in g}}

    plus, minus = hand_gradient(step(1), xs, ys, t), hand_gradient(step(-1), xs, ys, t)
    raw = {n: p[f"{n}.weight"] * (plus[n] - minus[n]) / (2 * eps) for n in g}
    total = abs(sum(r.sum() for r in raw.values())) + 1e-10
    scores = init_scores.grasp(NET, params, x, y, temperature=t)
    for n in raw:
        np.testing.assert_allclose(scores[n][0].double().numpy(), raw[n] / total, rtol=1e-3, atol=1e-6)


def test_synflow_is_the_path_norm_gradient_and_ignores_data():
    params = net_params(4)
    p = {n: np.abs(v) for n, v in as_numpy(params).items()}
    # R = 1ᵀ(|W2|(|W1| 1 + |b1|) + |b2|): ∂R/∂|W1|_ij = Σ_k |W2|_ki, ∂R/∂|W2|_ki = (|W1| 1 + |b1|)_i
    d1 = np.repeat(p["output.weight"].sum(0)[:, None], 4, axis=1)
    d2 = np.repeat((p["fc1.weight"].sum(1) + p["fc1.bias"])[None, :], 2, axis=0)
    scores = init_scores.synflow(NET, params, pruning.dense_masks(NET, 1))
    np.testing.assert_allclose(scores["fc1"][0].double().numpy(), d1 * p["fc1.weight"], rtol=1e-5)
    np.testing.assert_allclose(scores["output"][0].double().numpy(), d2 * p["output.weight"], rtol=1e-5)


def test_synflow_sweep_masks_do_not_depend_on_the_data(finished_run, tiny_data):
    cfg = InitConfig(method="synflow", levels="1,2", synflow_rounds=5)

    def make(dataset) -> init_search.Search:
        return init_search.Search(finished_run.config, cfg, [1, 2], finished_run.path, dataset, torch.device("cpu"),
                                  False)

    search = make(finished_run.dataset)
    theta0 = search.model.init([search.streams.init(0)])
    shuffled = finished_run.dataset.to("cpu")
    shuffled.x_train = torch.randn_like(shuffled.x_train)
    first, second = search.scored(theta0, 0), make(shuffled).scored(theta0, 0)
    assert all(torch.equal(first[n], second[n]) for n in first)


def test_keep_top_is_global_exact_and_respects_alive_weights():
    scores = {"a": torch.tensor([[[5.0, 1.0], [3.0, 3.0]]]), "b": torch.tensor([[[4.0, 0.5, 2.0]]])}
    masks = init_scores.keep_top(scores, [3])
    assert masks["a"].tolist() == [[[True, False], [True, False]]]  # ties go to the earlier weight
    assert masks["b"].tolist() == [[[True, False, False]]]
    alive = {"a": torch.tensor([[[False, True], [True, True]]]), "b": torch.ones(1, 1, 3, dtype=torch.bool)}
    again = init_scores.keep_top(scores, [2], alive)
    assert not again["a"][0, 0, 0] and int(sum(m.sum() for m in again.values())) == 2


def test_synflow_masks_reach_each_target_and_shrink_monotonically():
    params = {n: v.expand(3, *v.shape[1:]) for n, v in net_params(5).items()}
    masks = init_scores.synflow_masks(NET, params, [15, 8, 2], rounds=10)
    assert [int(sum(m[i].sum() for m in masks.values())) for i in range(3)] == [15, 8, 2]


@pytest.fixture(scope="module")
def pai_run(init_run):
    return init_run.run


def test_every_arm_trains_at_imp_counts_with_exact_shuffles(pai_run):
    s = tables.sweep_rows(pai_run.summary())
    names = {a for m in ("snip", "grasp", "synflow") for a in InitConfig(method=m).arms}
    assert set(s.arm) == names and len(names) == 9
    assert (s.early_stop_iteration > 0).all() and s.test_acc_at_early_stop.between(0, 1).all()
    ticket = tables.percent_by_level(tables.imp_rows(pai_run.summary()))
    for point, level in ((1, 1), (2, 2)):  # the same total count as IMP's ticket at that level
        assert np.allclose(s[s.point == point].percent_remaining, ticket[level])
        masks = pai_run.masks(point=point)
        for m in ("snip", "grasp", "synflow"):
            mine, shuffled = masks[(m, 0, 0)], masks[(f"{m}_shuffled", 0, 0)]
            assert {n: int(v.sum()) for n, v in mine.items()} == {n: int(v.sum()) for n, v in shuffled.items()}
            assert any((mine[n] != shuffled[n]).any() for n in mine)
            assert all((masks[(f"{m}_reinit", 0, 0)][n] == mine[n]).all() for n in mine)


def test_methods_table_names_both_families(pai_run):
    methods = pai_run.methods()
    assert set(methods.family) == {"init", "stability"} and set(methods.state) == {"done"}
    assert (methods.units_done == methods.units).all()
    assert all(arms.group(a) == "Pruned at initialization" for a in pai_run.summary().arm if not arms.is_imp_family(a))


def test_a_different_sweep_in_the_same_folder_is_refused(pai_run):
    with pytest.raises(ConfigError, match="already holds a snip sweep with levels='1,2'"):
        init_search.run(pai_run.path, InitConfig(method="snip", levels="1"), options())


def test_levels_deeper_than_the_run_are_refused_before_anything_is_written(finished_run, tmp_path):
    out = subprocess.run([sys.executable, "-m", "lth", "prune-init", str(finished_run.path), "--levels", "2,9"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "--levels='2,9' is not allowed: levels 1 to 2" in out.stderr
    assert not paths.method_dir(finished_run.path, "snip").exists()


@pytest.mark.parametrize("field, value, allowed", [("levels", "3,x", "comma-separated levels"),
                                                   ("levels", "2,2", "distinct"), ("method", "magic", "one of"),
                                                   ("synflow_rounds", 0, ">= 1")])
def test_bad_settings_name_the_flag(field, value, allowed):
    with pytest.raises(ConfigError, match=allowed):
        InitConfig(**{field: value})


def test_store_reads_a_damaged_method_file_as_a_problem(pai_run, tmp_path):
    import shutil

    path = tmp_path / "run"
    shutil.copytree(pai_run.path, path)
    paths.method_file(paths.method_dir(path, "grasp")).write_text("{not json")
    run = results.Run(path)
    assert set(run.methods().method) == {"snip", "synflow", "stability"}
    assert any("grasp" in p for p in run.problems)
    assert store.finished_units(paths.method_dir(path, "snip"))


def test_lth_run_prunes_at_init_after_the_imp_run(tmp_path):
    out = subprocess.run([sys.executable, "-m", "lth", "run", "--preset", "synthetic", "--levels", "2", "--trials", "1",
                          "--iterations", "40", "--eval-every", "20", "--runs-dir", str(tmp_path), "--quiet",
                          "--prune-init", "snip,synflow", "--prune-init-levels", "2"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    run = results.Run(results.resolve(None, tmp_path))
    assert set(run.methods().method) == {"snip", "synflow"}
    assert set(tables.sweep_rows(run.summary()).arm) == {"snip", "snip_shuffled", "snip_reinit", "synflow",
                                                          "synflow_shuffled", "synflow_reinit"}


@pytest.mark.parametrize("flags, message", [
    (["--prune-init", "snip,magic"], "--prune-init='snip,magic' is not allowed: distinct methods"),
    (["--prune-init", "snip", "--prune-init-levels", "1,9"], "--prune-init-levels='1,9' is not allowed: levels 1 to 2"),
    (["--prune-init-levels", "1"], "not allowed without --prune-init")])
def test_lth_run_refuses_bad_prune_init_flags_before_training(tmp_path, flags, message):
    out = subprocess.run([sys.executable, "-m", "lth", "run", "--preset", "synthetic", "--levels", "2",
                          "--runs-dir", str(tmp_path), *flags], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and message in out.stderr and out.stderr.count("\n") == 1
    assert not any(tmp_path.iterdir())
