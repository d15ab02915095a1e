"""What `lth bench` measures of the protocol itself: sparse kernels, the live demo, the paper's experiment, memory.

What it claims and how it is measured:
1. Sparsity: at 100%, 21%, 7% and 1.9% of LeNet-300-100's weights kept (uniform random masks),
   (a) the engine's dense masked training step, K = 3 models (a level's ticket and two controls),
   in model-iterations per second, and (b) the same step's arithmetic, forward and both backward
   products of the three layers, done (b1) densely as the engine does it and (b2) with CSR sparse
   kernels (torch.sparse.mm, sampled_addmm), one model at a time. (b) is kernels only: no optimizer,
   no loss, no data order; it says whether sparse kernels would pay at that sparsity, not what a
   sparse engine would reach. Best of `reps` timings after a warm-up.
2. The live demo: `lth run --preset lenet-mnist-live` (10 levels of ticket, random reinit and random
   pruning on real MNIST) run in this process, already warm as the app's worker is (torch imported),
   when MNIST is in the data directory (else not measured): seconds from its start to level 0's
   summary on disk (the first point a class sees) and to the last level's (every point drawn); a
   thread watches the run's folder every 5 ms.
3. The paper's LeNet experiment projected, level by level: lth/bench/paper.py.
4. What keeping freed memory in the heap between steps saves on a CPU (`allocator_rows`): the same
   training step and evaluation in fresh processes with glibc's default malloc settings and with those
   every CPU training sets (core.devices.keep_freed_memory), alternating, medians of page faults and speed.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import torch

from ..core import paths
from ..core.config import TrainingConfig, preset
from ..core.seeds import generator
from ..engine import models, pruning
from ..engine.data import Dataset
from ..engine.train import Stack
from ..tickets import execution, lottery

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


def live_demo_seconds(data_dir: Path, device: str) -> dict[str, float] | None:
    """The lenet-mnist-live preset run from scratch in a temporary folder: seconds from its start to level 0's
    summary (first_level), to the last level's (demo) and to the run's end (all, with the pruning lab's curve
    measured after the levels); None without MNIST."""
    if not (Path(data_dir) / "mnist.npz").exists():
        return None
    config = preset("lenet-mnist-live")
    levels = config.experiment.levels
    with tempfile.TemporaryDirectory() as runs:
        run_dir = Path(runs) / config.run_id
        options = execution.RunOptions(data_dir=Path(data_dir), device=device, progress=False)
        started, seen, stop = time.perf_counter(), {}, threading.Event()

        def watch() -> None:  # when each level's summary lands, as a page polling the folder would see it
            while not stop.is_set():
                for level in (0, levels):
                    if level not in seen and paths.unit_summary(run_dir, level, 0).exists():
                        seen[level] = time.perf_counter() - started
                time.sleep(0.005)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        lottery.run(config, Path(runs), options)
        seconds = time.perf_counter() - started
        stop.set()
        watcher.join()
    times = {"first_level": seen.get(0, seconds), "demo": seen.get(levels, seconds), "all": seconds}
    print(f"\n7. Live demo (lenet-mnist-live: {levels} levels x 3 models x {config.training.iterations} iterations, "
          f"real MNIST), in this warm process: level 0's point after {times['first_level']:.1f} s, the last "
          f"level's after {times['demo']:.1f} s, the run's end (the pruning lab's curve) after {seconds:.1f} s")
    return times


def deep_rows(device: torch.device, reps: int, quick: bool) -> list[dict]:
    """8. The paper's deeper networks at full size, with their presets' training (momentum SGD, augmentation):
    ResNet-18 at batch 128 as one model and as stacks of K (grouped convolutions, batch norm per model), and
    VGG-19 at batch 64 as one model. Model-iterations per second and seconds per model-iteration, best of
    `reps` after a warm-up step, on random 32x32x3 images (the arithmetic does not depend on their values)."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(1200, 3, 32, 32, generator=g), torch.randint(0, 10, (1200,), generator=g)
    data = Dataset(x[:1000], y[:1000], x[1000:1100], y[1000:1100], x[1100:], y[1100:], 10).to(device)
    plan = {"resnet18": (1, 2) if quick else (1, 2, 4), "vgg19": (1,)}
    rows = []
    for name, ks in plan.items():
        model, cfg = models.build(name, (3, 32, 32)), preset(f"{name}-cifar10").training
        for k in ks:
            stack = Stack(model, model.init([generator(i, "bench") for i in range(k)], device),
                          pruning.dense_masks(model, k, device), data, cfg, order_keys=list(range(k)))
            counter = iter(range(10**9))
            rate = k * _best(lambda: stack.step(next(counter)), min(reps, 2), 1 if name == "vgg19" else 3)
            rows.append({"model": name, "k": k, "batch": cfg.batch_size, "rate": rate})
    print("\n8. Deeper networks at full size, their presets' SGD and augmentation (one model vs a stack of K)")
    print(f"   {'model':<10} {'batch':>5} {'K':>3} {'model-it/s':>11} {'s / model-it':>13} {'vs K=1':>7}")
    for r in rows:
        one = next(o["rate"] for o in rows if o["model"] == r["model"] and o["k"] == 1)
        print(f"   {r['model']:<10} {r['batch']:>5} {r['k']:>3} {r['rate']:>11.2f} {1 / r['rate']:>13.2f} "
              f"{r['rate'] / one:>6.2f}x")
    return rows


