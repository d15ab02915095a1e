"""The paper's training loop, for a stack of K models at once.

Each model has its own weights, mask, optimiser state and data order (models that share an order key, e.g. the
arms of one trial, see the same batches). A step is one batched forward/backward over all K: no Python loop over
models. Masked gradients keep the optimiser's state at exactly zero for pruned weights, so pruned weights stay
exactly zero through training (see optim); in sparse tensors Adam steps the live weights alone (see live_step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..core import devices
from ..core.config import TrainingConfig
from ..core.seeds import generator
from . import live_step, optim, slimming
from .augment import Augment
from .data import Dataset
from .models import Model, Params, is_buffer
from .pruning import Masks, layer_of

DIVERGED_LOSS = 100.0
CURVES = ("train_loss", "val_loss", "val_acc", "test_loss", "test_acc")  # what each evaluation records


class Diverged(RuntimeError):
    """A loss became NaN or infinite: the run stops and is marked failed."""


class Cancelled(RuntimeError):
    """Someone asked the run to stop (the CANCEL file); it resumes from its last finished level."""


@dataclass
class TrainResult:
    iterations: np.ndarray  # (E,) evaluation points
    curves: dict[str, np.ndarray]  # name -> (K, E): train_loss, val_loss, val_acc, test_loss, test_acc
    final: Params  # (K, ...) trained weights
    snapshot: Params | None  # weights at the requested iteration (late rewinding)
    train_acc: np.ndarray  # (K,) accuracy on the whole training split at the end
    at_early_stop: dict[str, np.ndarray] | None = None  # test_loss, test_acc (K,) of the best-validation weights,
    # measured once when the test curves are thinned out (TrainingConfig.test_every); else read off the curves

    @classmethod
    def concat(cls, parts: list["TrainResult"]) -> "TrainResult":
        """Results of consecutive chunks of a stack, as one result."""
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        snapshot = _cat_tensors([p.snapshot for p in parts]) if first.snapshot else None
        at_early_stop = _cat_arrays([p.at_early_stop for p in parts]) if first.at_early_stop else None
        return cls(first.iterations, _cat_arrays([p.curves for p in parts]), _cat_tensors([p.final for p in parts]),
                   snapshot, np.concatenate([p.train_acc for p in parts]), at_early_stop)

    def select(self, rows: list[int]) -> "TrainResult":
        """The result of some of the models, in the given order."""
        curves = {n: c[rows] for n, c in self.curves.items()}
        final = {n: p[rows] for n, p in self.final.items()}
        snapshot = {n: p[rows] for n, p in self.snapshot.items()} if self.snapshot else None
        at_early_stop = {n: v[rows] for n, v in self.at_early_stop.items()} if self.at_early_stop else None
        return TrainResult(self.iterations, curves, final, snapshot, self.train_acc[rows], at_early_stop)

    @property
    def early_stop_index(self) -> np.ndarray:
        """Evaluation index of minimum validation loss, per model (first one on ties)."""
        return self.curves["val_loss"].argmin(axis=1)

    def test_at_early_stop(self, name: str = "test_acc") -> np.ndarray:
        """(K,) test accuracy (or loss) of each model's weights at its early-stop iteration."""
        if self.at_early_stop is not None:
            return self.at_early_stop[name]
        return self.curves[name][np.arange(len(self.train_acc)), self.early_stop_index]


def _cat_tensors(parts: list[Params]) -> Params:
    return {n: torch.cat([p[n] for p in parts]) for n in parts[0]}


