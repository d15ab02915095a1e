"""What `lth bench` measures of the protocol itself: sparse kernels at the run's sparsities, and the live demo.

What it claims and how it is measured:
1. Sparsity: at 100%, 21%, 7% and 1.9% of LeNet-300-100's weights kept (uniform random masks),
   (a) the engine's dense masked training step, K = 3 models (a level's ticket and two controls),
   in model-iterations per second, and (b) the same step's arithmetic, forward and both backward
   products of the three layers, done (b1) densely as the engine does it and (b2) with CSR sparse
   kernels (torch.sparse.mm, sampled_addmm), one model at a time. (b) is kernels only: no optimizer,
   no loss, no data order; it says whether sparse kernels would pay at that sparsity, not what a
   sparse engine would reach. Best of `reps` timings after a warm-up.
2. The live demo: `lth run --preset lenet-mnist-live` (10 levels of ticket, random reinit and random
   pruning on real MNIST), timed in this process from the start of the run to its last unit, when
   MNIST is in the data directory (else not measured).
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

import torch

from .core.config import TrainingConfig, preset
from .core.seeds import generator
from .engine import models, pruning
from .engine.data import Dataset
from .engine.train import Stack

DENSITIES = (1.0, 0.211, 0.070, 0.019)  # the paper's labels 100, 21.1, 7.0 and 1.9% (levels 0, 7, 12, 18)


def _best(run, reps: int, n: int) -> float:
    """Calls per second of run() over n calls, best of reps, after a warm-up."""
    run()
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(n):
            run()
        best = max(best, n / (time.perf_counter() - t))
    return best


def masks_at(model: models.Model, density: float, k: int) -> pruning.Masks:
    shapes = {layer.name: layer.weight_shape for layer in model.layers}
    counts = [{layer.name: max(1, round(density * layer.size)) for layer in model.layers}] * k
    return pruning.random_masks(counts, shapes, [generator(i, "bench_sparsity") for i in range(k)])


def engine_step_rate(model, data: Dataset, masks: pruning.Masks, k: int, steps: int, reps: int) -> float:
    params = model.init([generator(i, "bench") for i in range(k)])
    stack = Stack(model, params, masks, data, TrainingConfig(), order_keys=list(range(k)))
    counter = iter(range(10**9))
    return k * _best(lambda: stack.step(next(counter)), reps, steps)


def kernel_rates(model, masks: pruning.Masks, k: int, steps: int, reps: int) -> tuple[float, float]:
    """Model-iterations per second of one step's layer products: (dense batched, CSR sparse one model at a time)."""
    g = torch.Generator().manual_seed(0)
    widths = [model.layers[0].weight_shape[1]] + [layer.weight_shape[0] for layer in model.layers]
    xs = [torch.randn(k, 60, w, generator=g) for w in widths[:-1]]
    grads = [torch.randn(k, 60, w, generator=g) for w in widths[1:]]
    dense = [torch.randn(k, *layer.weight_shape, generator=g) * masks[layer.name] for layer in model.layers]
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        csr = [[w[i].to_sparse_csr() for i in range(k)] for w in dense]
        csr_t = [[w[i].T.contiguous().to_sparse_csr() for i in range(k)] for w in dense]

    def batched() -> None:
        for x, grad, w in zip(xs, grads, dense):
            torch.bmm(x, w.transpose(1, 2))
            torch.bmm(grad, w)
            torch.bmm(grad.transpose(1, 2), x)

    def sparse() -> None:
        for x, grad, ws, wts in zip(xs, grads, csr, csr_t):
            for i in range(k):
                torch.sparse.mm(ws[i], x[i].T)
                torch.sparse.mm(wts[i], grad[i].T)
                torch.sparse.sampled_addmm(ws[i], grad[i].T, x[i], beta=0.0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return k * _best(batched, reps, steps), k * _best(sparse, reps, steps)


def sparsity_rows(data: Dataset, reps: int, steps: int, k: int = 3) -> list[dict]:
    lenet = models.build("lenet_300_100", (1, 28, 28))
    rows = []
    for density in DENSITIES:
        masks = masks_at(lenet, density, k)
        step = engine_step_rate(lenet, data, masks, k, steps, reps)
        dense, sparse = kernel_rates(lenet, masks, k, steps, reps)
        rows.append({"percent": 100 * density, "engine_step": step, "kernels_dense": dense, "kernels_csr": sparse})
    print(f"\n6. Sparsity (LeNet-300-100, K={k}, model-it/s): the engine's masked step, and its layer products alone")
    print(f"   {'% kept':>7} {'engine step':>12} {'dense kernels':>14} {'CSR kernels':>12} {'CSR vs dense':>13}")
    for r in rows:
        print(f"   {r['percent']:>7.1f} {r['engine_step']:>12,.0f} {r['kernels_dense']:>14,.0f} "
              f"{r['kernels_csr']:>12,.0f} {r['kernels_csr'] / r['kernels_dense']:>12.2f}x")
    return rows


def live_demo_seconds(data_dir: Path, device: str) -> float | None:
    """Wall seconds of the lenet-mnist-live preset run from scratch in a temporary folder; None without MNIST."""
    from .tickets import lottery

    if not (Path(data_dir) / "mnist.npz").exists():
        return None
    config = preset("lenet-mnist-live")
    with tempfile.TemporaryDirectory() as runs:
        options = lottery.RunOptions(data_dir=Path(data_dir), device=device, progress=False)
        started = time.perf_counter()
        lottery.run(config, Path(runs), options)
        seconds = time.perf_counter() - started
    levels, models_per_level = config.experiment.levels, 3
    print(f"\n7. Live demo (lenet-mnist-live: {levels} levels x {models_per_level} models x "
          f"{config.training.iterations} iterations, real MNIST): {seconds:.1f} s")
    return seconds
