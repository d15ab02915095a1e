"""Batch-norm networks for a stack of K models: the paper's CIFAR ResNet and VGG-19 (its Section 5).

The conventions of model_base hold: parameters are {name: (K, ...)}, and activations are laid out
(B, K*C, H, W), so each convolution is one grouped call. Batch norm over that layout gives every model its
own statistics, because channel k*C + c is model k's channel c.

Convolutions have no bias: batch norm's shift plays that part. Each convolution's batch norm has a trained
scale and shift ("<conv>.scale", "<conv>.shift") and running averages ("<conv>.running_mean",
"<conv>.running_var"). No optimiser touches the running averages: forward(train=True) updates them in
place, and evaluation uses them. They are part of the network's state, so rewinding restores them with the
weights: θk's averages are those of iteration k, and θ0's are 0 and 1.

Initialisation follows open_lth's runs of these networks (the paper does not say which it used
[unverified]): Kaiming normal weights (fan-in, ReLU gain), batch-norm scale 1 and shift 0, output bias 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F

from .model_base import BatchedLinear, Layer, Model, Params, conv_stack

BN_MOMENTUM, BN_EPS = 0.1, 1e-5  # torch's defaults, as open_lth uses them


@dataclass(frozen=True)
class BatchNormNet(Model):
    positions: tuple[int, ...] = ()  # output positions (H*W) per example of each layer; 1 for the output layer

    @property
    def convolutional(self) -> bool:
        return True

    @property
    def batch_norm(self) -> bool:
        return True

    def widest_activation(self) -> int:
        return max(layer.weight_shape[0] * p for layer, p in zip(self.layers, self.positions))

    def flops_per_example(self) -> int:
        return sum(2 * layer.size * p for layer, p in zip(self.layers, self.positions))

    def prunable_channels(self) -> dict[str, tuple[str, ...]]:
        """The layers whose output channels network slimming may remove, each with the layers that read those
        channels (whose input channels go with them)."""
        raise NotImplementedError

    def init(self, generators: list[torch.Generator], device="cpu") -> Params:
        k, params = len(generators), {}
        for layer in self.layers:
            std = math.sqrt(2.0 / layer.fan_in)
            w = torch.stack([torch.randn(layer.weight_shape, generator=g) * std for g in generators])
            params[f"{layer.name}.weight"] = w.to(device)
            out = layer.weight_shape[0]
            if layer.kind == "output":
                params[f"{layer.name}.bias"] = torch.zeros(k, out, device=device)
                continue
            for name, fill in (("scale", 1.0), ("shift", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
                params[f"{layer.name}.{name}"] = torch.full((k, out), fill, device=device)
        return params


@torch.no_grad()
def reestimate_running_averages(model: BatchNormNet, params: Params, x: torch.Tensor, batch: int) -> Params:
    """The parameters with each batch norm's running averages measured afresh on x, in batches of `batch`: the
    average over the batches of each batch's mean and (unbiased) variance, as torch.optim.swa_utils.update_bn
    computes them. For weights no training produced (a point between two trained networks) the stored averages
    belong to no network; these are the ones this network's training-mode batches have."""
    out = {n: p.clone() for n, p in params.items()}
    for n, p in out.items():
        if n.endswith(".running_mean"):
            p.zero_()
        elif n.endswith(".running_var"):
            p.fill_(1.0)
    for i, start in enumerate(range(0, max(1, len(x) - batch + 1), batch)):  # whole batches only
        model.forward(out, x[start:start + batch], shared_input=True, train=True, momentum=1.0 / (i + 1))
    return out


def _stacked(x: torch.Tensor, shared_input: bool) -> torch.Tensor:
    """(B, K*C, H, W) from K batches (K, B, C, H, W); a shared (B, C, H, W) batch stays as it is."""
    return x if shared_input else x.transpose(0, 1).flatten(1, 2)


