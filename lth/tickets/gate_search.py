"""A gate or continuous-sparsification sweep, run into an IMP run's store as further arms.

For trial t, masks are learned from the IMP run's own trial-t θ0 and data
order, every sweep point (λ or s0) one model of a single stack. What each arm
reports, at sweep point p (stored as level p, p = 1..K):

- ``<gates>_strong``: θ0 frozen, only the gates learned; the binary mask
  (lth.gates.RULES) applied to θ0, evaluated at the end of mask learning.
- ``<gates>_weak``: the same mask on θ0, retrained with the run's own
  protocol (iterations, Adam, early stop): directly comparable with IMP.
- ``cs``: weights and s learned together over rounds; the mask 1[s > 0] on the
  rewound weights θk, retrained with the run's protocol.

Every row also records what finding it cost (model-iterations, seconds).
Learned masks are saved before retraining, so a killed sweep resumes there.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..core import devices, paths, store
from ..core.config import Config, ConfigError
from ..core.gate_config import GateConfig
from ..core.seeds import generator, seed
from ..engine import data as data_mod
from ..engine import models, pruning
from ..engine.train import BatchOrder, Cancelled, TrainResult, empty_curves, eval_schedule, evaluate, record_eval, train
from . import records
from .gates import cs_beta, cs_mask, relaxation
from .lottery import RunOptions
from .masks import Member

log = logging.getLogger("lth")


def run(run_dir: Path, gcfg: GateConfig, options: RunOptions = RunOptions()) -> Path:
    """Compute (or finish, or just open) `gcfg`'s sweep on the run in `run_dir`; returns the method folder."""
    config = store.read_config(run_dir)
    device = devices.resolve(options.device)
    dataset = data_mod.load(config.data, options.data_dir, device, options.download)
    mdir = create(run_dir, gcfg)
    with store.lock(mdir):
        search = Search(config, gcfg, mdir, dataset, device, options.progress)
        if not search.todo():
            store.write_status(mdir, state="done")
            return mdir
        paths.cancel_file(mdir).unlink(missing_ok=True)
        with records.computing(mdir, device):
            search.run()
    return mdir


def create(run_dir: Path, gcfg: GateConfig) -> Path:
    """The method's folder; settings differing from a sweep already there are refused once it has results."""
    mdir = paths.method_dir(run_dir, gcfg.method)
    if paths.method_file(mdir).exists():
        saved = read_method(mdir)
        if saved != gcfg and store.finished_units(mdir):
            diff = ", ".join(f"{f.name}={getattr(saved, f.name)!r}" for f in dataclasses.fields(gcfg)
                             if getattr(saved, f.name) != getattr(gcfg, f.name))
            raise ConfigError(f"{mdir} already holds a {gcfg.method} sweep with {diff}; "
                              f"give the same settings to resume it, or delete that folder to start another")
    if not paths.method_file(mdir).exists() or read_method(mdir) != gcfg:
        store.write_json(paths.method_file(mdir), {"method_id": gcfg.method_id, "gates": dataclasses.asdict(gcfg)})
        store.write_status(mdir, state="pending")
    return mdir


