"""Iterative magnitude pruning with its controls, one level at a time, resumable.

Level 0 trains each trial's dense network. Level L >= 1 trains, for every
trial and together as one batched stack: the ticket (mask from pruning the
level L-1 ticket, survivors rewound), random-reinit controls (same mask,
fresh init), random-prune controls (same per-layer counts, random mask,
rewound init) and the one-shot ticket (the trained dense net pruned straight
to level L's sparsity). A level is skipped when its summary exists, so a
killed run resumes where it stopped and ends with the same numbers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import data as data_mod
from . import devices, models, paths, pruning, records, store
from .config import Config
from .seeds import generator
from .train import Cancelled, Diverged, TrainResult, train

log = logging.getLogger("lth")


@dataclass(frozen=True)
class Member:
    """One model of a level's stack."""
    trial: int
    arm: str
    replicate: int


@dataclass
class RunOptions:
    data_dir: Path = Path("data")
    device: str = "auto"
    download: bool = False
    progress: bool = True


def run(config: Config, runs_dir: Path, options: RunOptions = RunOptions()) -> Path:
    """Compute (or finish, or just open) the run of `config`; returns its folder."""
    device = devices.resolve(options.device)
    dataset = data_mod.load(config.data, options.data_dir, device, options.download)  # fails before any write
    run_dir = store.create(runs_dir, config, dataset.input_shape, dataset.num_classes)
    with store.lock(run_dir):
        if store.finished_levels(run_dir) == list(range(config.experiment.levels + 1)):
            store.write_status(run_dir, state="done")
            return run_dir
        paths.cancel_file(run_dir).unlink(missing_ok=True)
        store.write_status(run_dir, state="running", error="", device=str(device), started=time.time())
        try:
            Lottery(config, run_dir, dataset, device, options.progress).run()
        except Cancelled:
            store.write_status(run_dir, state="cancelled")
            raise
        except Diverged as err:
            store.write_status(run_dir, state="failed", error=f"diverged: {err}")
            raise
        except BaseException as err:
            store.write_status(run_dir, state="failed", error=f"{type(err).__name__}: {err}")
            raise
        store.write_status(run_dir, state="done")
    return run_dir


def cancel(run_dir: Path) -> None:
    paths.cancel_file(run_dir).touch()