def _conv_bn(params: Params, name: str, h: torch.Tensor, k: int, train: bool, stride: int = 1,
             shared_input: bool = False, momentum: float = BN_MOMENTUM) -> torch.Tensor:
    w = params[f"{name}.weight"]
    h = F.conv2d(h, w.flatten(0, 1), None, stride=stride, padding=w.shape[-1] // 2, groups=1 if shared_input else k)
    return F.batch_norm(h, params[f"{name}.running_mean"].view(-1), params[f"{name}.running_var"].view(-1),
                        params[f"{name}.scale"].view(-1), params[f"{name}.shift"].view(-1), train, momentum, BN_EPS)


def _head(params: Params, h: torch.Tensor, k: int) -> torch.Tensor:
    """Global average pooling, then the output layer: logits (K, B, classes)."""
    h = h.mean((2, 3)).unflatten(1, (k, -1)).transpose(0, 1)
    return BatchedLinear.apply(h, params["output.weight"], params["output.bias"])


@dataclass(frozen=True)
class ResNet(BatchNormNet):
    blocks: tuple[tuple[str, int, bool], ...] = ()  # (name prefix, stride, has a 1x1 shortcut) per residual block

    def prunable_channels(self) -> dict[str, tuple[str, ...]]:
        """Each block's inner channels (conv1's, read by conv2), as slimming's ResNet pruning does: the channels
        the residual additions share stay whole."""
        return {f"{prefix}_conv1": (f"{prefix}_conv2",) for prefix, _, _ in self.blocks}

    def forward(self, params: Params, x: torch.Tensor, shared_input: bool = False, train: bool = False,
                momentum: float = BN_MOMENTUM) -> torch.Tensor:
        k = params["conv.weight"].shape[0]
        bn = partial(_conv_bn, params, k=k, train=train, momentum=momentum)
        h = F.relu(bn("conv", _stacked(x, shared_input), shared_input=shared_input))
        for prefix, stride, shortcut in self.blocks:
            out = F.relu(bn(f"{prefix}_conv1", h, stride=stride))
            out = bn(f"{prefix}_conv2", out)
            h = F.relu(out + (bn(f"{prefix}_shortcut", h, stride=stride) if shortcut else h))
        return _head(params, h, k)


def resnet(name: str, width: int, blocks_per_stage: int, input_shape, classes: int = 10) -> ResNet:
    """The CIFAR ResNet of He et al. 2016 as the paper uses it: a 3x3 conv of `width`, three stages of
    `blocks_per_stage` two-conv residual blocks at width, 2x and 4x width (stride 2 into stages 2 and 3, with a
    1x1 conv + batch norm shortcut there), global average pooling, the output layer."""
    c, h, w = input_shape
    layers, positions, blocks = [Layer("conv", "conv", (width, c, 3, 3))], [h * w], []
    channels = width
    for stage in range(3):
        out = width * 2 ** stage
        for b in range(blocks_per_stage):
            stride = 2 if stage > 0 and b == 0 else 1
            h, w = (h + stride - 1) // stride, (w + stride - 1) // stride
            prefix, shortcut = f"s{stage + 1}b{b + 1}", stride != 1 or channels != out
            layers += [Layer(f"{prefix}_conv1", "conv", (out, channels, 3, 3)),
                       Layer(f"{prefix}_conv2", "conv", (out, out, 3, 3))]
            positions += [h * w, h * w]
            if shortcut:
                layers.append(Layer(f"{prefix}_shortcut", "shortcut", (out, channels, 1, 1)))
                positions.append(h * w)
            blocks.append((prefix, stride, shortcut))
            channels = out
    layers.append(Layer("output", "output", (classes, channels)))
    positions.append(1)
    return ResNet(name, tuple(layers), (), tuple(input_shape), tuple(positions), tuple(blocks))


@dataclass(frozen=True)
class VGG(BatchNormNet):
    def prunable_channels(self) -> dict[str, tuple[str, ...]]:
        """Every convolution's channels, read by the next convolution (the last one's by the output layer)."""
        names = [layer.name for layer in self.layers]
        return {n: (names[i + 1],) for i, n in enumerate(names[:-1])}
    def forward(self, params: Params, x: torch.Tensor, shared_input: bool = False, train: bool = False,
                momentum: float = BN_MOMENTUM) -> torch.Tensor:
        k = params["output.weight"].shape[0]
        h = _stacked(x, shared_input)
        for i, (layer, pool) in enumerate(zip(self.layers, self.conv_plan)):
            first = shared_input and i == 0
            h = F.relu(_conv_bn(params, layer.name, h, k, train, shared_input=first, momentum=momentum))
            if pool:
                h = F.max_pool2d(h, 2)
        return _head(params, h, k)


# Liu et al. 2019's CIFAR VGG-19 (the paper's): 3x3 convs with batch norm, "pool" = 2x2 max-pooling.
VGG19 = (64, 64, "pool", 128, 128, "pool", 256, 256, 256, 256, "pool", 512, 512, 512, 512, "pool", 512, 512, 512, 512)

VGG6_W8 = (8, 8, "pool", 16, 16, "pool", 32, 32)


def vgg(name: str, plan: tuple, input_shape, classes: int = 10) -> VGG:
    layers, pools, positions, (c, _, _) = conv_stack(plan, input_shape)
    layers.append(Layer("output", "output", (classes, c)))
    positions.append(1)
    return VGG(name, tuple(layers), tuple(pools), tuple(input_shape), tuple(positions))


REGISTRY = {
    "resnet18": lambda s, classes=10: resnet("resnet18", 16, 3, s, classes),  # the paper's name for ResNet-20
    "vgg19": lambda s, classes=10: vgg("vgg19", VGG19, s, classes),
    # A CPU-sized ResNet for the reduced shipped run: one block per stage (ResNet-8), width 8.
    "resnet8_w8": lambda s, classes=10: resnet("resnet8_w8", 8, 1, s, classes),
    # A CPU-sized VGG for the reduced network-slimming run: six convs of width 8, 16, 32.
    "vgg6_w8": lambda s, classes=10: vgg("vgg6_w8", VGG6_W8, s, classes),
}
