"""Network slimming: the L1 penalty on batch-norm scales, the global channel threshold, the slimmed network
built at its real size, and the three slimming arms of an IMP run with what each network costs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import generators

from lth import cli
from lth.core import paths, store
from lth.core.config import Config, ConfigError, DataConfig, TrainingConfig
from lth.engine import data, models, pruning, slimming, train
from lth.runs import results, tables
from lth.tickets import execution, lottery

TINY = dict(dataset="synthetic", synthetic_shape="1x12x12", synthetic_train=400, validation_size=100,
            synthetic_test=100, model="vgg6_w8", optimizer="sgd", lr=0.05, iterations=20, eval_every=10,
            batch_size=32, levels=2, slimming=True, random_prune=0, one_shot=False, strategy="global",
            global_layers="conv", slim_rate=0.3, slim_l1=1e-3)


@pytest.fixture(scope="module")
def images():
    return data.load(DataConfig(dataset="synthetic", synthetic_shape="1x12x12", synthetic_train=200, validation_size=50,
                                synthetic_test=50), "unused")


def _random_channels(model, k: int, seed: int = 0) -> slimming.Channels:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name in model.prunable_channels():
        c = next(layer for layer in model.layers if layer.name == name).weight_shape[0]
        keep = torch.rand(k, c, generator=g) < 0.6
        keep[:, 0] = True  # at least one channel
        out[name] = keep
    return out


def test_the_penalty_moves_the_scale_factors_toward_zero(images):
    """Two copies of one network, same data order: the one trained with the penalty ends with smaller |γ| on every
    prunable layer. Only the prunable channels' scales are penalised (not ResNet's residual channels), only in
    the rows asked."""
    for name in ("vgg6_w8", "resnet8_w8"):
        model = models.build(name, images.input_shape)
        params = {n: p.repeat(2, *[1] * (p.dim() - 1)) for n, p in model.init(generators(0)).items()}
        cfg = TrainingConfig(optimizer="sgd", lr=0.05, iterations=30, eval_every=30, batch_size=16)
        out = train.train(model, params, pruning.dense_masks(model, 2), images, cfg, order_keys=[0, 0],
                          penalty=slimming.Penalty([True, False], 1e-2))
        for layer in model.prunable_channels():
            penalised, free = out.final[f"{layer}.scale"].abs().mean(1)
            assert penalised < free - 0.05, (name, layer, float(penalised), float(free))
        weights = {n: p.clone().requires_grad_() for n, p in params.items()}
        for p in weights.values():
            p.grad = torch.zeros_like(p)
        slimming.add_penalty(model, weights, slimming.Penalty([True, False], 0.5).strength("cpu"))
        for n, p in weights.items():
            layer = n.rsplit(".", 1)[0]
            expected = n.endswith(".scale") and layer in model.prunable_channels()
            assert bool(p.grad[0].abs().sum() > 0) == expected and not p.grad[1].any(), n


def test_the_threshold_removes_the_expected_share_of_channels():
    """rate x the channels left (rounded half up), the smallest |γ| over all prunable layers together, channels
    already removed stay removed, and every layer keeps its largest channel."""
    model = models.build("vgg6_w8", (1, 12, 12))
    widths = {layer.name: layer.weight_shape[0] for layer in model.layers}
    sizes = {n: widths[n] for n in model.prunable_channels()}
    g = torch.Generator().manual_seed(3)
    params = {f"{n}.scale": torch.randn(2, c, generator=g) for n, c in sizes.items()}
    params["conv6.scale"][1] = -1e-3 * torch.arange(1, sizes["conv6"] + 1)  # model 1: one layer all tiny
    channels = _random_channels(model, 2)
    after = slimming.next_channels(model, params, channels, 0.4)
    for i in range(2):
        alive = sum(int(c[i].sum()) for c in channels.values())
        kept = sum(int(c[i].sum()) for c in after.values())
        assert alive - kept == int(np.floor(alive * 0.4 + 0.5))
        removed_scores = [float(params[f"{n}.scale"][i, j].abs()) for n in sizes
                          for j in range(sizes[n]) if channels[n][i, j] and not after[n][i, j]]
        kept_scores = [float(params[f"{n}.scale"][i, j].abs()) for n in sizes for j in range(sizes[n])
                       if after[n][i, j] and after[n][i].sum() > 1]
        assert max(removed_scores) <= min(kept_scores)
        for n in sizes:
            assert not (after[n][i] & ~channels[n][i]).any()  # nothing comes back
            assert after[n][i].sum() >= 1
    assert int(after["conv6"][1].sum()) == 1  # the guard kept the tiny layer's largest channel


@pytest.mark.parametrize("name", ["vgg6_w8", "resnet8_w8"])
def test_the_slimmed_network_at_its_real_size_gives_the_masked_networks_outputs(images, name):
    """Trained a few steps (running averages away from 0/1), then: the full-size network with the channels masked
    and the network built without them give the same logits; it has fewer parameters and FLOPs."""
    model = models.build(name, images.input_shape)
    channels = _random_channels(model, 1, seed=1)
    masks = slimming.weight_masks(model, channels)
    cfg = TrainingConfig(optimizer="sgd", lr=0.05, iterations=5, eval_every=5, batch_size=16)
    trained = train.train(model, model.init(generators(4)), masks, images, cfg, order_keys=[0],
                          penalty=slimming.Penalty([True], 1e-3)).final
    for n in model.prunable_channels():  # training kept the removed channels at exactly 0
        gone = ~channels[n][0]
        assert (trained[f"{n}.weight"][0, gone] == 0).all() and (trained[f"{n}.scale"][0, gone] == 0).all()
        assert (trained[f"{n}.shift"][0, gone] == 0).all()
    small, small_params = slimming.build(model, trained, channels)
    x = images.x_test
    full = model.forward(trained, x, shared_input=True)
    torch.testing.assert_close(small.forward(small_params, x, shared_input=True), full, atol=1e-5, rtol=1e-4)
    assert small.flops_per_example() < model.flops_per_example()
    assert slimming.parameters(small) < slimming.parameters(model)
    kept_weights = sum(int(m.sum()) for m in masks.values())
    assert sum(layer.size for layer in small.layers) == kept_weights


def test_slimming_needs_a_batch_norm_network(capsys, tmp_path):
    with pytest.raises(ConfigError, match="--slimming=True is not allowed: network slimming needs a batch-norm"):
        Config().override(slimming=True)
    code = cli.main(["run", "--preset", "synthetic", "--slimming", "--runs-dir", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "network slimming needs a batch-norm network" in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())
    with pytest.raises(ConfigError, match="--slim-rate=1.0"):
        Config().override(**{**TINY, "slim_rate": 1.0})


@pytest.fixture(scope="module")
def slim_run(tmp_path_factory):
    config = Config().override(**TINY)
    runs = tmp_path_factory.mktemp("slim_runs")
    run_dir = lottery.run(config, runs, execution.RunOptions(device="cpu", progress=False))
    return config, run_dir


def test_each_slimming_arm_trains_with_the_fine_tuned_chains_channels(slim_run):
    config, run_dir = slim_run
    run = results.Run(run_dir)
    s = run.summary()
    assert set(s[s.level == 0].arm) == {"ticket", "slim_finetune"}  # the other two start at slim_finetune's
    for level in (1, 2):
        rows = s[s.level == level].set_index("arm")
        assert set(rows.index) == {"ticket", "reinit", "slim_finetune", "slim_rewind", "slim_fresh"}
        slim = rows.loc[["slim_finetune", "slim_rewind", "slim_fresh"]]
        assert slim.remaining.nunique() == 1 and slim["parameters"].nunique() == 1  # one mask, three trainings
        assert (slim.inference_ms > 0).all() and (slim.inference_ms_dense > 0).all()
        # the channels are the fine-tuned network's of the level before, thinned by its scales
        model = models.build("vgg6_w8", (1, 12, 12))
        before = store.read_masks(paths.unit_masks(run_dir, level - 1, 0))
        prev_mask = before[("slim_finetune", 0, 0)]
        prev = {n: torch.from_numpy(m[None]) for n, m in prev_mask.items()}
        saved = store.read_npz(paths.unit_slim_weights(run_dir, level - 1, 0))
        tuned = {n: torch.from_numpy(v[None]) for n, v in saved.items()}
        expected = slimming.next_channels(model, tuned, slimming.channels_of(model, prev), config.pruning.slim_rate)
        for n, c in expected.items():
            assert rows.loc["slim_finetune", f"channels:{n}"] == int(c.sum()), (level, n)
        # the ticket is unstructured: as many FLOPs as the dense network, fewer non-zero parameters
        assert rows.loc["ticket", "flops"] == rows.loc["ticket", "flops_dense"]
        assert rows.loc["ticket", "parameters"] < rows.loc["ticket", "parameters_dense"]
        assert rows.loc["slim_finetune", "flops"] < rows.loc["slim_finetune", "flops_dense"]
    levels = s[s.arm == "slim_finetune"].sort_values("level")
    assert levels["parameters"].is_monotonic_decreasing and levels["flops"].is_monotonic_decreasing


def test_the_fine_tuned_arm_starts_from_its_own_trained_weights(slim_run):
    """Level 1's slim_finetune member starts from level 0's saved fine-tuned weights with the removed channels at 0;
    slim_rewind from θ0; slim_fresh from its own draw."""
    config, run_dir = slim_run
    job = lottery.Lottery(config, run_dir, data.load(config.data, "unused"), torch.device("cpu"), show_progress=False)
    members = job.members(1, [0])
    params = job.starting_weights(1, members, [0])
    masks = job.masks(1, members, [0])
    saved = store.read_npz(paths.unit_slim_weights(run_dir, 0, 0))
    theta0 = job.theta0([0])
    row = {m.arm: i for i, m in enumerate(members)}
    for n, p in params.items():
        np.testing.assert_array_equal(p[row["slim_finetune"]].numpy(), saved[n])
        np.testing.assert_array_equal(p[row["slim_rewind"]].numpy(), theta0[n][0].numpy())
    assert not torch.equal(params["conv1.weight"][row["slim_fresh"]], theta0["conv1.weight"][0])
    channels = slimming.channels_of(job.model, pruning.select(masks, [row["slim_finetune"]]))
    assert sum(int(c.sum()) for c in channels.values()) < 112  # vgg6_w8 has 8+8+16+16+32+32 channels


def test_show_prints_what_each_network_costs(slim_run, capsys):
    _, run_dir = slim_run
    table = tables.structure_table(results.Run(run_dir))
    assert set(table.arm) == {"ticket", "slim_finetune", "slim_rewind", "slim_fresh"}
    dense = table[table.level == 0].iloc[0]
    assert dense["params"] == dense["params dense"]
    assert cli.main(["show", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "what each network costs" in out and "slim_fresh" in out and "FLOPs" in out
    summary = json.loads(paths.unit_summary(run_dir, 1, 0).read_text())
    assert all(r["inference_device"].startswith("cpu") for r in summary["rows"] if "inference_ms" in r)


def test_the_app_shows_what_slimming_saves_and_which_channels_it_keeps(slim_run):
    """The Structured tickets page draws accuracy and speed-up and lists every level's costs; the Masks page shows a
    slimming arm's channels; a run without slimming gets the command instead."""
    from app_fixtures import app_on

    _, run_dir = slim_run
    with app_on(run_dir.parent) as page:
        at = page("structure", run_dir.name)
        charts = [c for c in at.get("plotly_chart")]
        assert len(charts) == 2 and len(at.dataframe) == 1
        table = at.dataframe[0].value
        assert len(table) == 1 * 2 + 2 * 4  # level 0: ticket + slimmed dense; levels 1-2: ticket + 3 slimmed
        assert "as fast as the dense network" in " ".join(m.value for m in at.markdown)
        at = page("masks", run_dir.name, m_arm="slim_finetune", m_level=2)
        assert "whole channels" in " ".join(m.value for m in at.markdown)
        assert any("Channels kept per layer" in json.loads(c.proto.spec)["layout"]["title"]["text"]
                   for c in at.get("plotly_chart"))
