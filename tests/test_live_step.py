"""Adam on the live weights only (engine.live_step) gives the bits of Adam on every weight."""

from __future__ import annotations

import pytest
import torch

from lth.bench import engine as bench
from lth.core.config import TrainingConfig
from lth.core.seeds import generator
from lth.engine import live_step, models, pruning
from lth.engine.train import Stack

LENET = models.build("lenet_300_100", (1, 28, 28))
WIDTH = live_step.vector_width(torch.device("cpu"))
needs_width = pytest.mark.skipif(WIDTH is None, reason="PyTorch's CPU vector width is not known here: nothing packs")


@pytest.fixture(scope="module")
def mnist_shaped():
    return bench.fake_data((1, 28, 28), 600, "cpu")


def trained(data, cfg: TrainingConfig, keep: float, k: int, max_live: float, steps: int = 25):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(live_step, "MAX_LIVE", max_live)
        shapes = {layer.name: layer.weight_shape for layer in LENET.layers}
        counts = [{n: round(keep * layer.size) for n, layer in zip(shapes, LENET.layers)}] * k
        masks = pruning.random_masks(counts, shapes, [generator(i, "live_step") for i in range(k)])
        stack = Stack(LENET, LENET.init([generator(i, "live_step") for i in range(k)]), masks, data, cfg,
                      order_keys=list(range(k)))
    return stack, masks, torch.stack([stack.step(i) for i in range(steps)])  # packing is decided at Stack()


@needs_width
@pytest.mark.parametrize("keep, k, packs", [(0.2, 3, [(300, 784), (100, 300)]), (0.05, 1, [(300, 784)]),
                                           (0.012, 2, [(300, 784)])])  # fc2 packs from 2**16 entries: K = 3
def test_packed_and_whole_steps_give_the_same_bits(mnist_shaped, keep, k, packs):
    cfg = TrainingConfig(weight_decay=1e-4, warmup=10)  # decay and a changing rate reach the packed tensors too
    whole, _, whole_losses = trained(mnist_shaped, cfg, keep, k, max_live=0.0)
    packed, masks, packed_losses = trained(mnist_shaped, cfg, keep, k, max_live=1.0)
    assert not whole.update.packed and [q.weight.shape[1:] for q in packed.update.packed] == packs
    assert torch.equal(whole_losses, packed_losses)
    for name, w in packed.params().items():
        assert torch.equal(w, whole.params()[name]), name
    for layer in LENET.layers:  # pruned weights stay exactly 0; the survivors trained
        w = packed.params()[f"{layer.name}.weight"]
        assert torch.count_nonzero(w[~masks[layer.name]]) == 0
    for q in packed.update.packed:  # the padding past the live entries never moves
        assert len(q.values) % WIDTH == 0 and torch.count_nonzero(q.values.detach()[len(q.live):]) == 0


@needs_width
def test_only_sparse_large_adam_tensors_pack(mnist_shaped):
    assert trained(mnist_shaped, TrainingConfig(), 0.3, 2, live_step.MAX_LIVE, 1)[0].update.packed == []  # 30% kept
    sgd = trained(mnist_shaped, TrainingConfig(optimizer="sgd", lr=0.1), 0.05, 2, 1.0, 1)[0]
    assert sgd.update.packed == []  # fused SGD's CPU kernel does not give the same bits packed
    assert not live_step.packable(TrainingConfig(), 9 * 1000, 90, WIDTH)  # the output layer: too small to pay
    assert not live_step.packable(TrainingConfig(), 3 * 2**16 + 1, 100, WIDTH)  # a tail done one at a time


def test_no_packing_off_the_cpu():
    assert live_step.vector_width(torch.device("meta")) is None
    assert not live_step.packable(TrainingConfig(), 2**20, 10, None)
