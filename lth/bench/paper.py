"""`lth bench`, row 5: the paper's LeNet experiment projected on this device, level by level.

What it claims and how it is measured: the wall time of 5 trials x 21 levels of LeNet-300-100 on MNIST, each level
training the ticket, a random reinitialisation and a random pruning for 50,000 iterations (level 0: the dense nets
alone), validating on 5,000 examples every 100 iterations, testing on 10,000 every 100 (the paper) or every 1,000
(--test-every 1000; the test accuracy at early stop is exact either way), and measuring the 55,000 training examples
at the end. The work is split as a new `lth run` would split it here (its execution settings,
lth.tickets.execution.settings: trials at a time, at most `stack` models at once). The training step is timed at
each of those stack sizes at each level's sparsity: uniformly random masks keeping the level's per-layer counts (the
paper's ladder: 20% of each hidden layer and 10% of the output layer a level), since a sparse level steps Adam on
its live weights alone (engine.live_step); levels whose tensors are all stepped whole do the same work as a dense
stack and share one measurement per stack size (best of `reps` repetitions of about 2 s); each packed level is timed
on its own (best of 2 repetitions of about 1 s: 28 timings on a CPU, whose noise averages out over the levels).
Evaluation is dense at every sparsity and is timed once per stack size.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

import torch

from ..core.config import preset
from ..engine import live_step, models, pruning
from ..tickets import execution

PAPER = dict(trials=5, levels=21, iterations=50_000, per_trial=3, eval_every=100, val_examples=5_000,
             test_examples=10_000, train_examples=55_000, thin_test_every=1_000, batch=60)
TrainRate = Callable[[int, "dict[str, int] | None", int, int], float]  # (K, layer counts, steps, reps) -> model-it/s


def paper_stacks(model: models.Model, device) -> dict[int, Counter]:
    """{level: {K: trainings}}: the stacks of K in which `lth run` trains each level of the paper's experiment here."""
    p = PAPER
    chosen, _ = execution.settings(model, device, p["batch"], p["per_trial"])
    trials = list(range(p["trials"]))
    together = chosen["trials_together"]
    out: dict[int, Counter] = {level: Counter() for level in range(p["levels"])}
    for cohort in (trials[i:i + together] for i in range(0, len(trials), together)):
        for level in range(p["levels"]):
            n = len(cohort) * (1 if level == 0 else p["per_trial"])
            for start in range(0, n, chosen["stack"]):
                k = min(chosen["stack"], n - start)
                out[level][k] += k
    return out


def level_counts(model: models.Model) -> list[dict[str, int]]:
    """Weights each layer keeps at each level of the paper's ladder."""
    return pruning.layer_ladder(model, preset("lenet-mnist").pruning, PAPER["levels"] - 1)


def packs(model: models.Model, counts: dict[str, int], k: int, device) -> bool:
    """Whether a stack of K at these per-layer counts steps any tensor packed (live weights only) on this device."""
    cfg = preset("lenet-mnist").training
    width = live_step.vector_width(torch.device(device))
    return any(live_step.packable(cfg, k * layer.size, k * counts[layer.name], width) for layer in model.layers)


def paper_projection(model: models.Model, device, train_rate: TrainRate, eval_rate: Callable[[int, int], float],
                     reps: int, its: int) -> dict[str, float]:
    """Hours of the paper's LeNet experiment, test set every 100 ("every") or 1,000 ("thin") iterations."""
    p = PAPER
    stacks = paper_stacks(model, device)
    ladder = level_counts(model)

    def steps(k: int, seconds: int) -> int:
        """Training steps of a stack of K that take about `seconds`."""
        return max(10, its * 10 * seconds // k)

    packed = {level: {k: packs(model, ladder[level], k, device) for k in ks} for level, ks in stacks.items()}
    whole = {k: train_rate(k, ladder[0], steps(k, 2), reps) for k in sorted(set().union(*stacks.values()))}
    rates = {level: {k: train_rate(k, ladder[level], steps(k, 1), min(reps, 2)) if packed[level][k] else whole[k]
                     for k in ks} for level, ks in stacks.items()}
    evaluated = {k: eval_rate(k, reps) for k in whole}
    trainings = sum(sum(ks.values()) for ks in stacks.values())
    print(f"\n5. Paper LeNet experiment: {trainings} trainings of {p['iterations']:,} iterations, in the stacks "
          "`lth run` uses here, each level's step timed at its sparsity\n   (model-it/s; * = Adam on the live weights "
          "only):")
    for level, ks in stacks.items():
        kept = 100 * sum(ladder[level].values()) / model.prunable
        cells = "  ".join(f"{n:>3} at K={k:<2} {rates[level][k]:>6,.0f}{'*' if packed[level][k] else ' '}"
                          for k, n in sorted(ks.items()))
        print(f"   level {level:>2} {kept:>6.1f}% kept  {cells}")
    print("   evaluation: " + ", ".join(f"K={k} {r / 1e3:,.0f}k model-examples/s" for k, r in evaluated.items()))
    hours = {}
    for name, test_every in (("every", p["eval_every"]), ("thin", p["thin_test_every"])):
        per_training = (p["iterations"] / p["eval_every"] * p["val_examples"]
                        + p["iterations"] / test_every * p["test_examples"] + p["train_examples"])
        train_s = sum(n * p["iterations"] / rates[level][k] for level, ks in stacks.items() for k, n in ks.items())
        eval_s = sum(n * per_training / evaluated[k] for ks in stacks.values() for k, n in ks.items())
        hours[name] = (train_s + eval_s) / 3600
        print(f"   test set every {test_every:,} iterations: {trainings * p['iterations'] / 1e6:.2f}M model-iterations "
              f"({train_s / 3600:.2f} h) + {trainings * per_training / 1e9:.2f}G evaluated model-examples "
              f"({eval_s / 3600:.2f} h): {hours[name]:.2f} h projected")
    return hours
