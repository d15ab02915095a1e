"""Where the experiment form starts: the presets it offers, each one's values, cut to a lab run's size."""

from __future__ import annotations

import streamlit as st

from lth.core import paths
from lth.core.config import FIELD_SECTION, PRESETS, preset

LAB_SIZE = {"levels": 3, "iterations": 300}  # a lab run is short whatever the preset; the CLI runs one in full
LAB_PRESETS = ("lenet-mnist-live", "synthetic")
# Full-size ResNet-18 / VGG-19 are not offered: at a lab run's size they would still take hours on a laptop's CPU
# (a step is about a second and several seconds); `lth run` runs them, and resnet8-fashion-reduced is offered.
OFFERED = tuple(name for name in PRESETS if PRESETS[name].model.model not in ("resnet18", "vgg19"))
PRESET_FIELDS = ("rate_fc", "rate_conv", "rate_output", "trials", "reinit", "random_prune", "one_shot")


def lab_sized(name: str) -> bool:
    """A preset made to run in the lab as it is (seconds to a minute here): its levels and iterations are kept."""
    return name in LAB_PRESETS


def form_start(name: str) -> dict:
    """The form's starting values: the preset's own, its levels and iterations cut to a lab run's size if larger."""
    base = preset(name)
    own = {field: getattr(getattr(base, FIELD_SECTION[field]), field) for field in PRESET_FIELDS}
    size = {"levels": base.experiment.levels, "iterations": base.training.iterations} if lab_sized(name) else LAB_SIZE
    return {**size, **own}


def load_preset() -> None:
    """On a new preset the inputs show its own values (rates, trials, controls); levels and iterations too for a
    lab-sized preset, else they stay as they were."""
    name = st.session_state["lab_preset"]
    for field, value in form_start(name).items():
        if field not in LAB_SIZE or lab_sized(name):
            st.session_state[f"lab_{field}"] = value


def default_preset() -> str:
    """The live demo on real MNIST when it is in the data folder, else the synthetic set (no data needed)."""
    return "lenet-mnist-live" if (paths.data_dir() / "mnist.npz").exists() else "synthetic"
