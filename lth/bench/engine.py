"""`python -m lth bench`: how fast the engine trains, measured against the usual way, in one run.

What it claims and how it is measured:
1. The ceiling: this machine's dense fp32 matrix-multiply rate (2048x2048
   GEMMs, best of several repetitions), in GFLOP/s.
2. LeNet-300-100, batch 60, Adam, fp32, random MNIST-shaped data held in
   memory: model-iterations per second of (a) the usual way: one nn.Module,
   a DataLoader over a TensorDataset, torch.optim.Adam defaults, the mask
   re-applied after each step; (b) the engine's path for a single model
   (train.Stack with K = 1); (c) the engine's batched path at several K.
   Each is timed after a warm-up, best of `reps` repetitions.
3. The ratio of (c) and (b) to (a), and useful FLOP/s (6 x weights x batch per
   model-iteration: forward, and backward for inputs and weights) as a fraction
   of the ceiling.
3b. Your own network (lth.find_tickets' path): the same LeNet-300-100 written as a plain nn.Sequential,
   wrapped by lth.engine.foreign, trained by the engine's Stack through torch.func (functional_call under
   vmap) at K = 1 and 3 (a ticket and its two controls) and at 3 one model at a time (the path of a module vmap
   cannot run), each against (a) and against the built-in network at the same K.
4. The same for Conv-2 on 32x32x3 at batch 60: (a), (c) with grouped
   convolutions, and (c') torch.func.vmap over an nn.Module's stacked
   parameters, the other way to batch convolutions.
5. The projected wall time of the paper's LeNet experiment (5 trials, 21
   levels, 50,000 iterations, ticket + 1 reinit + 1 random-prune per trial,
   validation (5k) evaluated every 100 iterations, train accuracy (55k) at
   the end of each training), in the stacks `lth run` would train it in on
   this device, from the training step timed at each of those stack sizes at
   each level's sparsity and the evaluation rate at each stack size: with the
   test set (10k) evaluated every 100 iterations as the paper does, and every
   1,000 (--test-every 1000; test accuracy at early stop is exact either
   way). lth/bench/paper.py says how.
5b. On a CPU: the training step and evaluation with glibc's default malloc settings vs the freed memory
   kept in the heap, as every CPU training does (a fresh process each).
6.-9. Sparsity, the live demo, the deeper networks (ResNet-18, VGG-19) at full size, and what pruning saves at
   inference (VGG-19 dense, unstructured, slimmed): lth/bench/protocol.py
   says how.
The last line is one machine-readable summary.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import time
from functools import partial
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core import devices
from ..core.config import TrainingConfig
from ..core.seeds import generator
from ..engine import models, pruning
from ..engine.data import Dataset
from ..engine.train import Stack, evaluate
from . import paper as bench_paper
from . import protocol as bench_protocol


def ceiling_gflops(device, reps: int) -> float:
    a = torch.randn(2048, 2048, device=device)
    b = torch.randn(2048, 2048, device=device)
    best = 0.0
    for _ in range(reps):
        _sync(device)
        t = time.perf_counter()
        for _ in range(5):
            a @ b
        _sync(device)
        best = max(best, 5 * 2 * 2048**3 / (time.perf_counter() - t) / 1e9)
    return best


def fake_data(shape, n_train: int, device) -> Dataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_train + 2000, *shape, generator=g)
    y = torch.randint(0, 10, (n_train + 2000,), generator=g)
    return Dataset(x[:n_train], y[:n_train], x[n_train:n_train + 1000], y[n_train:n_train + 1000],
                   x[-1000:], y[-1000:], 10).to(device)


def usual_way(model: models.Model, data: Dataset, iterations: int, reps: int) -> float:
    """(a): one nn.Module, DataLoader, torch.optim.Adam defaults, mask re-applied after each step."""
    net = to_module(model).to(data.x_train.device)
    masks = [torch.rand_like(m.weight) < 0.5 for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    layers = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data.x_train.cpu(), data.y_train.cpu()),
                                         batch_size=60, shuffle=True, drop_last=True)
    opt = torch.optim.Adam(net.parameters(), lr=1.2e-3)

    def run(n: int) -> None:
        done = 0
        while done < n:
            for x, y in loader:
                x, y = x.to(data.x_train.device), y.to(data.x_train.device)
                opt.zero_grad()
                F.cross_entropy(net(x), y).backward()
                opt.step()
                with torch.no_grad():
                    for layer, m in zip(layers, masks):
                        layer.weight.mul_(m)
                done += 1
                if done == n:
                    return

    return _rate(run, iterations, reps, data.x_train.device)


def engine_way(model: models.Model, data: Dataset, k: int, iterations: int, reps: int,
               counts: dict[str, int] | None = None) -> float:
    """(b)/(c): the engine's Stack of K models, dense or with random masks keeping `counts` weights per layer;
    returns model-iterations per second."""
    device = data.x_train.device
    params = model.init([generator(i, "bench") for i in range(k)], device)
    shapes = {layer.name: layer.weight_shape for layer in model.layers}
    masks = (pruning.random_masks([counts] * k, shapes, [generator(i, "bench_masks") for i in range(k)], device)
             if counts else pruning.dense_masks(model, k, device))
    stack = Stack(model, params, masks, data, TrainingConfig(), order_keys=list(range(k)))
    counter = iter(range(10**9))

    def run(n: int) -> None:
        for _ in range(n):
            stack.step(next(counter))

    return k * _rate(run, iterations, reps, device)


def vmap_way(model: models.Model, data: Dataset, k: int, iterations: int, reps: int) -> float:
    """Batched the other way: torch.func.vmap over K parameter sets of one nn.Module."""
    from torch.func import functional_call, stack_module_state, vmap

    device = data.x_train.device
    nets = [to_module(model).to(device) for _ in range(k)]
    params, buffers = stack_module_state(nets)
    params = {n: p.detach().requires_grad_(True) for n, p in params.items()}
    opt = torch.optim.Adam(params.values(), lr=1.2e-3)
    base = to_module(model).to("meta")
    forward = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)))
    g = torch.Generator().manual_seed(0)

    def run(n: int) -> None:
        for _ in range(n):
            idx = torch.randint(0, len(data.x_train), (k, 60), generator=g).to(device)
            logits = forward(params, buffers, data.x_train[idx])
            loss = F.cross_entropy(logits.flatten(0, 1), data.y_train[idx].flatten()) * k
            opt.zero_grad()
            loss.backward()
            opt.step()

    return k * _rate(run, iterations, reps, device)


def eval_rate(model: models.Model, data: Dataset, k: int, reps: int) -> float:
    """Model-examples per second of the engine's evaluation."""
    device = data.x_train.device
    params = model.init([generator(i, "bench") for i in range(k)], device)
    x = torch.cat([data.x_val, data.x_test, data.x_val, data.x_test])
    y = torch.cat([data.y_val, data.y_test, data.y_val, data.y_test])
    best = 0.0
    for _ in range(reps):
        _sync(device)
        t = time.perf_counter()
        evaluate(model, params, x, y)
        _sync(device)
        best = max(best, k * len(x) / (time.perf_counter() - t))
    return best


