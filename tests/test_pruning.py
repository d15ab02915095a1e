"""Pruning: the paper's sparsity ladder, magnitude and random masks, fractions."""

from __future__ import annotations

import pytest
import torch
from helpers import generators

from lth.core.config import PruningConfig, preset
from lth.engine import models, pruning

# PAPER.md, "The sparsity ladder": percent of LeNet-300-100's weights remaining after round r.
LENET_LADDER = {0: 100.0, 1: 80.04, 2: 64.06, 3: 51.28, 4: 41.05, 5: 32.87, 6: 26.32, 7: 21.07, 8: 16.88,
                9: 13.52, 10: 10.83, 12: 6.95, 15: 3.58, 18: 1.85, 20: 1.19}


def test_lenet_ladder_matches_the_paper():
    model = models.build("lenet_300_100", (1, 28, 28))
    counts = pruning.ladder(model, preset("lenet-mnist").pruning, 20)
    assert len(counts) == 21
    for r, percent in LENET_LADDER.items():
        assert round(100 * counts[r] / model.prunable, 2) == percent, f"round {r}"


def test_layer_ladder_sums_to_ladder_and_prunes_the_output_at_half_rate():
    model = models.build("lenet_300_100", (1, 28, 28))
    cfg = preset("lenet-mnist").pruning
    per_layer = pruning.layer_ladder(model, cfg, 20)
    assert [sum(c.values()) for c in per_layer] == pruning.ladder(model, cfg, 20)
    assert per_layer[1] == {"fc1": 188_160, "fc2": 24_000, "output": 900}
    assert per_layer[2]["output"] == 810


@pytest.mark.parametrize("name, preset_name, rounds", [
    ("conv2", "conv2-cifar10", {11: 8.81, 14: 4.57}),
    ("conv4", "conv4-cifar10", {12: 9.18, 15: 5.37}),
])
def test_conv_ladder_matches_the_paper(name, preset_name, rounds):
    model = models.build(name, (3, 32, 32))
    counts = pruning.ladder(model, preset(preset_name).pruning, max(rounds))
    for r, percent in rounds.items():
        assert round(100 * counts[r] / model.prunable, 2) == percent, f"round {r}"


def test_global_ladder_prunes_the_total():
    model = models.build("lenet_300_100", (1, 28, 28))
    counts = pruning.ladder(model, PruningConfig(strategy="global", rate_global=0.5), 3)
    assert counts == [266_200, 133_100, 66_550, 33_275]


# --- magnitude pruning ----------------------------------------------------------------
SMALL_NET = models.build("lenet_300_100", (1, 6, 6))  # 36 -> 300 -> 100 -> 10


def _weights(seed: int, k: int = 2) -> dict[str, torch.Tensor]:
    return SMALL_NET.init(generators(*range(seed, seed + k)))


def test_magnitude_prune_keeps_exact_counts_of_the_largest_weights():
    cfg = PruningConfig()
    params = _weights(0)
    dense = pruning.dense_masks(SMALL_NET, 2)
    target = pruning.next_target(SMALL_NET, cfg, dense)
    assert target == {"fc1": 8640, "fc2": 24_000, "output": 900}
    masks = pruning.magnitude_prune(SMALL_NET, params, dense, cfg, target)
    for layer in SMALL_NET.layers:
        w, m = params[f"{layer.name}.weight"].abs().flatten(1), masks[layer.name].flatten(1)
        assert m.shape == (2, layer.size)
        for i in range(2):
            assert int(m[i].sum()) == target[layer.name]
            assert w[i][m[i]].min() >= w[i][~m[i]].max()  # every kept weight beats every pruned one