def _cat_arrays(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {n: np.concatenate([p[n] for p in parts]) for n in parts[0]}


def eval_chunk(model: Model, k: int, budget_floats: int = 64 * 2**20) -> int:
    """Examples per evaluation chunk so that K models' activations stay near 256 MB."""
    return max(1, min(10_000, budget_floats // (k * model.widest_activation())))


@torch.no_grad()
def evaluate(model: Model, params: Params, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy and accuracy of each of K models on (x, y): two (K,) tensors."""
    k = next(iter(params.values())).shape[0]
    loss = torch.zeros(k, device=x.device, dtype=torch.float64)
    correct = torch.zeros(k, device=x.device, dtype=torch.float64)
    step = eval_chunk(model, k)
    for start in range(0, len(x), step):
        xb, yb = x[start:start + step], y[start:start + step]
        logits = model.forward(params, xb, shared_input=True)  # (K, n, classes)
        target = yb.expand(k, -1)
        loss += F.cross_entropy(logits.transpose(1, 2), target, reduction="none").sum(1)
        correct += (logits.argmax(2) == target).sum(1)
    return (loss / len(x)).float(), (correct / len(x)).float()


class BatchOrder:
    """Each order key's own shuffled pass over the training set, epoch by epoch."""

    def __init__(self, keys: list, n: int, batch: int, device):
        self.unique = sorted(set(keys), key=keys.index)
        self.rows = torch.tensor([self.unique.index(k) for k in keys], device=device)
        self.generators = [generator(*key, "data_order") if isinstance(key, tuple) else generator(key, "data_order")
                           for key in self.unique]
        self.n = n
        self.batch = batch
        self.device = device
        self.per_epoch = max(1, n // batch)  # the last partial batch of an epoch is dropped
        self.epoch = -1
        self.perms = None  # this epoch's permutation of the training set, one row per order key

    def indices(self, iteration: int) -> torch.Tensor:
        epoch, j = divmod(iteration, self.per_epoch)
        if epoch != self.epoch:
            self.epoch = epoch
            self.perms = torch.stack([torch.randperm(self.n, generator=g) for g in self.generators]).to(self.device)
        return self.perms[self.rows, j * self.batch:(j + 1) * self.batch]


class Stack:
    """K models' weights, gradient masks, optimiser state and data order; one training step at a time."""

    def __init__(self, model: Model, params: Params, masks: Masks, data: Dataset, cfg: TrainingConfig,
                 order_keys: list, penalty: slimming.Penalty | None = None):
        if cfg.batch_size > len(data.x_train):
            raise ValueError(f"--batch-size={cfg.batch_size} exceeds the {len(data.x_train)} training examples")
        self.model = model
        self.data = data
        self.cfg = cfg
        self.k = len(order_keys)
        # Batch-norm running averages travel with the weights (rewound, evaluated) but are never trained.
        self.weights = {name: p.detach().clone().requires_grad_(not is_buffer(name)) for name, p in params.items()}
        self.masked = [(p, masks[layer_of(name)].to(p.dtype)) for name, p in self.weights.items()
                       if layer_of(name) in masks]
        self.penalty = penalty if penalty and any(penalty.rows) else None
        if self.penalty:  # slimmed rows: a removed channel's batch-norm scale and shift stay 0 too
            bn, self.strength = slimming.bn_masks(model, masks, penalty.rows), penalty.strength(data.x_train.device)
            self.masked += [(self.weights[n], m.to(self.weights[n].dtype)) for n, m in bn.items()]
        for p, m in self.masked:
            p.data.mul_(m)
        device = data.x_train.device
        devices.keep_freed_memory(device)
        self.update = live_step.Update(cfg, [p for p in self.weights.values() if p.requires_grad], self.masked, device)
        self.order = BatchOrder(order_keys, len(data.x_train), cfg.batch_size, device)
        self.augment = Augment(self.order.unique, self.order.rows) if cfg.augment else None

    def step(self, iteration: int) -> torch.Tensor:
        """One optimiser step for every model; returns the (K,) batch losses."""
        if optim.scheduled(self.cfg):
            optim.set_lr(self.update.optimizer, optim.lr_at(self.cfg, iteration))
        idx = self.order.indices(iteration)
        x = self.data.x_train.index_select(0, idx.flatten()).unflatten(0, idx.shape)  # x_train[idx], faster on a CPU
        if self.augment:
            x = self.augment(x)
        logits = self.model.forward(self.weights, x, train=True)
        loss = F.cross_entropy(logits.flatten(0, 1), self.data.y_train[idx].flatten(), reduction="none")
        loss = loss.view(self.k, -1).mean(1)
        self.update.zero_grad()
        loss.sum().backward()  # models are independent: d(sum)/d(theta_i) = d(loss_i)/d(theta_i)
        if self.penalty:
            slimming.add_penalty(self.model, self.weights, self.strength)
        self.update.step()  # gradients masked, then the optimiser (on the live weights alone where that is exact)
        return loss.detach()

    def params(self) -> Params:
        return {n: p.detach() for n, p in self.weights.items()}


@dataclass(frozen=True)
class Hooks:
    """Progress hooks of a loop: on_eval(iteration) after each evaluation; should_stop() True cancels the run."""
    on_eval: Callable[[int], None] | None = None
    should_stop: Callable[[], bool] | None = None


def loop(model: Model, data: Dataset, k: int, iterations: int, every: int, step: Callable[[int], torch.Tensor],
         evaluated: Callable[[], Params], hooks: Hooks = Hooks(), snapshot: Callable[[int], None] | None = None,
         extra: dict[str, Callable[[], np.ndarray]] | None = None, test_every: int = 0):
    """The one training loop: step(i) for i < iterations, each returning the K models' (K,) training losses.

    Every `every` iterations and at the end it evaluates the parameters `evaluated()` gives on the validation
    set, and on the test set at every `test_every` iterations (0: at each evaluation) and at the end; a test
    point skipped is NaN in the curves. It records each `extra` series too (e.g. the fraction of weights a
    learned mask keeps). `snapshot(i)`, if given, is called before everything else at each iteration (late
    rewinding keeps θk). Returns the evaluation points, the curves, each (K, points), and, when test points
    are skipped, the test loss and accuracy of each model's best-validation weights (else None).
    """
    points = eval_schedule(iterations, every)
    curves = empty_curves(k, len(points))
    curves.update({name: np.zeros((k, len(points)), dtype=np.float32) for name in extra or {}})
    running = torch.zeros(k, device=data.x_train.device)
    since_eval, e = 0, 0
    best = BestWeights() if test_every else None
    for it in range(iterations + 1):
        if snapshot:
            snapshot(it)
        if it == points[e]:
            train_loss = running / since_eval if since_eval else torch.full_like(running, float("nan"))
            params = evaluated()
            record_eval(model, params, data, curves, e, train_loss, it,
                        test=not test_every or it % test_every == 0 or it == iterations)
            if best:
                best.update(params, curves["val_loss"][:, e])
            for name, series in (extra or {}).items():
                curves[name][:, e] = series()
            running.zero_()
            since_eval, e = 0, e + 1
            if hooks.on_eval:
                hooks.on_eval(it)
            if hooks.should_stop and hooks.should_stop():
                raise Cancelled("cancelled")
        if it == iterations:
            break
        running += step(it)
        since_eval += 1
    return np.array(points), curves, best.test(model, data, curves) if best else None


class BestWeights:
    """Each model's weights at its lowest validation loss so far (the first on ties, as early_stop_index)."""

    def __init__(self):
        self.val_loss = None  # (K,) each model's lowest validation loss so far
        self.params = None  # each model's weights there
        self.index = None  # (K,) the evaluation index there
        self.e = 0  # evaluations seen

    def update(self, params: Params, val_loss: np.ndarray) -> None:
        if self.params is None:
            self.val_loss, self.params = val_loss.copy(), {n: p.clone() for n, p in params.items()}
            self.index = np.zeros(len(val_loss), dtype=int)
        better = val_loss < self.val_loss
        if better.any():
            rows = torch.from_numpy(np.flatnonzero(better)).to(next(iter(params.values())).device)
            for n, p in params.items():
                self.params[n][rows] = p[rows]
            self.val_loss[better], self.index[better] = val_loss[better], self.e
        self.e += 1

    def test(self, model: Model, data: Dataset, curves: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Test loss and accuracy of the kept weights: read off the curves where that point was tested (the
        same weights, evaluated the same way), evaluated once for the rest."""
        rows = np.arange(len(self.index))
        out = {name: curves[name][rows, self.index].copy() for name in ("test_loss", "test_acc")}
        if np.isnan(out["test_acc"]).any():
            loss, acc = evaluate(model, self.params, data.x_test, data.y_test)
            untested = np.isnan(out["test_acc"])
            out["test_loss"][untested] = loss.cpu().numpy()[untested]
            out["test_acc"][untested] = acc.cpu().numpy()[untested]
        return out


def finish(model: Model, data: Dataset, points: np.ndarray, curves: dict[str, np.ndarray], final: Params,
           evaluated: Params, snapshot: Params | None = None, at_early_stop: dict | None = None,
           train_examples: int = 0) -> TrainResult:
    """A loop's result: its curves, the final weights and the accuracy of `evaluated` on the training split
    (its first `train_examples`; 0: all of it)."""
    n = train_examples or len(data.x_train)
    _, train_acc = evaluate(model, evaluated, data.x_train[:n], data.y_train[:n])
    return TrainResult(points, curves, final, snapshot, train_acc.cpu().numpy(), at_early_stop)


def train(model: Model, params: Params, masks: Masks, data: Dataset, cfg: TrainingConfig, order_keys: list,
          snapshot_at: int | None = None, hooks: Hooks = Hooks(), penalty: slimming.Penalty | None = None
          ) -> TrainResult:
    """The paper's protocol for K masked models: the config's optimiser, evaluation every cfg.eval_every, θk kept
    if asked; the rows `penalty` names train with network slimming's L1 penalty and channel masks."""
    stack = Stack(model, params, masks, data, cfg, order_keys, penalty)
    kept: dict[str, Params] = {}

    def keep(it: int) -> None:
        if it == snapshot_at:
            kept["snapshot"] = {n: p.clone() for n, p in stack.params().items()}

    points, curves, at_best = loop(model, data, stack.k, cfg.iterations, cfg.eval_every, stack.step, stack.params,
                                   hooks, keep if snapshot_at is not None else None, test_every=cfg.test_every)
    final = stack.params()
    return finish(model, data, points, curves, final, final, kept.get("snapshot"), at_best, cfg.train_eval_examples)


def eval_schedule(iterations: int, every: int) -> list[int]:
    """Evaluation points: every `every` iterations from 0, and the last iteration."""
    return sorted(set(range(0, iterations, every)) | {iterations})


def empty_curves(k: int, points: int) -> dict[str, np.ndarray]:
    return {name: np.zeros((k, points), dtype=np.float32) for name in CURVES}


def record_eval(model, params, data, curves, e, train_loss, iteration, test: bool = True):
    with torch.no_grad():
        val_loss, val_acc = evaluate(model, params, data.x_val, data.y_val)
        test_loss, test_acc = (evaluate(model, params, data.x_test, data.y_test) if test
                               else (torch.full_like(val_loss, float("nan")),) * 2)
    for name, v in zip(CURVES, (train_loss, val_loss, val_acc, test_loss, test_acc)):
        curves[name][:, e] = v.cpu().numpy()
    # Diverged: NaN/inf, or a loss far above any a learning network has (chance is ln(classes) ~ 2.3). Not the
    # latter for batch norm: early in training its running averages lag the weights, and the evaluated loss can
    # pass 1,000 for a few hundred iterations while the network trains well (seen on VGG-19 after 2 steps).
    limit = np.inf if model.batch_norm else np.maximum(DIVERGED_LOSS, DIVERGED_LOSS * curves["val_loss"][:, 0])
    val = curves["val_loss"][:, e]
    bad = ~np.isfinite(val) | (val > limit)
    if iteration > 0:
        bad |= ~np.isfinite(curves["train_loss"][:, e])
    if bad.any():
        raise Diverged(f"loss became NaN/inf or exceeded {DIVERGED_LOSS:g}x its start for model(s) "
                       f"{np.flatnonzero(bad).tolist()} by iteration {iteration}")
