"""The built-in networks without batch norm (LeNet-300-100, Conv-2/4/6) as plain torch.nn.Modules, for a ticket
taken out of the store: the same parameter names ("fc1.weight", "conv1.bias", ...) and the same forward pass as
model_base.Model.forward for one model (3x3 convolutions with padding 1 and ReLU, 2x2 max-pooling where the plan
says, then ReLU between the fully-connected layers and none after the output)."""

from __future__ import annotations

import torch
from torch import nn

from ..core.config import ConfigError
from .model_base import Model


class PlainNet(nn.Module):
    def __init__(self, model: Model):
        super().__init__()
        if model.batch_norm:
            raise ConfigError(f"{model.name} has batch norm: only LeNet-300-100 and the Conv nets have a plain "
                              "module here; a torchvision or your own module loads its ticket as it is")
        self.convs = [layer.name for layer in model.layers[: len(model.conv_plan)]]
        self.pools = list(model.conv_plan)
        self.fcs = [layer.name for layer in model.layers[len(model.conv_plan):]]
        for layer in model.layers:
            if layer.kind == "conv":
                out, inp = layer.weight_shape[:2]
                self.add_module(layer.name, nn.Conv2d(inp, out, layer.weight_shape[2], padding=1))
            else:
                self.add_module(layer.name, nn.Linear(layer.weight_shape[1], layer.weight_shape[0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name, pool in zip(self.convs, self.pools):
            x = torch.relu(getattr(self, name)(x))
            if pool:
                x = nn.functional.max_pool2d(x, 2)
        x = x.flatten(1)
        for i, name in enumerate(self.fcs):
            x = getattr(self, name)(x)
            if i < len(self.fcs) - 1:
                x = torch.relu(x)
        return x


def as_module(model: Model) -> nn.Module:
    """A fresh plain module of a built-in network without batch norm (its weights PyTorch's defaults)."""
    return PlainNet(model)
