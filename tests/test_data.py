"""Data: the synthetic set, .npz files, the validation split, and errors that say what to do."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import write_fake_mnist

from lth.core.config import ConfigError, DataConfig, preset
from lth.engine import data
from lth.engine.data import DataError

MNIST_SMALL = DataConfig(dataset="mnist", validation_size=100)
SHARED_MNIST = Path("/work/shared/data/mnist.npz")


def test_synthetic_shapes_and_classes():
    cfg = preset("synthetic").data
    ds = data.load(cfg, Path("unused"))
    assert ds.x_train.shape == (1000, 1, 28, 28) and ds.x_train.dtype == torch.float32
    assert ds.x_val.shape == (200, 1, 28, 28)
    assert ds.x_test.shape == (400, 1, 28, 28)
    assert ds.y_train.dtype == torch.int64 and ds.y_train.shape == (1000,)
    assert ds.num_classes == 10
    assert set(ds.y_train.tolist()) == set(range(10))
    assert ds.input_shape == (1, 28, 28)
    # Normalised with the training split's own statistics.
    assert abs(float(ds.x_train.mean())) < 1e-3 and abs(float(ds.x_train.std()) - 1) < 1e-2


def test_synthetic_is_deterministic_and_shape_configurable():
    cfg = DataConfig(dataset="synthetic", synthetic_shape="3x8x8", synthetic_train=100, synthetic_test=20,
                     validation_size=10)
    a, b = data.load(cfg, Path("unused")), data.load(cfg, Path("unused"))
    assert a.x_train.shape == (90, 3, 8, 8) and a.x_test.shape == (20, 3, 8, 8)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_val, b.y_val)


def _indices(x: torch.Tensor) -> list[int]:
    """Recover the index a fake-MNIST training image carries in its first two pixels."""
    raw = torch.round((x[:, 0, 0, :2] * 0.3081 + 0.1307) * 255).long()
    return (raw[:, 0] + 256 * raw[:, 1]).tolist()


def test_npz_loads_with_split_sizes(tmp_path):
    write_fake_mnist(tmp_path)
    ds = data.load(MNIST_SMALL, tmp_path, download=False)
    assert ds.x_train.shape == (500, 1, 28, 28)
    assert ds.x_val.shape == (100, 1, 28, 28)
    assert ds.x_test.shape == (100, 1, 28, 28)
    assert ds.num_classes == 10 and ds.y_train.dtype == torch.int64
    train, val = _indices(ds.x_train), _indices(ds.x_val)
    assert set(train).isdisjoint(val)
    assert sorted(train + val) == list(range(600))
    assert ds.y_train.tolist() == [i % 10 for i in train]  # labels travel with their images


def test_split_is_deterministic_by_seed(tmp_path):
    write_fake_mnist(tmp_path)
    val_a = _indices(data.load(MNIST_SMALL, tmp_path).x_val)
    val_b = _indices(data.load(MNIST_SMALL, tmp_path).x_val)
    val_c = _indices(data.load(DataConfig(dataset="mnist", validation_size=100, split_seed=1), tmp_path).x_val)
    assert val_a == val_b
    assert set(val_a) != set(val_c)


def test_npz_with_channels_last_images(tmp_path):
    rng = np.random.default_rng(0)
    arrays = dict(x_train=rng.integers(0, 256, (50, 8, 8, 3), dtype=np.uint8), y_train=np.arange(50) % 10,
                  x_test=rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8), y_test=np.arange(10) % 10)
    np.savez(tmp_path / "cifar10.npz", **arrays)
    ds = data.load(DataConfig(dataset="cifar10", validation_size=10), tmp_path)
    assert ds.x_train.shape == (40, 3, 8, 8)
    # Channel c of image i comes from arrays[..., c], normalised with CIFAR-10's statistics.
    first = torch.from_numpy(arrays["x_test"][0].transpose(2, 0, 1) / 255.0).float()
    mean = torch.tensor([0.4914, 0.4822, 0.4465]).view(3, 1, 1)
    std = torch.tensor([0.2470, 0.2435, 0.2616]).view(3, 1, 1)
    torch.testing.assert_close(ds.x_test[0], (first - mean) / std)


def test_npz_with_wrong_keys_names_file_and_keys(tmp_path):
    path = write_fake_mnist(tmp_path, x_train=None, images=np.zeros((600, 28, 28), np.uint8))
    with pytest.raises(DataError) as err:
        data.load(MNIST_SMALL, tmp_path)
    message = str(err.value)
    assert str(path) in message and "x_train" in message
    assert "\n" not in message


@pytest.mark.parametrize("replace, expected", [
    (dict(x_train=np.zeros((600, 784), np.uint8)), "(N, H, W)"),
    (dict(y_train=np.zeros(599, np.uint8)), "y_train"),
    (dict(y_test=np.zeros((100, 1), np.uint8)), "y_test"),
    (dict(x_test=np.zeros((100, 32, 32), np.uint8)), "differ"),
    (dict(x_train=np.zeros((600, 28, 28, 3), np.uint8), x_test=np.zeros((100, 28, 28, 3), np.uint8)), "channel"),
], ids=["flat-images", "label-count", "label-ndim", "test-size", "rgb-for-mnist"])
def test_npz_with_wrong_shapes_names_file_and_expectation(tmp_path, replace, expected):
    path = write_fake_mnist(tmp_path, **replace)
    with pytest.raises(DataError) as err:
        data.load(MNIST_SMALL, tmp_path)
    message = str(err.value)
    assert str(path) in message, f"message does not name the file: {message}"
    assert expected in message


def test_not_an_npz_names_the_file(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="mnist.npz"):
        data.load(MNIST_SMALL, tmp_path)


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist", "cifar10"])
def test_missing_data_without_download_says_where_to_put_files(tmp_path, dataset):
    where = tmp_path / "nothing_here"
    with pytest.raises(DataError) as err:
        data.load(DataConfig(dataset=dataset), where, download=False)
    message = str(err.value)
    assert str(where) in message and f"{dataset}.npz" in message
    assert "LTH_DATA_DIR" in message and "\n" not in message
    assert not where.exists()  # looking does not create the folder


def test_validation_larger_than_training_set(tmp_path):
    write_fake_mnist(tmp_path)
    with pytest.raises(DataError, match="--validation-size"):
        data.load(DataConfig(dataset="mnist", validation_size=600), tmp_path)


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="real MNIST not at /work/shared/data")
def test_real_mnist_if_present():
    ds = data.load(DataConfig(dataset="mnist"), SHARED_MNIST.parent)
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (55_000, 5_000, 10_000)
    assert ds.num_classes == 10
    assert abs(float(ds.x_train.mean())) < 0.01 and abs(float(ds.x_train.std()) - 1) < 0.01


def test_raw_input_scaling_feeds_x_over_255_and_is_its_own_run():
    base = DataConfig(dataset="synthetic", synthetic_shape="1x8x8", synthetic_train=120, synthetic_test=40,
                             validation_size=20)
    raw = data.load(replace(base, input_scaling="raw"), Path("unused"))
    standard = data.load(base, Path("unused"))
    assert float(raw.x_train.min()) >= 0.0 and float(raw.x_train.max()) <= 1.0
    assert abs(float(standard.x_train.mean())) < 0.2  # standardised by the training split's own statistics
    assert not torch.equal(raw.x_train, standard.x_train)
    lenet = preset("lenet-mnist")
    assert lenet.override(input_scaling="standardise").run_id == lenet.run_id  # the default keeps every run id
    assert lenet.override(input_scaling="raw").run_id != lenet.run_id
    with pytest.raises(ConfigError, match="input_scaling|input-scaling"):
        lenet.override(input_scaling="minmax")
