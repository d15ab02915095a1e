"""Training: pruned weights stay zero, K batched models equal K single ones, divergence is caught."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import generators

from lth.core.config import TrainingConfig
from lth.engine import models, pruning, train

CFG = TrainingConfig(lr=1e-3, batch_size=20, iterations=30, eval_every=10)


def _setup(tiny_data, name="lenet_300_100", k=2, keep=0.5, seed=0):
    model = models.build(name, tiny_data.input_shape)
    params = model.init(generators(*range(seed, seed + k)))
    shapes = {layer.name: layer.weight_shape for layer in model.layers}
    counts = [{n: round(keep * layer.size) for n, layer in zip(shapes, model.layers)}] * k
    masks = pruning.random_masks(counts, shapes, generators(*range(100 + seed, 100 + seed + k)))
    return model, params, masks


def test_pruned_weights_are_exactly_zero_after_training(tiny_data):
    model, params, masks = _setup(tiny_data)
    result = train.train(model, params, masks, tiny_data, CFG, order_keys=[0, 1])
    for layer in model.layers:
        w, m = result.final[f"{layer.name}.weight"], masks[layer.name]
        assert torch.count_nonzero(w[~m]) == 0, layer.name
        initial = params[f"{layer.name}.weight"]
        assert not torch.equal(w[m], initial[m])  # the survivors did train
    assert torch.count_nonzero(params["fc1.weight"][~masks["fc1"]]) > 0  # the caller's tensors are untouched


def test_curves_are_recorded_at_every_evaluation_point(tiny_data):
    model, params, masks = _setup(tiny_data)
    cfg = TrainingConfig(lr=1e-3, batch_size=20, iterations=25, eval_every=10)
    result = train.train(model, params, masks, tiny_data, cfg, order_keys=[0, 1])
    assert result.iterations.tolist() == [0, 10, 20, 25]
    assert set(result.curves) == {"train_loss", "val_loss", "val_acc", "test_loss", "test_acc"}
    for name, values in result.curves.items():
        assert values.shape == (2, 4), name
    assert np.isnan(result.curves["train_loss"][:, 0]).all()  # no training step before iteration 0
    assert np.isfinite(result.curves["train_loss"][:, 1:]).all()
    assert ((result.curves["val_acc"] >= 0) & (result.curves["val_acc"] <= 1)).all()
    assert result.train_acc.shape == (2,)


def test_early_stop_index_is_the_argmin_of_validation_loss(tiny_data):
    model, params, masks = _setup(tiny_data)
    result = train.train(model, params, masks, tiny_data, CFG, order_keys=[0, 1])
    assert result.early_stop_index.tolist() == [int(np.argmin(row)) for row in result.curves["val_loss"]]
    result.curves["val_loss"] = np.array([[3.0, 1.0, 1.0, 2.0], [0.5, 0.7, 0.6, 0.5]], dtype=np.float32)
    assert result.early_stop_index.tolist() == [1, 0]  # first minimum on ties


@pytest.mark.parametrize("name", ["lenet_300_100", "conv2"])
def test_batched_training_equals_training_each_model_alone(tiny_data, name):
    """Three models with their own masks, data orders and inits: the stack changes no number."""
    model, params, masks = _setup(tiny_data, name, k=3, keep=0.6)
    keys = [0, 1, 0]  # models 0 and 2 share a data order, as the arms of one trial do
    stacked = train.train(model, params, masks, tiny_data, CFG, order_keys=keys, snapshot_at=10)
    # Grouped convolutions sum in another order; Adam turns a 1e-9 difference in a near-zero gradient
    # into a step of up to lr, so conv weights get a tolerance of a tenth of lr.
    weight_atol = 1e-5 if name == "lenet_300_100" else 0.1 * CFG.lr
    for i, key in enumerate(keys):
        alone = train.train(model, {n: p[i:i + 1] for n, p in params.items()}, pruning.select(masks, slice(i, i + 1)),
                            tiny_data, CFG, order_keys=[key], snapshot_at=10)
        for n in params:
            torch.testing.assert_close(stacked.final[n][i], alone.final[n][0], atol=weight_atol, rtol=1e-4)
            torch.testing.assert_close(stacked.snapshot[n][i], alone.snapshot[n][0], atol=weight_atol, rtol=1e-4)
        for c in ("train_loss", "val_loss", "test_loss", "val_acc", "test_acc"):
            np.testing.assert_allclose(stacked.curves[c][i], alone.curves[c][0], atol=1e-5, rtol=1e-4, err_msg=c)


def test_order_keys_decide_the_batches(tiny_data):
    order = train.BatchOrder([0, 1, 0], n=240, batch=20, device="cpu")
    first = order.indices(0)
    assert first.shape == (3, 20)
    assert torch.equal(first[0], first[2]) and not torch.equal(first[0], first[1])
    epoch = torch.cat([order.indices(i)[0] for i in range(12)])  # 240 / 20 = 12 batches per epoch
    assert sorted(epoch.tolist()) == list(range(240))  # each example once per epoch
    assert not torch.equal(order.indices(12)[0], first[0])  # a new shuffle next epoch
    fresh = train.BatchOrder([0, 1, 0], n=240, batch=20, device="cpu")
    assert torch.equal(train.BatchOrder([1], 240, 20, "cpu").indices(5)[0], fresh.indices(5)[1])


def test_snapshot_is_the_weights_after_k_steps(tiny_data):
    model, params, masks = _setup(tiny_data, k=1)
    at_zero = train.train(model, params, masks, tiny_data, CFG, order_keys=[0], snapshot_at=0)
    for layer in model.layers:
        n = f"{layer.name}.weight"
        torch.testing.assert_close(at_zero.snapshot[n], params[n] * masks[layer.name])
    short = train.train(model, params, masks, tiny_data, TrainingConfig(lr=1e-3, batch_size=20, iterations=10,
                                                                        eval_every=10), order_keys=[0])
    at_ten = train.train(model, params, masks, tiny_data, CFG, order_keys=[0], snapshot_at=10)
    for n in params:
        torch.testing.assert_close(at_ten.snapshot[n], short.final[n], atol=0, rtol=0)


def test_nan_in_the_weights_raises_diverged(tiny_data):
    model, params, masks = _setup(tiny_data)
    params["fc2.weight"][1, 0, 0] = float("nan")
    with pytest.raises(train.Diverged, match=r"model\(s\) \[1\]"):
        train.train(model, params, masks, tiny_data, CFG, order_keys=[0, 1])


def test_huge_learning_rate_raises_diverged(tiny_data):
    """lr=1e6 blows the loss up to ~1e20; finite, but the run has diverged all the same."""
    model, params, masks = _setup(tiny_data, k=1, keep=1.0)
    cfg = TrainingConfig(lr=1e6, batch_size=20, iterations=100, eval_every=10)
    with pytest.raises(train.Diverged):
        train.train(model, params, masks, tiny_data, cfg, order_keys=[0])


def test_infinite_loss_raises_diverged(tiny_data):
    model, params, masks = _setup(tiny_data, k=1, keep=1.0)
    cfg = TrainingConfig(lr=1e30, batch_size=20, iterations=30, eval_every=10)
    with pytest.raises(train.Diverged):
        train.train(model, params, masks, tiny_data, cfg, order_keys=[0])


def test_should_stop_cancels_at_an_evaluation(tiny_data):
    model, params, masks = _setup(tiny_data, k=1)
    seen = []
    with pytest.raises(train.Cancelled):
        train.train(model, params, masks, tiny_data, CFG, order_keys=[0],
                    hooks=train.Hooks(seen.append, lambda: len(seen) >= 2))
    assert seen == [0, 10]


def test_batch_larger_than_the_training_set_is_refused(tiny_data):
    model, params, masks = _setup(tiny_data, k=1)
    with pytest.raises(ValueError, match="--batch-size"):
        train.train(model, params, masks, tiny_data, TrainingConfig(batch_size=241, iterations=2), order_keys=[0])


def test_thinned_test_curves_keep_test_accuracy_at_early_stop_exact(tiny_data):
    """Test every 40 iterations instead of every 10: the same weights at the best validation loss, tested once."""
    model, params, masks = _setup(tiny_data, k=3)
    every = TrainingConfig(lr=3e-3, batch_size=20, iterations=120, eval_every=10)
    thin = TrainingConfig(lr=3e-3, batch_size=20, iterations=120, eval_every=10, test_every=40)
    a = train.train(model, params, masks, tiny_data, every, order_keys=[0, 1, 2])
    b = train.train(model, params, masks, tiny_data, thin, order_keys=[0, 1, 2])
    assert (a.early_stop_index == b.early_stop_index).all() and (a.early_stop_index % 4 != 0).any()  # not all tested
    for name in ("test_acc", "test_loss"):
        assert np.array_equal(a.test_at_early_stop(name), b.test_at_early_stop(name))
    np.testing.assert_array_equal(a.curves["val_loss"], b.curves["val_loss"])
    tested = np.isin(b.iterations, [0, 40, 80, 120])
    np.testing.assert_array_equal(a.curves["test_acc"][:, tested], b.curves["test_acc"][:, tested])
    assert np.isnan(b.curves["test_acc"][:, ~tested]).all()
    for n in a.final:
        assert torch.equal(a.final[n], b.final[n])


def test_cpu_training_keeps_freed_memory_in_the_heap():
    """A CPU stack sets glibc's malloc thresholds (once per process) so a step's freed tensors are reused, not
    returned and faulted back in; other devices, and other C libraries, are left alone."""
    import platform
    import sys

    from lth.core import devices

    assert devices.keep_freed_memory(torch.device("meta")) is False
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert devices.keep_freed_memory(torch.device("cpu")) is True
