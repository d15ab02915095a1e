"""Instability analysis: do copies of a network, trained from the same weights with different data orders,
end in one linearly connected region? (Frankle et al. 2020; ../shared/PAPER.md, "Late rewinding and instability".)

For each fork (arm, level, k) of a trial: the arm's mask at that IMP level (level 0: the dense net) on the
weights the run trains it from (θ0; the reinit control's own draw; in a run that rewinds to iteration r, the
ticket's θr, so its k counts from there: k = 0 forks the rewound subnetwork itself), trained with the run's
protocol and the trial's own data order up to iteration k; there it forks into `copies` copies, copy c drawing
its batches from its own order, each trained to the run's last iteration. Every pair of copies is then evaluated
on the straight line between them, w_a + α(w_b − w_a): train and test error at `points` evenly spaced α. The
barrier is the highest error on the line minus the mean of its two ends' errors: 0 means the copies are linearly
connected (stable).

All forks of a trial train as one stack, so a trial is the unit of computation; each fork is written as its own
unit (methods/stability/points/point_PP/trial_TT). A killed analysis trains its unfinished trials' whole stacks
again, so resumed numbers equal an uninterrupted run's. Up to iteration k a fork follows the run's own
trajectory; bit for bit only at k = 0 (θ0 itself), since batched products may round differently in a stack of
another size than the IMP run's. Batch-norm networks work too: along the path their running averages are
measured afresh (see `Analysis.path`).
"""

from __future__ import annotations

import itertools
import logging
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..core import devices, paths, store
from ..core.config import Config, ConfigError
from ..core.stability_config import Fork, StabilityConfig
from ..engine import deep_models, models, pruning
from ..engine.train import BatchOrder, Cancelled, Stack, evaluate
from . import execution, lottery

log = logging.getLogger("lth")


def job(run_dir: Path, scfg: StabilityConfig) -> execution.SweepJob:
    """`scfg`'s analysis of the run in `run_dir`, checked before any work: levels, k or trials the run has not
    finished are refused."""
    config = store.read_config(run_dir)
    models.refuse_foreign(config.model.model, "an instability analysis")
    forks = scfg.forks(config)
    needed = {(f.level, t) for f in forks for t in range(scfg.trials) if f.level > 0}
    missing = sorted(needed - store.finished_units(run_dir))
    if missing:
        raise ConfigError(f"the run has not finished level {missing[0][0]} of trial {missing[0][1]}, whose mask "
                          "the analysis forks; finish the run first, or choose its finished levels and trials")
    return execution.SweepJob(run_dir, scfg, config, partial(Analysis, config, scfg, forks))


def run(run_dir: Path, scfg: StabilityConfig, options: execution.RunOptions = execution.RunOptions()) -> Path:
    """Compute (or finish, or just open) `scfg`'s analysis of the run in `run_dir`; returns its folder."""
    return execution.run_sweep(job(run_dir, scfg), options)


class ForkedOrder:
    """Model i draws the batches of run_keys[i] (the IMP run's order) before iteration forks[i], of own[i] after."""

    def __init__(self, run_keys: list, own: list, forks: list[int], n: int, batch: int, device):
        self.shared = BatchOrder(run_keys, n, batch, device)
        self.own = BatchOrder(own, n, batch, device)
        self.forks = torch.tensor(forks, device=device).view(-1, 1)

    def indices(self, iteration: int) -> torch.Tensor:
        return torch.where(iteration < self.forks, self.shared.indices(iteration), self.own.indices(iteration))


