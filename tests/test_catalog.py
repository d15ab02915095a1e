"""The catalog is the one registry of what a user can name: the engine builds, reads and sweeps exactly it."""

from __future__ import annotations

import numpy as np
import pytest
import torchvision

from lth.core import arms, catalog, sweeps
from lth.core.config import DataConfig, preset
from lth.engine import data, models


def test_the_engine_builds_exactly_the_catalogs_networks():
    assert set(models.REGISTRY) == set(catalog.MODELS)


@pytest.mark.parametrize("name", list(catalog.MODELS))
def test_each_network_is_built_by_name_with_batch_norm_as_declared(name):
    shape = (3, 32, 32) if name != "lenet_300_100" else (1, 28, 28)
    model = models.build(name, shape)
    assert model.name == name
    assert model.batch_norm == catalog.MODELS[name].batch_norm
    assert (name in catalog.BATCH_NORM_MODELS) == catalog.MODELS[name].batch_norm


def test_synthetic_data_loads_by_name_without_files(tmp_path):
    loaded = data.load(preset("synthetic").data, tmp_path / "nowhere")
    assert loaded.num_classes == 10 and len(loaded.x_train) > 0


@pytest.mark.parametrize("name", [n for n, d in catalog.DATASETS.items() if n != "synthetic"])
def test_each_real_data_set_loads_by_name_and_names_a_torchvision_class(tmp_path, name):
    folder = catalog.DATASETS[name].torchvision
    assert folder is not None and hasattr(torchvision.datasets, folder)
    channels = len(data.NORMALISATION[name][0])  # the data set's own statistics: its channel count
    side = 32 if channels == 3 else 28
    image = (side, side, channels) if channels > 1 else (side, side)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / f"{name}.npz",
             x_train=rng.integers(0, 256, size=(40, *image), dtype=np.uint8), y_train=np.arange(40) % 10,
             x_test=rng.integers(0, 256, size=(10, *image), dtype=np.uint8), y_test=np.arange(10) % 10)
    loaded = data.load(DataConfig(dataset=name, validation_size=10), tmp_path)
    assert loaded.input_shape == (channels, side, side) and len(loaded.x_train) == 30


@pytest.mark.parametrize("method", list(catalog.METHODS))
def test_each_method_has_its_arms_and_a_kind_of_sweep(method):
    own = arms.of_method(method)
    assert own, f"{method} has no arm in lth.core.arms"
    kind = catalog.METHODS[method].sweep_kind
    assert kind in sweeps.SETTINGS and kind != "stability"
    if kind == "gates":
        assert {a.kind for a in own} <= {"gradient", "strong"}
    else:  # pruned at initialization: its masks as found, shuffled within each layer, and on re-drawn weights
        assert {a.kind for a in own} == {"init"}
        assert {(a.mask, a.init) for a in own} == {("scored", "rewind"), ("shuffled", "rewind"), ("scored", "fresh")}


def test_every_arm_of_a_method_names_one_in_the_catalog():
    named = {a.method for a in arms.REGISTRY.values() if a.method}
    assert named <= set(catalog.METHODS)


def test_the_sweep_settings_choose_among_the_catalogs_methods():
    from lth.core.gate_config import METHODS as GATE_METHODS
    from lth.core.init_config import METHODS as INIT_METHODS

    assert GATE_METHODS == catalog.methods("gates") and INIT_METHODS == catalog.methods("init")
    assert set(GATE_METHODS) | set(INIT_METHODS) == set(catalog.METHODS)


@pytest.mark.parametrize("registry", [catalog.MODELS, catalog.DATASETS, catalog.METHODS],
                         ids=["networks", "data sets", "methods"])
def test_display_names_are_unique(registry):
    names = [entry.display for entry in registry.values()]
    assert len(set(names)) == len(names)


def test_display_names_are_looked_up_and_unknown_names_pass_through():
    assert catalog.model_name("lenet_300_100") == "LeNet-300-100"
    assert catalog.dataset_name("fashion_mnist") == "Fashion-MNIST"
    assert catalog.method_name("snip") == "SNIP"
    assert catalog.method_name("not_a_method") == "not_a_method"