def read_method(mdir: Path) -> GateConfig:
    try:
        return GateConfig.from_dict(store.read_json(paths.method_file(mdir))["gates"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"{paths.method_file(mdir)} is damaged ({err})") from None


class Search:
    def __init__(self, config: Config, gcfg: GateConfig, mdir: Path, dataset, device, show_progress=True):
        self.config, self.g, self.mdir, self.data, self.device = config, gcfg, mdir, dataset, device
        self.model = models.build(config.model.model, dataset.input_shape, dataset.num_classes)
        self.values = gcfg.values
        self.k = len(self.values)
        rounds = gcfg.rounds if gcfg.method == "cs" else 1
        self.learn_iterations = gcfg.gate_iterations * rounds
        self.retrain_iterations = config.training.iterations if gcfg.retrain or gcfg.method == "cs" else 0
        total = len(self.todo()) * self.k * (self.learn_iterations + self.retrain_iterations)
        self.progress = records.Progress(mdir, total, show_progress)

    def todo(self) -> list[int]:
        done = store.finished_units(self.mdir)
        return [t for t in range(self.g.trials) if any((p, t) not in done for p in range(1, self.k + 1))]

    def run(self) -> None:
        for trial in self.todo():
            started = time.time()
            learned, result, theta, learn_seconds = self.learned(trial)
            retrained, retrain_started = None, time.time()
            if self.retrain_iterations:
                self.progress.start_level(1, self.k)
                retrained = train(self.model, theta, learned, self.data, self.config.training,
                                  order_keys=[(self.config.experiment.seed, trial)] * self.k,
                                  on_eval=self.progress.at_eval, should_stop=self.progress.cancelled)
            retrain_seconds = time.time() - retrain_started
            for p in range(self.k):
                self.write_unit(p, trial, learned, result, retrained, learn_seconds, retrain_seconds)
            log.info("%s sweep, trial %d done in %.1fs", self.g.method, trial, time.time() - started)
        self.progress.close()

    # --- learning the masks ---------------------------------------------------------------
    def theta0(self, trial: int) -> models.Params:
        """The IMP run's trial-t initialisation (same seed stream as lth.lottery), once per sweep point."""
        p = self.model.init([generator(self.config.experiment.seed, trial, "init")], self.device)
        return {n: v.expand(self.k, *v.shape[1:]).clone() for n, v in p.items()}

    def learned(self, trial: int):
        """(masks, search result, weights retraining starts from, seconds): from the plan file if there."""
        plan = paths.learned_masks(self.mdir, trial)
        if plan.exists():
            return self.read_plan(trial)
        started = time.time()
        self.progress.start_level(0, self.k)
        seed0 = self.config.experiment.seed
        noise = torch.Generator(device=self.device)
        noise.manual_seed(seed(seed0, trial, self.g.method, "noise"))
        streams = Streams(BatchOrder([(seed0, trial)] * self.k, len(self.data.x_train), self.config.training.batch_size,
                                     self.device),
                          noise, generator(seed0, trial, "gates"), self.config.training.lr,
                          self.progress.at_eval, self.progress.cancelled)
        learn = learn_cs if self.g.method == "cs" else learn_gates
        masks, result, theta = learn(self.model, self.theta0(trial), self.values, self.data, self.g, streams)
        seconds = time.time() - started
        arrays = {f"mask/{n}": m.cpu().numpy() for n, m in masks.items()}
        arrays.update({f"theta/{n}": p.cpu().numpy() for n, p in theta.items()})
        arrays.update({f"curve/{n}": c for n, c in result.curves.items()})
        arrays.update(iterations=result.iterations, train_acc=result.train_acc, seconds=np.array(seconds))
        store.write_npz(plan, arrays)
        return masks, result, theta, seconds

    def read_plan(self, trial: int):
        a = store.read_npz(paths.learned_masks(self.mdir, trial))
        get = lambda prefix: {k[len(prefix):]: torch.from_numpy(v).to(self.device)  # noqa: E731
                              for k, v in a.items() if k.startswith(prefix)}
        curves = {k[6:]: v for k, v in a.items() if k.startswith("curve/")}
        theta = get("theta/")
        result = TrainResult(a["iterations"], curves, theta, None, a["train_acc"])
        return get("mask/"), result, theta, float(a["seconds"])

    # --- recording ------------------------------------------------------------------------
    def write_unit(self, p: int, trial: int, masks, search: TrainResult, retrained: TrainResult | None,
                   learn_seconds: float, retrain_seconds: float) -> None:
        level, arms, md = p + 1, self.g.arms, self.mdir
        mask = pruning.select(masks, [p])
        setting = f"s0={self.values[p]:g}" if self.g.method == "cs" else f"λ={self.values[p]:g}"
        common = {"method": self.g.method, "setting": setting}
        blobs, frames = [], []
        if self.g.method != "cs":  # the strong ticket, at the end of mask learning
            member = [Member(trial, arms[0], 0)]
            last = np.array([len(search.iterations) - 1])
            blobs.append(self.rows(level, member, mask, search.select([p]), learn_seconds, self.learn_iterations,
                                   common, report_at=last))
            frames.append(records.curves_frame(level, member, search.select([p])))
        if retrained is not None:
            member = [Member(trial, arms[-1], 0)]
            blobs.append(self.rows(level, member, mask, retrained.select([p]), learn_seconds + retrain_seconds,
                                   self.learn_iterations + self.retrain_iterations, common,
                                   search_test_acc=float(search.curves["test_acc"][p, -1])))
            frames.append(records.curves_frame(level, member, retrained.select([p])))
        arrays = {f"shape/{layer.name}": np.array(layer.weight_shape) for layer in self.model.layers}
        for arm in arms:
            arrays.update({f"{arm}/{trial}/0/{n}": store.pack_mask(m[0].cpu().numpy()) for n, m in mask.items()})
        store.write_parquet(paths.unit_curves(md, level, trial), pd.concat(frames, ignore_index=True))
        store.write_npz(paths.unit_masks(md, level, trial), arrays)
        summary = {**blobs[0], "rows": [r for b in blobs for r in b["rows"]], "models": len(blobs),
                   "model_iterations": self.learn_iterations + self.retrain_iterations,
                   "seconds": round((learn_seconds + retrain_seconds) / self.k, 2)}
        store.write_json(paths.unit_summary(md, level, trial), summary)  # last: marks the unit finished
        store.write_status(md, units_done=len(store.finished_units(md)))

    def rows(self, level, member, mask, result, seconds, iterations, common, report_at=None, **extra) -> dict:
        """Summary rows of one arm at one sweep point, with what finding it cost (per model of the stack)."""
        blob = records.summary(level, member, mask, result, self.model, seconds / self.k, iterations, report_at)
        for row in blob["rows"]:
            row.update(common, cost_model_iterations=iterations, cost_seconds=round(seconds / self.k, 2), **extra)
        return blob


def _masked(params: models.Params, masks: pruning.Masks) -> models.Params:
    return {n: (p * masks[n[:-7]] if n.endswith(".weight") else p) for n, p in params.items()}


def _loss(model, params, data, idx, k) -> torch.Tensor:
    logits = model.forward(params, data.x_train[idx])
    return F.cross_entropy(logits.flatten(0, 1), data.y_train[idx].flatten(), reduction="none").view(k, -1).mean(1)


@dataclass
class Streams:
    """What mask learning draws on besides the model: batches, gate noise and init, the lr of trained weights,
    and the progress hooks (called at each evaluation; should_stop() True cancels)."""
    order: BatchOrder
    noise: torch.Generator
    init: torch.Generator
    weights_lr: float
    on_eval: Callable[[int], None] = lambda iteration: None
    should_stop: Callable[[], bool] = lambda: False


class _Recorder:
    """Curves of the binary-mask network while masks are learned, plus the fraction of weights it keeps."""

    def __init__(self, model, data, k: int, iterations: int, every: int, on_eval, should_stop):
        self.model, self.data, self.on_eval, self.should_stop = model, data, on_eval, should_stop
        self.points = eval_schedule(iterations, every)
        self.curves = {**empty_curves(k, len(self.points)), "remaining": np.zeros((k, len(self.points)), np.float32)}
        self.running, self.since, self.e = torch.zeros(k, device=data.x_train.device), 0, 0

    def add(self, loss: torch.Tensor) -> None:
        self.running += loss.detach()
        self.since += 1

    def maybe_eval(self, iteration: int, params: models.Params, masks: pruning.Masks) -> None:
        if self.e >= len(self.points) or iteration != self.points[self.e]:
            return
        train_loss = self.running / self.since if self.since else torch.full_like(self.running, float("nan"))
        record_eval(self.model, _masked(params, masks), self.data, self.curves, self.e, train_loss, iteration)
        self.curves["remaining"][:, self.e] = pruning.remaining(masks)[0]
        self.running.zero_()
        self.since, self.e = 0, self.e + 1
        self.on_eval(iteration)
        if self.should_stop():
            raise Cancelled("cancelled")

    def result(self, params: models.Params, masks: pruning.Masks) -> TrainResult:
        _, train_acc = evaluate(self.model, _masked(params, masks), self.data.x_train, self.data.y_train)
        return TrainResult(np.array(self.points), self.curves, params, None, train_acc.cpu().numpy())


def learn_gates(model, theta0, lambdas, data, g: GateConfig, streams: Streams):
    """Strong-ticket mask learning: θ0 frozen, one gate per weight, loss = CE + λ·Σ P(open)."""
    relax, k = relaxation(g), len(lambdas)
    gates = {layer.name: relax.init((k, *layer.weight_shape), streams.init).to(data.x_train.device).requires_grad_(True)
             for layer in model.layers}
    lam = torch.tensor(lambdas, device=data.x_train.device)
    optimizer = torch.optim.Adam(gates.values(), lr=g.gate_lr)
    rec = _Recorder(model, data, k, g.gate_iterations, g.gate_eval_every, streams.on_eval, streams.should_stop)
    binary = lambda: {n: relax.binary(v.detach()) for n, v in gates.items()}  # noqa: E731
    for it in range(g.gate_iterations + 1):
        rec.maybe_eval(it, theta0, binary())
        if it == g.gate_iterations:
            break
        z = {n: relax.sample(v, streams.noise) for n, v in gates.items()}
        params = {n: (p * z[n[:-7]] if n.endswith(".weight") else p) for n, p in theta0.items()}
        ce = _loss(model, params, data, streams.order.indices(it), k)
        expected_open = sum(relax.open_probability(v).flatten(1).sum(1) for v in gates.values())
        optimizer.zero_grad(set_to_none=True)
        (ce + lam * expected_open).sum().backward()
        optimizer.step()
        rec.add(ce)
    masks = binary()
    return masks, rec.result(theta0, masks), theta0


def learn_cs(model, theta0, s0s, data, g: GateConfig, streams: Streams):
    """Continuous sparsification: weights and s learn together under mask sigmoid(β·s), round after round."""
    k, device, T = len(s0s), data.x_train.device, g.gate_iterations
    weights = {n: p.clone().requires_grad_(True) for n, p in theta0.items()}
    s0 = {layer.name: torch.tensor(s0s, device=device).view(k, *[1] * len(layer.weight_shape))
          for layer in model.layers}
    s = {n: v.expand(k, *layer.weight_shape).clone().requires_grad_(True)
         for (n, v), layer in zip(s0.items(), model.layers)}
    rec = _Recorder(model, data, k, T * g.rounds, g.gate_eval_every, streams.on_eval, streams.should_stop)
    binary = lambda: {n: v.detach() > 0 for n, v in s.items()}  # noqa: E731
    rewind = None
    for r in range(g.rounds):
        optimizer = torch.optim.Adam([{"params": list(weights.values()), "lr": streams.weights_lr},
                                      {"params": list(s.values()), "lr": g.gate_lr}])
        for it in range(T):
            step = r * T + it
            if r == 0 and it == g.cs_rewind_iteration:
                rewind = {n: p.detach().clone() for n, p in weights.items()}
            rec.maybe_eval(step, {n: p.detach() for n, p in weights.items()}, binary())
            beta = cs_beta(it, T, g.cs_beta_max)
            m = {n: cs_mask(v, beta) for n, v in s.items()}
            params = {n: (p * m[n[:-7]] if n.endswith(".weight") else p) for n, p in weights.items()}
            ce = _loss(model, params, data, streams.order.indices(step), k)
            penalty = sum(v.flatten(1).sum(1) for v in m.values())
            optimizer.zero_grad(set_to_none=True)
            (ce + g.cs_lambda * penalty).sum().backward()
            optimizer.step()
            rec.add(ce)
        if r < g.rounds - 1:  # next round: β back to 1, s <- min(s, s0), weights back to θk
            with torch.no_grad():
                for n in s:
                    s[n].copy_(torch.minimum(s[n], s0[n]))
                for n in weights:
                    weights[n].copy_(rewind[n])
    final = {n: p.detach() for n, p in weights.items()}
    masks = binary()
    rec.maybe_eval(T * g.rounds, final, masks)
    return masks, rec.result(final, masks), rewind
