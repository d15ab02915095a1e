"""The paper's networks by name: the conv nets and LeNet here, the batch-norm networks in deep_models.

A model is a list of ``Layer`` specs and one forward function (model_base).
"""

from __future__ import annotations

import math
from typing import Callable

from ..core import catalog
from ..core.config import BATCH_NORM_MODELS, ConfigError
from . import deep_models
from .model_base import BatchedLinear, Layer, Model, Params, conv_stack, is_buffer  # noqa: F401  (re-exported)


def _conv_net(name: str, widths: list, input_shape, classes: int = 10) -> Model:
    """widths like [64, 64, "pool", 128, 128, "pool"] followed by fc 256, 256, classes."""
    layers, plan, _, (c, h, w) = conv_stack(widths, input_shape)
    features = c * h * w
    for i, out in enumerate([256, 256]):
        layers.append(Layer(f"fc{i + 1}", "fc", (out, features)))
        features = out
    layers.append(Layer("output", "output", (classes, features)))
    return Model(name, tuple(layers), tuple(plan), tuple(input_shape))


def lenet_300_100(input_shape, classes: int = 10) -> Model:
    features = math.prod(input_shape)
    layers = (Layer("fc1", "fc", (300, features)), Layer("fc2", "fc", (100, 300)),
              Layer("output", "output", (classes, 100)))
    return Model("lenet_300_100", layers, (), tuple(input_shape))


REGISTRY: dict[str, Callable[..., Model]] = {
    "lenet_300_100": lenet_300_100,
    "conv2": lambda s, classes=10: _conv_net("conv2", [64, 64, "pool"], s, classes),
    "conv4": lambda s, classes=10: _conv_net("conv4", [64, 64, "pool", 128, 128, "pool"], s, classes),
    "conv6": lambda s, classes=10: _conv_net("conv6", [64, 64, "pool", 128, 128, "pool", 256, 256, "pool"], s, classes),
    **deep_models.REGISTRY,
}


def refuse_batch_norm(model_name: str, what: str) -> None:
    """Analyses not yet written for batch norm (their forward passes would run it in evaluation mode with
    θ0's running averages, i.e. without batch statistics) refuse such a run with one clear message."""
    if model_name in BATCH_NORM_MODELS:
        raise ConfigError(f"{what} of batch-norm networks ({model_name}) is not built yet: it needs batch "
                         "statistics in its forward passes; IMP runs and check-paper work on them")


def refuse_foreign(model_name: str, what: str) -> None:
    """Sweeps reach into a network's layers (gates on its weights, scores at initialization, batch-norm averages
    re-measured on a path) and are written for the built-in ones: a network named by a form is refused, in one line."""
    if catalog.form(model_name, catalog.MODEL_FORMS):
        raise ConfigError(f"{what} runs on the built-in networks ({', '.join(catalog.MODELS)}), not yet on "
                          f"{model_name}; its IMP run, lth show and lth export-ticket work")


def build(name: str, input_shape, classes: int = 10) -> Model:
    if catalog.form(name, catalog.MODEL_FORMS):  # torchvision:NAME, or a module given to lth.find_tickets
        from . import foreign

        return foreign.build(name, tuple(input_shape), classes)
    return REGISTRY[name](tuple(input_shape), classes)