class Lottery:
    def __init__(self, config: Config, run_dir: Path, dataset: data_mod.Dataset, device, show_progress=True):
        self.config, self.run_dir, self.data, self.device = config, run_dir, dataset, device
        self.model = models.build(config.model.model, dataset.input_shape, dataset.num_classes)
        self.trials = list(range(config.experiment.trials))
        self.progress = records.Progress(run_dir, self.model_iterations_left(), show_progress)
        self.stack, why = devices.stack_size(self.model, device, config.training.batch_size)
        log.info("training up to %s", why)

    # --- the plan ---------------------------------------------------------------------
    def members(self, level: int) -> list[Member]:
        e = self.config.experiment
        out = []
        for t in self.trials:
            out.append(Member(t, "ticket", 0))
            if level == 0:
                continue
            out += [Member(t, "reinit", r) for r in range(e.reinit)]
            out += [Member(t, "random_prune", r) for r in range(e.random_prune)]
            if e.one_shot:
                out.append(Member(t, "one_shot", 0))
        return out

    def model_iterations_left(self) -> int:
        done = set(store.finished_levels(self.run_dir))
        todo = [lvl for lvl in range(self.config.experiment.levels + 1) if lvl not in done]
        return sum(len(self.members(lvl)) for lvl in todo) * self.config.training.iterations

    def seed(self, *parts) -> torch.Generator:
        return generator(self.config.experiment.seed, *parts)

    def theta0(self) -> models.Params:
        return self.model.init([self.seed(t, "init") for t in self.trials], self.device)

    def rewind_point(self) -> models.Params:
        if self.config.pruning.rewind_iteration == 0:
            return self.theta0()
        plan = store.read_npz(paths.plan_file(self.run_dir))
        return {n: torch.from_numpy(plan[f"rewind/{n}"]).to(self.device) for n in self.theta0()}

    def ticket_masks(self, level: int) -> pruning.Masks:
        if level == 0:
            return pruning.dense_masks(self.model, len(self.trials), self.device)
        saved = records.read_masks(paths.level_masks(self.run_dir, level - 1), self.model)
        return {n: torch.stack([torch.from_numpy(saved[("next", t, 0)][n]) for t in self.trials]).to(self.device)
                for n in saved[("next", 0, 0)]}

    def one_shot_masks(self, level: int) -> pruning.Masks:
        plan = records.read_masks(paths.plan_file(self.run_dir), self.model)
        return {n: torch.stack([torch.from_numpy(plan[(f"one_shot_{level}", t, 0)][n]) for t in self.trials])
                .to(self.device) for n in plan[(f"one_shot_{level}", 0, 0)]}

    # --- running ----------------------------------------------------------------------
    def run(self) -> None:
        done = set(store.finished_levels(self.run_dir))
        for level in range(self.config.experiment.levels + 1):
            if level not in done:
                self.run_level(level)
        self.progress.close()

    def stack_for(self, level: int, members: list[Member]) -> tuple[models.Params, pruning.Masks]:
        rewind, tickets = self.rewind_point(), self.ticket_masks(level)
        one_shot = self.one_shot_masks(level) if level > 0 and self.config.experiment.one_shot else None
        shapes = {layer.name: layer.weight_shape for layer in self.model.layers}
        params, masks = [], []
        for m in members:
            t = m.trial
            init = {n: p[t:t + 1] for n, p in rewind.items()}
            mask = pruning.select(tickets, slice(t, t + 1))
            if m.arm == "reinit":
                init = self.model.init([self.seed(t, "reinit", level, m.replicate)], self.device)
            elif m.arm == "random_prune":
                counts = pruning.counts_of(tickets, t)
                mask = pruning.random_masks([counts], shapes, [self.seed(t, "random_prune", level, m.replicate)],
                                            self.device)
            elif m.arm == "one_shot":
                mask = pruning.select(one_shot, slice(t, t + 1))
            params.append(init)
            masks.append(mask)
        stacked = {n: torch.cat([p[n] for p in params]) for n in params[0]}
        return stacked, pruning.stack(masks)

    def run_level(self, level: int) -> None:
        started = time.time()
        members = self.members(level)
        params, masks = self.stack_for(level, members)
        rewind_at = self.config.pruning.rewind_iteration if level == 0 and self.config.pruning.rewind_iteration else None
        chunks = []
        for start in range(0, len(members), self.stack):  # a model's numbers do not depend on its chunk
            part = slice(start, start + self.stack)
            self.progress.start_level(level, len(members[part]))
            chunks.append(train(self.model, {n: p[part] for n, p in params.items()}, pruning.select(masks, part),
                                self.data, self.config.training, order_keys=[m.trial for m in members[part]],
                                snapshot_at=rewind_at, on_eval=self.progress.at_eval,
                                should_stop=self.progress.cancelled))
        result = TrainResult.concat(chunks)

        tickets = [i for i, m in enumerate(members) if m.arm == "ticket"]
        ticket_final = {n: p[tickets] for n, p in result.final.items()}
        ticket_masks = pruning.select(masks, tickets)
        next_masks = pruning.magnitude_prune(self.model, ticket_final, ticket_masks, self.config.pruning,
                                             pruning.next_target(self.model, self.config.pruning, ticket_masks))
        if level == 0:
            self.write_plan(result, ticket_final)
        rd = self.run_dir
        store.write_parquet(paths.level_curves(rd, level), records.curves_frame(level, members, result))
        store.write_npz(paths.level_masks(rd, level), records.pack_masks(members, masks, next_masks, self.model))
        hist, stats = records.weight_movement(self.model, {n: p[tickets] for n, p in params.items()},
                                              ticket_final, ticket_masks, next_masks, self.trials)
        store.write_parquet(paths.level_weight_hist(rd, level), hist)
        store.write_parquet(paths.level_weight_stats(rd, level), stats)
        summary = records.summary(level, members, masks, result, self.model, time.time() - started,
                                  self.config.training.iterations)
        store.write_json(paths.level_summary(rd, level), summary)  # last: marks the level finished
        store.write_status(rd, levels_done=len(store.finished_levels(rd)))
        log.info("level %d done in %.1fs", level, time.time() - started)

    def write_plan(self, result, dense_final: models.Params) -> None:
        """What later levels and the pruning lab need from level 0."""
        cfg, e = self.config.pruning, self.config.experiment
        dense = pruning.dense_masks(self.model, len(self.trials), self.device)
        arrays = {}
        if e.one_shot:
            layer_counts = pruning.layer_ladder(self.model, cfg, e.levels)
            totals = pruning.ladder(self.model, cfg, e.levels)
            for level in range(1, e.levels + 1):
                target = totals[level] if cfg.strategy == "global" else layer_counts[level]
                shot = pruning.magnitude_prune(self.model, dense_final, dense, cfg, target)
                for t in self.trials:
                    for n, m in shot.items():
                        arrays[f"one_shot_{level}/{t}/0/{n}"] = store.pack_mask(m[t].cpu().numpy())
        if result.snapshot is not None:
            for n, p in result.snapshot.items():
                arrays[f"rewind/{n}"] = p[: len(self.trials)].cpu().numpy()
        store.write_npz(paths.plan_file(self.run_dir), arrays)
        store.write_npz(paths.dense_weights(self.run_dir),
                        {n: p[0].cpu().numpy() for n, p in dense_final.items()})
        store.write_parquet(paths.prune_curve(self.run_dir),
                            records.prune_curve(self.model, dense_final, self.data, cfg))
