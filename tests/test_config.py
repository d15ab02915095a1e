"""Config: run ids are pinned, defaults stay out of the hash, bad values name their flag."""

from __future__ import annotations

import json

import pytest

from lth.core import arms
from lth.core.config import PRESETS, Config, ConfigError, canonical, preset

# Computed once with the engine's first version. A change here renames every stored run:
# only accept it on purpose.
PINNED_RUN_IDS = {
    "Config()": (lambda: Config(), "44136fa355b3"),
    "synthetic": (lambda: preset("synthetic"), "1fe7999a04cf"),
    "synthetic levels=2": (lambda: preset("synthetic").override(levels=2), "11f0256271fe"),
}


@pytest.mark.parametrize("name", PINNED_RUN_IDS)
def test_run_id_is_pinned(name):
    make, expected = PINNED_RUN_IDS[name]
    assert make().run_id == expected


def test_fields_at_default_do_not_enter_the_hash():
    assert canonical(Config()) == {}
    assert canonical(preset("lenet-mnist")) == {}
    # Setting a field to its default value explicitly changes nothing.
    explicit = Config().override(levels=20, lr=1.2e-3, dataset="mnist", strategy="layerwise")
    assert canonical(explicit) == {}
    assert explicit.run_id == Config().run_id
    assert canonical(preset("synthetic")) == {
        "data": {"dataset": "synthetic", "validation_size": 200},
        "training": {"iterations": 300, "eval_every": 50},
        "experiment": {"levels": 3},
    }


def test_every_non_default_value_changes_the_run_id():
    base = Config()
    changed = [base.override(levels=3), base.override(lr=1e-3), base.override(seed=1), base.override(trials=2),
               base.override(rate_fc=0.3), base.override(one_shot=False), base.override(model="conv2"),
               base.override(data_order="fresh")]
    ids = {c.run_id for c in changed} | {base.run_id}
    assert len(ids) == len(changed) + 1


def test_equal_configs_have_equal_run_ids():
    """Config(lr=1) == Config(lr=1.0), so they must name the same run (the app may pass ints)."""
    a, b = Config().override(lr=1), Config().override(lr=1.0)
    assert a == b
    assert a.run_id == b.run_id


@pytest.mark.parametrize("name", PRESETS)
def test_dict_round_trip(name):
    c = preset(name).override(seed=3, rewind_iteration=5, one_shot=False)
    back = Config.from_dict(json.loads(json.dumps(c.to_dict())))
    assert back == c
    assert back.run_id == c.run_id


def test_from_dict_defaults_missing_and_rejects_unknown():
    assert Config.from_dict({"experiment": {"levels": 4}}) == Config().override(levels=4)
    with pytest.raises(ConfigError, match="unknown config section 'optimizer'"):
        Config.from_dict({"optimizer": {}})
    with pytest.raises(ConfigError, match="nesterov"):
        Config.from_dict({"training": {"nesterov": True}})


def test_override_rejects_unknown_field():
    with pytest.raises(ConfigError, match="'learning_rate'"):
        Config().override(learning_rate=0.1)


def test_unknown_preset_names_the_flag():
    with pytest.raises(ConfigError, match="--preset") as err:
        preset("lenet-imagenet")
    assert "synthetic" in str(err.value)  # and lists the choices


@pytest.mark.parametrize("overrides, flag", [
    (dict(rate_fc=1.0), "--rate-fc"),
    (dict(rate_fc=1.5), "--rate-fc"),
    (dict(rate_conv=-0.1), "--rate-conv"),
    (dict(rate_output=1.0), "--rate-output"),
    (dict(rate_global=2.0), "--rate-global"),
    (dict(levels=-1), "--levels"),
    (dict(trials=0), "--trials"),
    (dict(reinit=-1), "--reinit"),
    (dict(dataset="imagenet"), "--dataset"),
    (dict(model="resnet50"), "--model"),
    (dict(strategy="random"), "--strategy"),
    (dict(lr=0.0), "--lr"),
    (dict(iterations=0), "--iterations"),
    (dict(rewind_iteration=50_000), "--rewind-iteration"),
    (dict(synthetic_shape="28x28"), "--synthetic-shape"),
    (dict(dataset="synthetic", validation_size=1200), "--synthetic-train"),
    (dict(optimizer="rmsprop"), "--optimizer"),
    (dict(momentum=1.0), "--momentum"),
    (dict(weight_decay=-1e-4), "--weight-decay"),
    (dict(lr_drops="25000,20000"), "--lr-drops"),
    (dict(lr_drops="20000, 25000"), "--lr-drops"),
    (dict(lr_drops="50000"), "--lr-drops"),
    (dict(lr_factor=0.0), "--lr-factor"),
    (dict(warmup=50_000), "--warmup"),
    (dict(global_layers="fc"), "--global-layers"),
])
def test_bad_value_raises_config_error_naming_the_flag(overrides, flag):
    with pytest.raises(ConfigError) as err:
        Config().override(**overrides)
    assert str(err.value).startswith(flag + "=")
    assert "\n" not in str(err.value)


def test_arms_follow_the_experiment_section():
    assert arms.in_run(Config()) == ("ticket", "reinit", "random_prune", "one_shot")
    assert arms.in_run(Config().override(reinit=0, one_shot=False)) == ("ticket", "random_prune")


def test_reduced_preset_says_so_on_every_chart():
    from lth.report import figures

    reduced = preset("conv2-fashion-reduced")
    assert reduced.experiment.label.startswith("REDUCED protocol")
    assert reduced.training.iterations < preset("conv2-cifar10").training.iterations
    assert figures.describe(reduced).replace("<br>", " ").startswith(f"<b>{reduced.experiment.label}</b> ")
    assert "REDUCED" not in figures.describe(preset("lenet-mnist"))
    short = figures.describe(reduced, "run abc123 · trial 0", short=True)  # half-width charts keep the label too
    assert short.replace("<br>", " ").startswith(f"<b>{reduced.experiment.label}</b> Conv-2 on Fashion-MNIST")
    assert "Adam" not in short and max(len(line) for line in short.split("<br>")) < 70  # wrapped to fit half width
    assert short.endswith("· run abc123 · trial 0")
    assert "label" not in json.dumps(canonical(preset("lenet-mnist")))  # a default: old run ids unchanged
