"""Models: the paper's parameter counts, Glorot init, and the batched forward pass."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import generators

from lth.engine import models


@pytest.mark.parametrize("name, shape, prunable", [
    ("lenet_300_100", (1, 28, 28), 266_200),
    ("conv2", (3, 32, 32), 4_300_992),
    ("conv4", (3, 32, 32), 2_425_024),
    ("conv6", (3, 32, 32), 2_261_184),
])
def test_prunable_weight_counts(name, shape, prunable):
    model = models.build(name, shape)
    assert model.prunable == prunable
    assert [layer.kind for layer in model.layers][-1] == "output"


def test_layer_shapes_follow_the_paper():
    lenet = models.build("lenet_300_100", (1, 28, 28))
    assert [layer.weight_shape for layer in lenet.layers] == [(300, 784), (100, 300), (10, 100)]
    conv4 = models.build("conv4", (3, 32, 32))
    assert [layer.weight_shape[0] for layer in conv4.layers] == [64, 64, 128, 128, 256, 256, 10]
    assert conv4.conv_plan == (False, True, False, True)
    assert conv4.layers[4].weight_shape == (256, 128 * 8 * 8)


def test_init_is_glorot_normal_with_zero_biases():
    model = models.build("lenet_300_100", (1, 28, 28))
    params = model.init(generators(0, 1))
    w = params["fc1.weight"]
    assert w.shape == (2, 300, 784)
    assert abs(float(w.std()) - math.sqrt(2 / (784 + 300))) < 0.01 * math.sqrt(2 / (784 + 300))
    assert float(w.mean().abs()) < 1e-3
    assert not torch.equal(w[0], w[1])  # one generator per model
    assert torch.count_nonzero(params["fc1.bias"]) == 0
    again = model.init(generators(1))
    assert torch.equal(again["fc1.weight"][0], w[1])  # the same generator gives the same weights


@pytest.mark.parametrize("name, shape", [("lenet_300_100", (1, 8, 8)), ("conv2", (3, 8, 8)), ("conv4", (2, 8, 8))])
def test_batched_forward_equals_each_model_alone(name, shape):
    model = models.build(name, shape)
    k, batch = 3, 5
    params = model.init(generators(0, 1, 2))
    params = {n: p + 0.01 * torch.randn(p.shape, generator=generators(9)[0]) for n, p in params.items()}  # biases too
    x = torch.randn((k, batch, *shape), generator=generators(7)[0])
    out = model.forward(params, x)
    assert out.shape == (k, batch, 10)
    for i in range(k):
        alone = model.forward({n: p[i:i + 1] for n, p in params.items()}, x[i:i + 1])
        torch.testing.assert_close(out[i], alone[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name, shape", [("lenet_300_100", (1, 8, 8)), ("conv2", (3, 8, 8))])
def test_shared_input_equals_the_same_batch_for_each_model(name, shape):
    """Evaluation feeds one batch to all K models; it must match feeding each its own copy."""
    model = models.build(name, shape)
    params = model.init(generators(0, 1))
    params = {n: p + 0.01 for n, p in params.items()}
    x = torch.randn((4, *shape), generator=generators(3)[0])
    shared = model.forward(params, x, shared_input=True)
    separate = model.forward(params, x.expand(2, *x.shape))
    torch.testing.assert_close(shared, separate, atol=1e-5, rtol=1e-5)


def test_evaluations_in_place_bias_and_relu_give_the_out_of_place_bits():
    """Evaluation adds the first layer's bias and applies every ReLU in place (20% faster on LeNet at K = 15);
    each element is the same single rounding, so the logits are bit for bit those of the out-of-place forward."""
    model = models.build("lenet_300_100", (1, 28, 28))
    params = {n: p + 0.01 for n, p in model.init(generators(0, 1, 2)).items()}
    x = torch.rand((700, 1, 28, 28), generator=generators(3)[0])
    w, b = params["fc1.weight"], params["fc1.bias"]
    relu = torch.nn.functional.relu
    h = relu((x.flatten(1) @ w.flatten(0, 1).T).unflatten(1, (3, -1)).transpose(0, 1) + b.unsqueeze(1))
    h = relu(models.BatchedLinear.apply(h, params["fc2.weight"], params["fc2.bias"]))
    reference = models.BatchedLinear.apply(h, params["output.weight"], params["output.bias"])
    assert torch.equal(model.forward(params, x, shared_input=True), reference)


def test_one_tiny_step_on_fake_data_reduces_the_loss():
    model = models.build("conv2", (3, 8, 8))
    params = {n: p.requires_grad_(True) for n, p in model.init(generators(0)).items()}
    x, y = torch.randn(1, 16, 3, 8, 8, generator=generators(1)[0]), torch.arange(16).remainder(10).unsqueeze(0)
    opt = torch.optim.Adam(params.values(), lr=1e-2)
    losses = []
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(model.forward(params, x)[0], y[0])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name, shape", [("lenet_300_100", (1, 6, 6)), ("conv2", (2, 4, 4))])
def test_batched_gradients_equal_plain_autograd_per_model(name, shape):
    """The batched fc layers have a hand-written backward: check it against torch's own, model by model."""
    model = models.build(name, shape)
    k = 3
    params = {n: (p + 0.05 * torch.randn(p.shape, generator=generators(5)[0])).requires_grad_(True)
              for n, p in model.init(generators(0, 1, 2)).items()}
    x = torch.randn((k, 4, *shape), generator=generators(6)[0])
    y = torch.tensor([1, 3, 5, 7])
    loss = sum(torch.nn.functional.cross_entropy(out, y) for out in model.forward(params, x))
    batched = torch.autograd.grad(loss, list(params.values()))

    n_conv = len(model.conv_plan)
    for i in range(k):
        own = {n: p[i].detach().clone().requires_grad_(True) for n, p in params.items()}
        h = x[i]
        for layer, pool in zip(model.layers, model.conv_plan):
            h = torch.relu(torch.nn.functional.conv2d(h, own[f"{layer.name}.weight"], own[f"{layer.name}.bias"],
                                                      padding=1))
            h = torch.nn.functional.max_pool2d(h, 2) if pool else h
        h = h.flatten(1)
        fcs = model.layers[n_conv:]
        for j, layer in enumerate(fcs):
            h = torch.nn.functional.linear(h, own[f"{layer.name}.weight"], own[f"{layer.name}.bias"])
            h = torch.relu(h) if j < len(fcs) - 1 else h
        reference = torch.autograd.grad(torch.nn.functional.cross_entropy(h, y), list(own.values()))
        for (n, _), g_batched, g_ref in zip(params.items(), batched, reference):
            torch.testing.assert_close(g_batched[i], g_ref, atol=1e-5, rtol=1e-4, msg=f"model {i}, {n}")