def slimming_rows(device: torch.device, reps: int) -> list[dict]:
    """9. What pruning saves at inference on the full-size VGG-19 (32x32x3, batch 64, evaluation mode): the dense
    network; an unstructured mask keeping 10% of the weights (run as the engine stores it: dense, with zeros);
    and slimmed networks built at their real size, every layer keeping 50% or 30% of its channels (the first
    ones: which channels does not change the arithmetic). Milliseconds per forward pass, median of `reps`+4
    after two warm-ups, each variant right after the dense one; and the FLOPs each needs."""
    from ..engine import slimming

    model = models.build("vgg19", (3, 32, 32))
    params = model.init([generator(0, "bench")], device)
    x = torch.randn(64, 3, 32, 32, generator=torch.Generator().manual_seed(0)).to(device)
    masks = pruning.magnitude_prune(model, params, pruning.dense_masks(model, 1, device),
                                    preset("vgg19-cifar10").pruning, round(0.1 * model.prunable))
    variants = {"unstructured, 10% of weights": (model, pruning.apply(params, masks), model.flops_per_example())}
    for keep in (0.5, 0.3):
        channels = {}
        for name in model.prunable_channels():
            c = next(layer for layer in model.layers if layer.name == name).weight_shape[0]
            channels[name] = (torch.arange(c, device=device) < max(1, round(keep * c))).view(1, -1)
        small, small_params = slimming.build(model, params, channels)
        variants[f"slimmed, {keep:.0%} of channels"] = (small, small_params, small.flops_per_example())
    rows = []
    for name, (net, weights, flops) in variants.items():
        dense_ms = slimming.inference_ms(model, params, x, reps + 4)
        ms = slimming.inference_ms(net, weights, x, reps + 4)
        rows.append({"variant": name, "ms": ms, "dense_ms": dense_ms, "flops_ratio": model.flops_per_example() / flops,
                     "params": slimming.parameters(net)})
    print("\n9. Inference, VGG-19 on 32x32x3, batch 64: what unstructured and structured pruning save")
    print(f"   {'network':<32} {'stored params':>13} {'x fewer FLOPs':>14} {'ms':>8} {'dense ms':>9} {'x faster':>9}")
    for r in rows:
        print(f"   {r['variant']:<32} {r['params']:>13,} {r['flops_ratio']:>13.2f}x {r['ms']:>8.1f} "
              f"{r['dense_ms']:>9.1f} {r['dense_ms'] / r['ms']:>8.2f}x")
    return rows


ALLOCATOR_PROBE = """
import resource, sys, time
from lth.core import devices
if sys.argv[1] == "defaults":
    devices._glibc_keeps_freed_memory = lambda: False
from lth.bench import engine as bench
from lth.core.config import TrainingConfig
from lth.core.seeds import generator
from lth.engine import models, pruning
from lth.engine.train import Stack, evaluate
lenet, k = models.build("lenet_300_100", (1, 28, 28)), int(sys.argv[2])
stack = Stack(lenet, lenet.init([generator(i, "bench") for i in range(k)]), pruning.dense_masks(lenet, k, "cpu"),
              bench.fake_data((1, 28, 28), 55_000, "cpu"), TrainingConfig(), order_keys=list(range(k)))
for i in range(30):
    stack.step(i)
faults, start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
for i in range(300):
    stack.step(30 + i)
train = ((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / 300, k * 300 / (time.perf_counter() - start))
x, y, params = stack.data.x_train[:5000], stack.data.y_train[:5000], stack.params()
evaluate(lenet, params, x, y)
faults, start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
for _ in range(10):
    evaluate(lenet, params, x, y)
seconds = time.perf_counter() - start
evaluated = ((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / 10, k * 50_000 / seconds)
print(*train, *evaluated)
"""


def allocator_rows(k: int = 9, pairs: int = 3) -> dict[str, tuple[float, float]]:
    """LeNet's training step and evaluation at K models with glibc's default malloc settings and with freed memory kept
    (devices.keep_freed_memory, what every CPU training does), each in a fresh process, alternating `pairs` times:
    {"defaults" or "kept": (page faults a step, model-iterations per second, page faults an evaluation of 5,000
    examples, model-examples per second)}, medians."""
    runs: dict[str, list] = {"defaults": [], "kept": []}
    for _ in range(pairs):
        for mode, out in runs.items():
            line = subprocess.run([sys.executable, "-c", ALLOCATOR_PROBE, mode, str(k)], cwd=paths.PROJECT_ROOT,
                                  capture_output=True, text=True, check=True).stdout.split()
            out.append(tuple(map(float, line)))
    rows = {mode: tuple(statistics.median(col) for col in zip(*v)) for mode, v in runs.items()}
    print(f"\n5b. CPU memory between steps (LeNet, K={k}, a fresh process each, {pairs} alternating pairs, medians):"
          " a training step, and an evaluation of 5,000 examples")
    for mode, (faults, rate, eval_faults, eval_rate) in rows.items():
        label = "glibc's defaults" if mode == "defaults" else "freed memory kept"
        print(f"   {label:<18} {faults:>7,.0f} page faults a step {rate:>7,.0f} model-it/s   {eval_faults:>7,.0f} page "
              f"faults an evaluation {eval_rate / 1e3:>5,.0f}k model-examples/s")
    print(f"   kept vs glibc's defaults: training {rows['kept'][1] / rows['defaults'][1]:.2f}x, evaluation "
          f"{rows['kept'][3] / rows['defaults'][3]:.2f}x")
    return rows
