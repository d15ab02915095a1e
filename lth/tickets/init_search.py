"""A pruning-at-initialization sweep (SNIP, GraSP or SynFlow), run into an IMP run's store as further arms.

For trial t the method scores the IMP run's own trial-t θ0 and prunes it globally to the total weight count
of each chosen IMP level (sweep point p = 1..K, stored as points/point_PP). Every arm then trains with the
run's own protocol (iterations, optimiser, early stopping, and the batches IMP's ticket drew at that level), so
it sits on the same charts
as IMP's ticket. The arms at each point:

- ``<method>``: the method's mask on θ0;
- ``<method>_shuffled``: that mask shuffled within each layer (the same per-layer counts), on θ0;
- ``<method>_reinit``: the method's mask on freshly drawn weights.

IMP's ticket has the same two checks already: random pruning is its mask shuffled within each layer (the
ticket's per-layer counts) and random reinitialisation is its mask on re-drawn weights.
A trial's arms and points train as one stack; a killed sweep resumes at the first unfinished trial.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from pathlib import Path

import torch

from ..core import arms, devices, store
from ..core.config import Config
from ..core.init_config import InitConfig
from ..engine import models, pruning
from ..engine.train import train
from . import execution, init_scores, records
from .masks import Member

log = logging.getLogger("lth")


def job(run_dir: Path, icfg: InitConfig) -> execution.SweepJob:
    """`icfg`'s sweep on the run in `run_dir`, checked before any work: levels the run does not have are refused."""
    config = store.read_config(run_dir)
    models.refuse_foreign(config.model.model, "pruning at initialization")
    models.refuse_batch_norm(config.model.model, "pruning at initialization")
    levels = icfg.points(config.experiment.levels)
    if icfg.test_every:
        config = config.override(test_every=icfg.test_every)  # validated against the run's --eval-every
    return execution.SweepJob(run_dir, icfg, config, partial(Search, config, icfg, levels))


def run(run_dir: Path, icfg: InitConfig, options: execution.RunOptions = execution.RunOptions()) -> Path:
    """Compute (or finish, or just open) `icfg`'s sweep on the run in `run_dir`; returns the method folder."""
    return execution.run_sweep(job(run_dir, icfg), options)


class Search(execution.Sweep):
    """A pruning-at-init sweep: one point per IMP level pruned to, every arm (the method and its sanity checks)
    of a trial's points trained as one stack."""

    def __init__(self, config: Config, icfg: InitConfig, levels: list[int], mdir: Path, dataset, device,
                 show_progress: bool = True):
        super().__init__(config, mdir, dataset, device, len(levels), icfg.trials)
        self.c = icfg
        self.levels = levels  # the IMP level each sweep point prunes to
        ladder = pruning.ladder(self.model, config.pruning, max(levels))
        self.kept = [ladder[lv] for lv in levels]  # IMP's total weight count at each chosen level
        self.arms = icfg.arms
        total = len(self.todo()) * len(levels) * len(self.arms) * config.training.iterations
        self.progress = execution.Progress(mdir, total, show_progress)

    def run_trial(self, trial: int) -> None:
        """Score, stack and train one trial's points and arms; write its units."""
        started = time.time()
        theta0 = self.model.init([self.streams.init(trial)], self.device)
        masks = self.scored(theta0, trial)
        score_seconds = time.time() - started
        members, points, params, member_masks = self.starting_point(trial, theta0, masks)
        self.progress.start_level(1, len(members))
        # each arm draws the batches IMP's ticket trained with at that level (the trial's, unless --data-order fresh)
        data_order = self.config.training.data_order
        order = [self.streams.run_order_key(data_order, trial, self.levels[p], "ticket") for p in points]
        result = train(self.model, params, member_masks, self.data, self.config.training, order_keys=order,
                       hooks=self.progress.hooks)
        train_seconds = time.time() - started - score_seconds
        for p in range(len(self.levels)):
            rows = [i for i, at in enumerate(points) if at == p]
            self.write_unit(p + 1, trial, [members[i] for i in rows], pruning.select(member_masks, rows),
                            result.select(rows), score_seconds / len(self.levels), train_seconds / len(members))
        log.info("%s sweep, trial %d done in %.1fs", self.c.method, trial, time.time() - started)

    def scored(self, theta0: models.Params, trial: int) -> pruning.Masks:
        """The method's masks of θ0, one per sweep point (a stack of K = points)."""
        if self.c.method == "synflow":
            k = len(self.kept)
            per_point = {n: v.expand(k, *v.shape[1:]) for n, v in theta0.items()}
            return init_scores.synflow_masks(self.model, per_point, self.kept, self.c.synflow_rounds)
        n = len(self.data.x_train)
        pick = torch.randperm(n, generator=self.streams.score_batch(trial))[: self.c.score_examples].to(self.device)
        x, y = self.data.x_train[pick], self.data.y_train[pick]
        if self.c.method == "snip":
            scores = init_scores.snip(self.model, theta0, x, y)
        else:
            scores = init_scores.grasp(self.model, theta0, x, y, self.c.grasp_temperature)
        k = len(self.kept)
        return init_scores.keep_top({n: s.expand(k, *s.shape[1:]) for n, s in scores.items()}, self.kept)

    def starting_point(self, trial: int, theta0: models.Params, masks: pruning.Masks):
        """Every member of a trial's points (each arm at each point), the index of its point (so a unit's rows are
        found again), and the members' initial weights and masks."""
        members, points, params, member_masks = [], [], [], []
        shapes = {layer.name: layer.weight_shape for layer in self.model.layers}
        for p, level in enumerate(self.levels):
            mine = pruning.select(masks, slice(p, p + 1))
            for name in self.arms:
                arm = arms.get(name)
                draw = self.streams.member(name, trial, level, 0)
                if arm.mask == "shuffled":
                    mask = pruning.random_masks([pruning.counts_of(mine, 0)], shapes, [draw], self.device)
                else:
                    mask = mine
                weights = self.model.init([draw], self.device) if arm.init == "fresh" else theta0
                members.append(Member(trial, name, 0))
                points.append(p)
                params.append(weights)
                member_masks.append(mask)
        initial = {n: torch.cat([w[n] for w in params]) for n in params[0]}
        return members, points, initial, pruning.concat(member_masks)

    def write_unit(self, point: int, trial: int, members: list[Member], masks: pruning.Masks, result,
                   score_seconds: float, train_seconds: float) -> None:
        level = self.levels[point - 1]
        iterations = self.config.training.iterations
        blob = records.summary(point, members, masks, result, self.model, train_seconds, iterations, None, "point")
        for row in blob["rows"]:
            row.update(method=self.c.method, setting=f"IMP level {level}'s count", imp_level=level)
            if arms.get(row["arm"]).mask == "scored" and arms.get(row["arm"]).init == "rewind":  # the method's own
                row.update(cost_model_iterations=iterations, cost_seconds=round(score_seconds + train_seconds, 2))
        blob.update(seconds=round(score_seconds + train_seconds * len(members), 2),
                    execution={"device": devices.describe(self.device), "stack": len(self.levels) * len(self.arms),
                               "trials_together": 1})
        curves = records.curves_frame(point, members, result, "point")
        records.write_unit(self.folder, point, trial, self.model, curves, records.mask_entries(members, masks), blob)