def test_masks_shrink_monotonically_and_never_revive():
    """Later levels see new weights (retraining); a pruned weight stays pruned even if it grew large."""
    cfg = PruningConfig()
    masks = pruning.dense_masks(SMALL_NET, 2)
    for level in range(1, 6):
        params = _weights(10 * level)  # fresh weights: the pruned ones are often large now
        new = pruning.magnitude_prune(SMALL_NET, params, masks, cfg, pruning.next_target(SMALL_NET, cfg, masks))
        for name in masks:
            assert not (new[name] & ~masks[name]).any(), f"level {level}: {name} revived a pruned weight"
            assert int(new[name][0].sum()) == pruning.layer_ladder(SMALL_NET, cfg, level)[level][name]
        masks = new


def test_global_strategy_ranks_across_layers():
    cfg = PruningConfig(strategy="global", rate_global=0.2)
    params = _weights(0, k=1)
    params["fc2.weight"] = params["fc2.weight"].sign() * (params["fc2.weight"].abs() + 10)  # every large weight
    dense = pruning.dense_masks(SMALL_NET, 1)
    total = pruning.next_target(SMALL_NET, cfg, dense)
    assert total == 33_440  # 80% of 41,800
    masks = pruning.magnitude_prune(SMALL_NET, params, dense, cfg, total)
    kept = pruning.counts_of(masks, 0)
    assert sum(kept.values()) == total
    assert kept["fc2"] == 30_000  # all of fc2 (30,000 of the 33,440 kept) ...
    everything = torch.cat([params[f"{n}.weight"].abs().flatten() for n in masks])
    alive = torch.cat([masks[n].flatten() for n in masks])
    assert everything[alive].min() >= everything[~alive].max()  # ... then the largest of the rest
    assert masks["fc1"].shape == (1, 300, 36)


def test_random_masks_keep_per_layer_counts_and_differ_from_magnitude():
    cfg = PruningConfig()
    params = _weights(0, k=1)
    dense = pruning.dense_masks(SMALL_NET, 1)
    magnitude = pruning.magnitude_prune(SMALL_NET, params, dense, cfg, pruning.next_target(SMALL_NET, cfg, dense))
    counts = [pruning.counts_of(magnitude, 0)] * 2
    shapes = {layer.name: layer.weight_shape for layer in SMALL_NET.layers}
    rand = pruning.random_masks(counts, shapes, generators(1, 2))
    again = pruning.random_masks(counts, shapes, generators(1, 2))
    for name in shapes:
        assert rand[name].shape == (2, *shapes[name])
        assert pruning.counts_of(rand, 0)[name] == pruning.counts_of(rand, 1)[name] == counts[0][name]
        assert not torch.equal(rand[name][0], magnitude[name][0])
        assert not torch.equal(rand[name][0], rand[name][1])  # each generator its own mask
        assert torch.equal(rand[name], again[name])


def test_remaining_fractions():
    masks = {"a": torch.tensor([[True, False, False, False], [True, True, True, True]]),
             "b": torch.tensor([[True, True, False, False], [False, False, False, False]])}
    total, per_layer = pruning.remaining(masks)
    torch.testing.assert_close(total, torch.tensor([3 / 8, 4 / 8], dtype=torch.float64))  # exact, not float32
    torch.testing.assert_close(per_layer["b"], torch.tensor([0.5, 0.0], dtype=torch.float64))


@pytest.mark.parametrize("strategy", ["layerwise", "global"])
@pytest.mark.parametrize("fraction", [0.8, 0.5, 0.2, 0.05, 0.01])
def test_counts_for_fraction_hits_the_target(strategy, fraction):
    model = models.build("lenet_300_100", (1, 28, 28))
    cfg = PruningConfig(strategy=strategy)
    target = pruning.counts_for_fraction(model, cfg, fraction)
    total = target if strategy == "global" else sum(target.values())
    assert abs(total / model.prunable - fraction) <= 0.01 * fraction
    if strategy == "layerwise":  # spread as the ladder spreads: the output layer keeps the most
        share = {name: count / layer.size for (name, count), layer in zip(target.items(), model.layers)}
        assert share["output"] > share["fc1"]
        assert share["fc2"] == pytest.approx(share["fc1"], rel=0.01)