class Analysis(execution.Sweep):
    """An instability analysis: one point per fork, all of a trial's forks and their copies trained as one
    stack."""

    def __init__(self, config: Config, scfg: StabilityConfig, forks: list[Fork], sdir: Path, dataset, device,
                 show_progress: bool = True):
        super().__init__(config, sdir, dataset, device, len(forks), scfg.trials)
        self.s = scfg
        self.forks = forks
        self.run_dir = sdir.parent.parent  # the IMP run it analyses: <run>/methods/stability
        total = len(self.todo()) * len(forks) * scfg.copies * config.training.iterations
        self.progress = execution.Progress(sdir, total, show_progress)

    def run_trial(self, trial: int) -> None:
        """Train one trial's forks as one stack; write the path between each fork's copies."""
        started = time.time()
        final, masks = self.train(trial)
        trained = time.time() - started
        for p, fork in enumerate(self.forks):
            rows = slice(p * self.s.copies, (p + 1) * self.s.copies)
            remaining = float(pruning.remaining(pruning.select(masks, rows))[0][0])
            self.write_unit(p + 1, trial, fork, {n: v[rows] for n, v in final.items()}, remaining,
                            trained / len(self.forks))
        log.info("stability, trial %d done in %.1fs", trial, time.time() - started)

    # --- training the copies ------------------------------------------------------------
    def start(self, fork: Fork, trial: int) -> tuple[models.Params, pruning.Masks]:
        """The fork's initial weights and mask (its network before any training)."""
        if fork.level == 0:
            theta0 = self.model.init([self.streams.init(trial)], self.device)
            return theta0, pruning.dense_masks(self.model, 1, self.device)
        if fork.arm == "reinit":
            params = self.model.init([self.streams.member("reinit", trial, fork.level, 0)], self.device)
        else:  # where the run's ticket starts: θ0, or θk when the run rewinds late
            params = lottery.rewind_point(self.run_dir, self.config, self.model, self.streams, [trial], self.device)
        stored = store.read_masks(paths.unit_masks(self.run_dir, fork.level, trial))[("ticket", trial, 0)]
        return params, {n: torch.from_numpy(m).unsqueeze(0).to(self.device) for n, m in stored.items()}

    def train(self, trial: int) -> tuple[models.Params, pruning.Masks]:
        """Every fork's copies of a trial as one stack, to the run's last iteration: their final weights, masks."""
        copies = range(self.s.copies)
        starts = [self.start(fork, trial) for fork in self.forks for _ in copies]
        params = {n: torch.cat([p[n] for p, _ in starts]) for n in starts[0][0]}
        masks = pruning.concat([m for _, m in starts])
        cfg = self.config.training
        # before its fork a copy draws the batches the IMP run trained that network with (the dense net: level 0's)
        run_keys = [self.streams.run_order_key(cfg.data_order, trial, f.level, "ticket" if f.level == 0 else f.arm)
                    for f in self.forks for _ in copies]
        stack = Stack(self.model, params, masks, self.data, cfg, run_keys)
        own = [self.copy_order(trial, c) for _ in self.forks for c in copies]
        fork_at = [f.k for f in self.forks for _ in copies]
        stack.order = ForkedOrder(run_keys, own, fork_at, len(self.data.x_train), cfg.batch_size, self.device)
        self.progress.start_level(0, len(starts))
        for it in range(cfg.iterations):
            stack.step(it)
            if (it + 1) % cfg.eval_every == 0 or it + 1 == cfg.iterations:
                self.progress.at_eval(it + 1)
                if self.progress.cancelled():
                    raise Cancelled("cancelled")
        return stack.params(), masks

    def copy_order(self, trial: int, copy: int) -> tuple:
        """Copy c's own data order after the fork: the same for every fork of a trial, distinct between copies."""
        return self.streams.copy_order_key(trial, copy)

    # --- the paths between copies ---------------------------------------------------------
    def path(self, a: models.Params, b: models.Params) -> pd.DataFrame:
        """Train and test error at each α on w_a + α(w_b − w_a); identical copies give identical networks.

        A batch-norm network's running averages are not weights to interpolate: at every α (the ends included, so
        a path's ends are the copies as evaluated here) they are measured afresh on the training examples the
        train error uses, in the run's training batches (deep_models.reestimate_running_averages)."""
        alphas = torch.linspace(0, 1, self.s.points, device=self.device)
        line = {n: a[n] + alphas.view(-1, *[1] * (a[n].dim() - 1)) * (b[n] - a[n]) for n in a}
        n = self.s.train_eval_examples or len(self.data.x_train)
        if self.model.batch_norm:
            line = deep_models.reestimate_running_averages(self.model, line, self.data.x_train[:n],
                                                           self.config.training.batch_size)
        _, train_acc = evaluate(self.model, line, self.data.x_train[:n], self.data.y_train[:n])
        _, test_acc = evaluate(self.model, line, self.data.x_test, self.data.y_test)
        return pd.DataFrame({"alpha": alphas.cpu().numpy(), "train_error": 1 - train_acc.cpu().numpy(),
                             "test_error": 1 - test_acc.cpu().numpy()})

    def write_unit(self, point: int, trial: int, fork: Fork, copies: models.Params, remaining: float,
                   seconds: float) -> None:
        frames, rows = [], []
        for i, j in itertools.combinations(range(self.s.copies), 2):
            line = self.path({n: v[i:i + 1] for n, v in copies.items()}, {n: v[j:j + 1] for n, v in copies.items()})
            frames.append(line.assign(copy_a=i, copy_b=j))
            rows.append({"copy_a": i, "copy_b": j, **{f"{kind}_barrier": barrier(line[f"{kind}_error"].to_numpy())
                                                      for kind in ("train", "test")},
                         "test_error_ends": [float(line.test_error.iloc[0]), float(line.test_error.iloc[-1])]})
        summary = {"point": point, "trial": trial, "rows": [], "arm": fork.arm, "level": fork.level, "k": fork.k,
                   "remaining": remaining, "pairs": rows, "models": self.s.copies,
                   "model_iterations": self.s.copies * self.config.training.iterations, "seconds": round(seconds, 2),
                   "execution": {"device": devices.describe(self.device), "stack": len(self.forks) * self.s.copies,
                                 "trials_together": 1}}
        frame = pd.concat(frames, ignore_index=True).assign(point=point, trial=trial)
        store.write_parquet(paths.unit_path(self.folder, point, trial), frame)
        store.write_json(paths.unit_summary(self.folder, point, trial), summary)
        store.write_status(self.folder, units_done=len(store.finished_units(self.folder)))


def barrier(errors: np.ndarray) -> float:
    """The highest error on the path minus the mean of its two ends' (PAPER.md's definition)."""
    return float(errors.max() - (errors[0] + errors[-1]) / 2)

