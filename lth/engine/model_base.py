"""What every network is: a stack of K independent parameter sets and one forward function.

A model is a list of ``Layer`` specs and one forward function. Parameters are
a dict ``{"<layer>.weight": (K, ...), "<layer>.bias": (K, out)}``: K models
(trials, arms, controls) train together as one batched network, with no Python
loop over models. K = 1 is the single-model case. Convolutions are grouped
(``groups=K``); fully-connected layers are batched matrix products.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Params = dict[str, torch.Tensor]


class BatchedLinear(torch.autograd.Function):
    """y = x Wᵀ + b for K models at once, with the weight gradient made in W's own (K, out, in) layout.

    Autograd's rule for ``baddbmm(b, x, W.transpose(1, 2))`` builds the gradient
    as (K, in, out) and then copies it into W's layout: on a CPU that copy took
    a fifth of a LeNet training step. Computing gᵀx directly avoids it.
    """

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        return torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        grad_x = torch.bmm(grad, w) if ctx.needs_input_grad[0] else None
        grad_w = torch.bmm(grad.transpose(1, 2), x) if ctx.needs_input_grad[1] else None
        grad_b = grad.sum(1) if ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


@dataclass(frozen=True)
class Layer:
    name: str
    kind: str  # "conv" | "fc" | "output": selects the pruning rate
    weight_shape: tuple[int, ...]  # (out, in) or (out, in, 3, 3)

    @property
    def size(self) -> int:
        return math.prod(self.weight_shape)

    @property
    def fan_in(self) -> int:
        return math.prod(self.weight_shape[1:])

    @property
    def fan_out(self) -> int:
        return self.weight_shape[0] * math.prod(self.weight_shape[2:])


@dataclass(frozen=True)
class Model:
    name: str
    layers: tuple[Layer, ...]
    conv_plan: tuple  # per conv layer: pool after it?
    input_shape: tuple[int, int, int]

    @property
    def prunable(self) -> int:
        return sum(layer.size for layer in self.layers)

    @property
    def convolutional(self) -> bool:
        return bool(self.conv_plan)

    @property
    def batch_norm(self) -> bool:
        """True for networks with batch norm, whose forward differs between training and evaluation."""
        return False

    def widest_activation(self) -> int:
        """Floats per example of the widest layer output (sizes evaluation chunks)."""
        c, h, w = self.input_shape
        return max([layer.weight_shape[0] * h * w for layer in self.layers[: len(self.conv_plan)]] + [1000])

    def flops_per_example(self) -> int:
        """Multiply-adds x2 of one forward pass (training is about 3x this)."""
        c, h, w = self.input_shape
        total = 0
        for layer, pool in zip(self.layers, self.conv_plan):
            total += 2 * layer.size * h * w
            if pool:
                h, w = h // 2, w // 2
        return total + sum(2 * layer.size for layer in self.layers[len(self.conv_plan):])

    def init(self, generators: list[torch.Generator], device="cpu") -> Params:
        """Gaussian Glorot (Xavier normal) weights, zero biases; one generator per model."""
        params = {}
        for layer in self.layers:
            std = math.sqrt(2.0 / (layer.fan_in + layer.fan_out))
            w = torch.stack([torch.randn(layer.weight_shape, generator=g) * std for g in generators])
            params[f"{layer.name}.weight"] = w.to(device)
            params[f"{layer.name}.bias"] = torch.zeros(len(generators), layer.weight_shape[0], device=device)
        return params

    def forward(self, params: Params, x: torch.Tensor, shared_input: bool = False, train: bool = False) -> torch.Tensor:
        """Logits (K, B, classes).

        x is (K, B, C, H, W), one batch per model, or with ``shared_input`` a
        single (B, C, H, W) batch that every model sees (evaluation). ``train``
        matters only to batch-norm networks (batch statistics, running averages updated).
        """
        k = params[f"{self.layers[0].name}.weight"].shape[0]
        n_conv = len(self.conv_plan)
        if n_conv:
            h = x if shared_input else x.transpose(0, 1).flatten(1, 2)  # (B, K*C, H, W)
            for i, (layer, pool) in enumerate(zip(self.layers, self.conv_plan)):
                w = params[f"{layer.name}.weight"].flatten(0, 1)  # (K*out, in, 3, 3)
                groups = 1 if (i == 0 and shared_input) else k
                h = F.relu(F.conv2d(h, w, params[f"{layer.name}.bias"].flatten(), padding=1, groups=groups))
                if pool:
                    h = F.max_pool2d(h, 2)
            h = h.unflatten(1, (k, -1)).flatten(2).transpose(0, 1)  # (K, B, features)
        elif shared_input:
            w = params[f"{self.layers[0].name}.weight"]  # one GEMM for all K first layers
            h = x.flatten(1) @ w.flatten(0, 1).T  # (B, K*out): bias and ReLU in place, the same sums as out of place
            h = h.add_(params[f"{self.layers[0].name}.bias"].flatten()).relu_().unflatten(1, (k, -1)).transpose(0, 1)
            n_conv = 1  # the first fc layer is done
        else:
            h = x.flatten(2)
        fcs = self.layers[n_conv:]
        for i, layer in enumerate(fcs):
            h = BatchedLinear.apply(h, params[f"{layer.name}.weight"], params[f"{layer.name}.bias"])
            if i < len(fcs) - 1:
                h = h.relu_()  # in place: BatchedLinear's backward needs its inputs, not its output
        return h


def is_buffer(name: str) -> bool:
    """A batch-norm running average: part of a network's state, rewound and evaluated, never trained."""
    return name.endswith((".running_mean", ".running_var"))


def conv_stack(plan, input_shape) -> tuple[list[Layer], list[bool], list[int], tuple[int, int, int]]:
    """3x3 conv layers from a plan like (64, 64, "pool", 128, ...) ("pool": 2x2 max-pooling after the conv
    before it): the layers, a pool flag per layer, each layer's output positions (H*W), and the (C, H, W) after."""
    c, h, w = input_shape
    layers, pools, positions = [], [], []
    for item in plan:
        if item == "pool":
            pools[-1] = True
            h, w = h // 2, w // 2
            continue
        layers.append(Layer(f"conv{len(layers) + 1}", "conv", (item, c, 3, 3)))
        pools.append(False)
        positions.append(h * w)
        c = item
    return layers, pools, positions, (c, h, w)