def to_module(model: models.Model) -> nn.Module:
    """The same architecture as an ordinary nn.Sequential, for the usual-way baseline."""
    mods: list[nn.Module] = []
    convs = model.layers[: len(model.conv_plan)]
    for layer, pool in zip(convs, model.conv_plan):
        mods += [nn.Conv2d(layer.weight_shape[1], layer.weight_shape[0], 3, padding=1), nn.ReLU()]
        if pool:
            mods.append(nn.MaxPool2d(2))
    mods.append(nn.Flatten())
    fcs = model.layers[len(convs):]
    for i, layer in enumerate(fcs):
        mods.append(nn.Linear(layer.weight_shape[1], layer.weight_shape[0]))
        if i < len(fcs) - 1:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


def train_flops(model: models.Model, batch: int = 60) -> float:
    return 3 * model.flops_per_example() * batch


def _rate(run, iterations: int, reps: int, device) -> float:
    run(max(3, iterations // 5))  # warm-up
    best = 0.0
    for _ in range(reps):
        _sync(device)
        t = time.perf_counter()
        run(iterations)
        _sync(device)
        best = max(best, iterations / (time.perf_counter() - t))
    return best


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def main(device_name: str = "auto", quick: bool = False, ks: tuple[int, ...] = (1, 5, 10, 20, 40),
         data_dir: Path | None = None) -> dict:
    device = devices.resolve(device_name)
    devices.keep_freed_memory(device)  # as every training on a CPU does: the usual way below measured the same way
    reps, lenet_its, conv_its = (2, 30, 3) if quick else (3, 150, 8)
    print(__doc__.split("\n\n")[0])
    print(f"device: {device} ({platform.processor() or platform.machine()}), torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, cpus {os.cpu_count()}, {'quick' if quick else 'full'} mode\n")

    ceiling = ceiling_gflops(device, reps + 2)
    print(f"1. fp32 matrix-multiply ceiling: {ceiling:,.0f} GFLOP/s")

    lenet = models.build("lenet_300_100", (1, 28, 28))
    flops = train_flops(lenet)
    data = fake_data((1, 28, 28), 55_000, device)
    print(f"\n2. LeNet-300-100, batch 60, Adam: {flops / 1e6:.0f} MFLOP per model-iteration, "
          f"ceiling {ceiling * 1e9 / flops:,.0f} model-it/s")
    usual = usual_way(lenet, data, lenet_its * 2, reps)
    rows = [("(a) usual way (DataLoader, nn.Module)", 1, usual)]
    rows.append(("(b) engine, single model", 1, engine_way(lenet, data, 1, lenet_its * 2, reps)))
    for k in ks:
        rows.append((f"(c) engine, batched K={k}", k, engine_way(lenet, data, k, max(10, lenet_its * 4 // k), reps)))
    _table(rows, usual, flops, ceiling)
    batched = [r for r in rows if r[0].startswith("(c)")]
    best = max(batched, key=lambda r: r[2])
    own = foreign_rows(lenet, data, usual, flops, ceiling, lenet_its, reps)

    conv2 = models.build("conv2", (3, 32, 32))
    cflops = train_flops(conv2)
    cdata = fake_data((3, 32, 32), 5_000, device)
    print(f"\n4. Conv-2 on 32x32x3, batch 60: {cflops / 1e9:.1f} GFLOP per model-iteration")
    cusual = usual_way(conv2, cdata, conv_its, reps)
    crows = [("(a) usual way (DataLoader, nn.Module)", 1, cusual)]
    for k in (1, 4) if quick else (1, 4, 8):
        crows.append((f"(c) engine, batched K={k} (grouped conv)", k, engine_way(conv2, cdata, k, conv_its, reps)))
    crows.append(("(c') torch.func.vmap, K=4", 4, vmap_way(conv2, cdata, 4, conv_its, reps)))
    _table(crows, cusual, cflops, ceiling)

    def train_rate(k: int, counts: dict[str, int] | None, its: int, r: int) -> float:
        return engine_way(lenet, data, k, its, r, counts)

    hours = bench_paper.paper_projection(lenet, device, train_rate, partial(eval_rate, lenet, data), reps, lenet_its)
    allocator = bench_protocol.allocator_rows() if device.type == "cpu" else None
    sparsity = bench_protocol.sparsity_rows(data, reps, max(5, lenet_its // 3))
    live = bench_protocol.live_demo_seconds(data_dir, device_name) if data_dir is not None else None
    if live is None:
        print(f"\n7. Live demo: not measured (no mnist.npz in {data_dir}; give --data-dir)")
    deep = bench_protocol.deep_rows(device, reps, quick)
    step = {(r["model"], r["k"]): 1 / r["rate"] for r in deep}
    slim = {r["variant"]: r["dense_ms"] / r["ms"] for r in bench_protocol.slimming_rows(device, reps)}
    csr_vs_dense = sparsity[-1]["kernels_csr"] / sparsity[-1]["kernels_dense"]
    summary = dict(best_k=best[1], lenet_model_it_s=round(best[2]),
                   ceiling_fraction=round(best[2] * flops / 1e9 / ceiling, 3),
                   vs_usual=f"{best[2] / usual:.2f}x", single_vs_usual=f"{rows[1][2] / usual:.2f}x",
                   own_module_k3_vs_usual=f"{own['stacked'] / usual:.2f}x",
                   own_module_k3_vs_engine_k3=f"{own['stacked'] / own['engine']:.2f}x",
                   own_module_k3_stacked_vs_one_at_a_time=f"{own['stacked'] / own['looped']:.2f}x",
                   projected_full_hours=round(hours["thin"], 2),
                   projected_full_hours_test_every_100=round(hours["every"], 2),
                   live_first_level_s=round(live["first_level"], 2) if live is not None else "n/a",
                   live_demo_s=round(live["demo"], 1) if live is not None else "n/a",
                   freed_memory_kept_vs_defaults=(f"{allocator['kept'][1] / allocator['defaults'][1]:.2f}x"
                                                  if allocator else "n/a"),
                   csr_vs_dense_kernels_at_1_9pct=f"{csr_vs_dense:.2f}x",
                   resnet18_step_s=round(step[("resnet18", 1)], 3), vgg19_step_s=round(step[("vgg19", 1)], 3),
                   resnet18_k2_vs_k1=f"{step[('resnet18', 1)] / step[('resnet18', 2)]:.2f}x",
                   vgg19_unstructured10_speedup=f"{slim['unstructured, 10% of weights']:.2f}x",
                   vgg19_slim30_speedup=f"{slim['slimmed, 30% of channels']:.2f}x")
    print("\nsummary: " + " ".join(f"{k}={v}" for k, v in summary.items()))
    return summary


def foreign_rows(lenet: models.Model, data: Dataset, usual: float, flops: float, ceiling: float, its: int, reps: int
                 ) -> dict[str, float]:
    """3b: LeNet-300-100 as a plain module through lth.engine.foreign, stacked by vmap and one at a time, beside the
    built-in network at the same K; returns the K = 3 rates (model-it/s)."""
    from ..engine import foreign

    stacked = foreign.wrap(to_module(lenet), "module:LeNet", (1, 28, 28), 10)
    looped = dataclasses.replace(stacked, stackable=False)
    engine3 = engine_way(lenet, data, 3, its * 2, reps)
    rows = [("(a) usual way (DataLoader, nn.Module)", 1, usual),
            ("(d) own module, torch.func, K=1", 1, engine_way(stacked, data, 1, its * 2, reps)),
            ("(c) engine, built-in network, K=3", 3, engine3),
            ("(d) own module, torch.func, K=3", 3, engine_way(stacked, data, 3, its * 2, reps)),
            ("(d') own module, one model at a time, K=3", 3, engine_way(looped, data, 3, its * 2, reps))]
    print("\n3b. LeNet-300-100 as your own nn.Module (lth.find_tickets' path), batch 60, Adam")
    _table(rows, usual, flops, ceiling)
    print(f"   own module K=3 vs built-in K=3: {rows[3][2] / engine3:.2f}x; "
          f"stacked vs one at a time: {rows[3][2] / rows[4][2]:.2f}x")
    return {"engine": engine3, "stacked": rows[3][2], "looped": rows[4][2]}


def _table(rows, usual: float, flops: float, ceiling: float) -> None:
    print(f"   {'path':<44} {'model-it/s':>11} {'vs (a)':>7} {'GFLOP/s':>8} {'of ceiling':>10}")
    for name, _, rate in rows:
        g = rate * flops / 1e9
        print(f"   {name:<44} {rate:>11,.1f} {rate / usual:>6.2f}x {g:>8.1f} {g / ceiling:>9.1%}")
