"""A gate or continuous-sparsification sweep, run into an IMP run's store as further arms.

For trial t, masks are learned from the IMP run's own trial-t θ0 and data
order, every sweep point (λ or s0) one model of a single stack. What each arm
reports, at sweep point p (stored as points/point_PP, p = 1..K):

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

import logging
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..core import devices, paths, store
from ..core.config import Config
from ..core.gate_config import GateConfig
from ..engine import models, pruning
from ..engine.train import BatchOrder, TrainResult, train
from . import execution, records
from .gates import Draws, learn_cs, learn_gates
from .masks import Member

log = logging.getLogger("lth")


def job(run_dir: Path, gcfg: GateConfig) -> execution.SweepJob:
    """`gcfg`'s sweep on the run in `run_dir`."""
    config = store.read_config(run_dir)
    models.refuse_foreign(config.model.model, "a gate sweep")
    models.refuse_batch_norm(config.model.model, "a gate sweep")
    return execution.SweepJob(run_dir, gcfg, config, partial(Search, config, gcfg))


def run(run_dir: Path, gcfg: GateConfig, options: execution.RunOptions = execution.RunOptions()) -> Path:
    """Compute (or finish, or just open) `gcfg`'s sweep on the run in `run_dir`; returns the method folder."""
    return execution.run_sweep(job(run_dir, gcfg), options)


class Search(execution.Sweep):
    """A gate or continuous-sparsification sweep: one point per penalty value, learned (and retrained) in one
    stack of `k` members per trial."""

    def __init__(self, config: Config, gcfg: GateConfig, mdir: Path, dataset, device, show_progress=True):
        super().__init__(config, mdir, dataset, device, len(gcfg.values), gcfg.trials)
        self.g = gcfg
        self.values = gcfg.values
        self.k = len(self.values)
        rounds = gcfg.rounds if gcfg.method == "cs" else 1
        self.learn_iterations = gcfg.gate_iterations * rounds
        self.retrain_iterations = config.training.iterations if gcfg.retrains else 0
        total = len(self.todo()) * self.k * (self.learn_iterations + self.retrain_iterations)
        self.progress = execution.Progress(mdir, total, show_progress)

    def run_trial(self, trial: int) -> None:
        """Learn one trial's masks (or read them back), retrain them; write its units."""
        started = time.time()
        learned, result, theta, learn_seconds = self.learned(trial)
        retrained = None
        retrain_started = time.time()
        if self.retrain_iterations:
            self.progress.start_level(1, self.k)
            retrained = train(self.model, theta, learned, self.data, self.config.training,
                              order_keys=[self.streams.order_key(trial)] * self.k, hooks=self.progress.hooks)
        retrain_seconds = time.time() - retrain_started
        for p in range(self.k):
            self.write_unit(p, trial, learned, result, retrained, learn_seconds, retrain_seconds)
        log.info("%s sweep, trial %d done in %.1fs", self.g.method, trial, time.time() - started)

    # --- learning the masks ---------------------------------------------------------------
    def theta0(self, trial: int) -> models.Params:
        """The IMP run's trial-t initialisation (its own seed stream), once per sweep point."""
        p = self.model.init([self.streams.init(trial)], self.device)
        return {n: v.expand(self.k, *v.shape[1:]).clone() for n, v in p.items()}

    def learned(self, trial: int):
        """(masks, search result, weights retraining starts from, seconds): read back if they were saved."""
        saved = paths.learned_masks(self.folder, trial)
        if saved.exists():
            return self.read_learned(trial)
        started = time.time()
        self.progress.start_level(0, self.k)
        order = BatchOrder([self.streams.order_key(trial)] * self.k, len(self.data.x_train),
                           self.config.training.batch_size, self.device)
        draws = Draws(order, self.streams.gate_noise(trial, self.g.method, self.device),
                      self.streams.gate_init(trial), self.config.training.lr, self.progress.hooks)
        learn = learn_cs if self.g.method == "cs" else learn_gates
        masks, result, theta = learn(self.model, self.theta0(trial), self.values, self.data, self.g, draws)
        seconds = time.time() - started
        arrays = {f"mask/{n}": m.cpu().numpy() for n, m in masks.items()}
        arrays.update({f"theta/{n}": p.cpu().numpy() for n, p in theta.items()})
        arrays.update({f"curve/{n}": c for n, c in result.curves.items()})
        arrays.update(iterations=result.iterations, train_acc=result.train_acc, seconds=np.array(seconds))
        store.write_npz(saved, arrays)
        return masks, result, theta, seconds

    def read_learned(self, trial: int):
        a = store.read_npz(paths.learned_masks(self.folder, trial))

        def tensors(prefix: str) -> dict[str, torch.Tensor]:
            return {k[len(prefix):]: torch.from_numpy(v).to(self.device) for k, v in a.items() if k.startswith(prefix)}

        curves = {k[6:]: v for k, v in a.items() if k.startswith("curve/")}
        theta = tensors("theta/")
        result = TrainResult(a["iterations"], curves, theta, None, a["train_acc"])
        return tensors("mask/"), result, theta, float(a["seconds"])

    # --- recording ------------------------------------------------------------------------
    def write_unit(self, p: int, trial: int, masks, search: TrainResult, retrained: TrainResult | None,
                   learn_seconds: float, retrain_seconds: float) -> None:
        point = p + 1
        arms = self.g.arms
        mask = pruning.select(masks, [p])
        setting = f"s0={self.values[p]:g}" if self.g.method == "cs" else f"λ={self.values[p]:g}"
        common = {"method": self.g.method, "setting": setting}
        blobs, frames = [], []
        if self.g.method != "cs":  # the strong ticket, at the end of mask learning
            member = [Member(trial, arms[0], 0)]
            last = np.array([len(search.iterations) - 1])
            blobs.append(self.rows(point, member, mask, search.select([p]), learn_seconds, self.learn_iterations,
                                   common, report_at=last))
            frames.append(records.curves_frame(point, member, search.select([p]), "point"))
        if retrained is not None:
            member = [Member(trial, arms[-1], 0)]
            blobs.append(self.rows(point, member, mask, retrained.select([p]), learn_seconds + retrain_seconds,
                                   self.learn_iterations + self.retrain_iterations, common,
                                   search_test_acc=float(search.curves["test_acc"][p, -1])))
            frames.append(records.curves_frame(point, member, retrained.select([p]), "point"))
        summary = {**blobs[0], "rows": [r for b in blobs for r in b["rows"]], "models": len(blobs),
                   "model_iterations": self.learn_iterations + self.retrain_iterations,
                   "seconds": round((learn_seconds + retrain_seconds) / self.k, 2),
                   # where the unit was written (its masks may have been learned before a resume, elsewhere)
                   "execution": {"device": devices.describe(self.device), "stack": self.k, "trials_together": 1}}
        members = [Member(trial, arm, 0) for arm in arms]
        entries = records.mask_entries(members, pruning.concat([mask] * len(arms)))
        curves = pd.concat(frames, ignore_index=True)
        records.write_unit(self.folder, point, trial, self.model, curves, entries, summary)

    def rows(self, point, member, mask, result, seconds, iterations, common, report_at=None, **extra) -> dict:
        """Summary rows of one arm at one sweep point, with what finding it cost (per model of the stack)."""
        blob = records.summary(point, member, mask, result, self.model, seconds / self.k, iterations, report_at,
                               "point")
        for row in blob["rows"]:
            row.update(common, cost_model_iterations=iterations, cost_seconds=round(seconds / self.k, 2), **extra)
        return blob
