"""The Pruning lab's experiment form: it starts from the picked preset and sends only what the user changed.

No training: jobs.start is replaced by a stand-in that records the config the page would start, and
both run roots are empty folders, so no finished run is needed (a page takes about a second).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import streamlit as st
from app_fixtures import ENTRY, page_file
from streamlit.testing.v1 import AppTest

from lth.core import config as config_mod
from lth.lab import jobs

RATES = ("rate_fc", "rate_conv", "rate_output")


@pytest.fixture
def started(tmp_path, monkeypatch) -> list:
    """The (config, preset name) of every job the page starts; the lab on empty run roots."""
    for env, folder in (("LTH_PRETRAINED_DIR", "shipped"), ("LTH_RUNS_DIR", "yours")):
        (tmp_path / folder).mkdir()
        monkeypatch.setenv(env, str(tmp_path / folder))
    st.cache_data.clear()
    st.cache_resource.clear()  # the lab's job registry lives there across AppTests
    calls = []

    def start(config, preset_name, runs_dir, data_dir, device="auto"):
        calls.append((config, preset_name))
        finished = SimpleNamespace(poll=lambda: 0)  # a process that has exited cleanly
        return jobs.Job(config, tmp_path / "yours" / config.run_id, tmp_path / "job.log", finished)

    monkeypatch.setattr(jobs, "start", start)
    return calls


def open_lab() -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=60).run()
    at.switch_page(str(page_file("lab").relative_to(ENTRY.parent))).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def rates_shown(at: AppTest) -> dict:
    return {name: at.number_input(key=f"lab_{name}").value for name in RATES}


def rates_of(cfg: config_mod.Config) -> dict:
    return {name: getattr(cfg.pruning, name) for name in RATES}


@pytest.mark.parametrize("name", ["conv2-fashion-reduced", "conv6-cifar10"])
def test_picking_a_preset_shows_and_starts_with_its_own_rates(started, name):
    at = open_lab()
    assert rates_shown(at) == rates_of(config_mod.preset("synthetic"))
    at.selectbox(key="lab_preset").set_value(name).run()
    assert rates_shown(at) == rates_of(config_mod.preset(name))
    at.get("form_submit_button")[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    ((cfg, preset_name),) = started
    assert preset_name == name
    assert cfg.pruning == config_mod.preset(name).pruning
    assert (cfg.experiment.levels, cfg.training.iterations) == (3, 300)  # the lab's size, whatever the preset
    assert cfg.model == config_mod.preset(name).model and cfg.data == config_mod.preset(name).data


def test_a_changed_rate_is_sent_and_the_others_stay_the_presets(started):
    at = open_lab()
    at.selectbox(key="lab_preset").set_value("conv2-fashion-reduced").run()
    at.number_input(key="lab_rate_conv").set_value(0.3)
    at.get("form_submit_button")[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    ((cfg, _),) = started
    assert rates_of(cfg) == {"rate_fc": 0.4, "rate_conv": 0.3, "rate_output": 0.2}
    assert "--rate-conv" in jobs.cli_args(cfg, "conv2-fashion-reduced")
    assert "--rate-fc" not in jobs.cli_args(cfg, "conv2-fashion-reduced")  # the preset's own: not sent


def test_switching_preset_again_replaces_the_rates_and_keeps_the_lab_size(started):
    at = open_lab()
    at.number_input(key="lab_levels").set_value(5)
    at.get("form_submit_button")[0].click().run()  # a form's values reach the page only on its button
    at.selectbox(key="lab_preset").set_value("conv2-fashion-reduced").run()
    at.selectbox(key="lab_preset").set_value("conv6-cifar10").run()
    assert rates_shown(at) == {"rate_fc": 0.2, "rate_conv": 0.15, "rate_output": 0.1}
    assert at.number_input(key="lab_levels").value == 5  # the user's, not conv6-cifar10's 20


def test_the_live_preset_starts_as_it_is_and_is_the_default_where_mnist_is(started, tmp_path, monkeypatch):
    at = open_lab()
    assert at.selectbox(key="lab_preset").value == "synthetic"  # no MNIST in the data folder
    at.selectbox(key="lab_preset").set_value("lenet-mnist-live").run()
    assert (at.number_input(key="lab_levels").value, at.number_input(key="lab_iterations").value) == (10, 300)
    at.get("form_submit_button")[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    ((cfg, _),) = started
    assert cfg == config_mod.preset("lenet-mnist-live")  # the CLI's run id: the lab and `lth run` share it

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mnist.npz").write_bytes(b"")
    monkeypatch.setenv("LTH_DATA_DIR", str(tmp_path / "data"))
    st.cache_resource.clear()
    assert open_lab().selectbox(key="lab_preset").value == "lenet-mnist-live"


def test_the_lab_offers_no_full_size_deep_network(started):
    """ResNet-18 and VGG-19 take hours on a CPU even at a lab run's size: `lth run` runs them, the lab does not."""
    options = open_lab().selectbox(key="lab_preset").options
    assert "resnet8-fashion-reduced" in options and "lenet-mnist-live" in options
    assert not [o for o in options if o.startswith(("resnet18", "vgg19"))]
