"""Iterative magnitude pruning with its controls, one (level, trial) unit at a time, resumable.

Level 0 trains each trial's dense network. Level L >= 1 trains, for a trial:
the ticket (mask from pruning its level L-1 ticket, survivors rewound),
random-reinit controls (same mask, fresh init), random-prune controls (same
per-layer counts, random mask, rewound init) and the one-shot ticket (the
trained dense net pruned straight to level L's sparsity).

Trials are independent chains, so they run trial-major in cohorts that fill
one training stack: a cohort's trials go through every level before the next
cohort starts, and the first trial's full sparsity curve exists early. A unit
is skipped when its summary exists, so a killed run resumes where it stopped
and ends with the same numbers.

Each level is the paper's loop: every member's starting weights (rewinding) and
mask, one training, then per trial the ticket pruned to the next level's mask
and the unit recorded. How the run is executed (its folder, lock, status,
progress, execution settings) is lth.tickets.execution's; network slimming's
part is lth.tickets.slimming_arms'.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from pathlib import Path

import torch

from ..core import arms, devices, paths, store
from ..core.config import Config
from ..core.seeds import Streams
from ..engine import data as data_mod
from ..engine import models, pruning
from ..engine.train import TrainResult, train
from . import execution, records, slimming_arms
from . import masks as mask_fns
from .masks import Member

log = logging.getLogger("lth")


def run(config: Config, runs_dir: Path, options: execution.RunOptions = execution.RunOptions()) -> Path:
    """Compute (or finish, or just open) the run of `config`; returns its folder."""
    device = devices.resolve(options.device)
    run_dir, dataset = execution.open_run(config, runs_dir, options, device)

    def imp() -> Lottery | None:
        if store.is_complete(run_dir, config):
            write_prune_curves(run_dir, config, dataset, device, range(config.experiment.trials))  # killed before
            return None
        return Lottery(config, run_dir, dataset, device, options.progress, options.trials_together)

    return execution.compute(run_dir, device, imp)


def members(config: Config, level: int, trials: list[int]) -> list[Member]:
    """Each trial's models at a level, trial by trial in registry order; level 0 trains only the dense nets (IMP's,
    and with slimming, the one trained with slimming's penalty): the other arms' curves start at one of them."""
    e = config.experiment
    return [Member(t, name, copy) for t in trials for name in arms.in_run(config)
            if level > 0 or not arms.from_dense(name) for copy in range(arms.get(name).copies(e))]


def rewind_point(run_dir: Path, config: Config, model: models.Model, streams: Streams, trials: list[int],
                 device) -> models.Params:
    """The weights a trial's later levels start from, stacked per trial: θ0, or the θk its level 0 saved when the
    run rewinds to iteration k."""
    theta0 = model.init([streams.init(t) for t in trials], device)
    if config.pruning.rewind_iteration == 0:
        return theta0
    plans = [store.read_npz(paths.plan_file(run_dir, t)) for t in trials]
    return {n: torch.stack([torch.from_numpy(p[f"rewind/{n}"]) for p in plans]).to(device) for n in theta0}


class Lottery:
    def __init__(self, config: Config, run_dir: Path, dataset: data_mod.Dataset, device, show_progress=True,
                 trials_together: int | None = None):
        self.config = config
        self.run_dir = run_dir
        self.data = dataset
        self.device = device
        self.model = models.build(config.model.model, dataset.input_shape, dataset.num_classes)
        self.streams = Streams(config.experiment.seed)
        self.slimming = None
        if config.experiment.slimming:
            self.slimming = slimming_arms.Slimming(run_dir, self.model, dataset, config.pruning, device)
        choose = partial(execution.settings, self.model, device, config.training.batch_size,
                         len(self.members(1, [0])), trials_together)
        chosen, why = execution.kept_settings(run_dir, device.type, choose)
        self.stack_size = chosen["stack"]
        self.trials_together = chosen["trials_together"]
        self.threads = chosen.get("threads")
        # what every unit's summary says trained it: the device and the execution settings
        self.trained_with = {"device": devices.describe(device), "stack": self.stack_size,
                             "trials_together": self.trials_together}
        log.info("training up to K=%d models at once (%s); %d trial(s) at a time", self.stack_size, why,
                 self.trials_together)
        self.progress = execution.Progress(run_dir, self.model_iterations_left(), show_progress)
        # run() measures the prune curves after a cohort's last level, off the path to the first level's result (a
        # class watching IMP live sees level 0 a second sooner); a level run alone (a cluster's task) measures them
        # at level 0. The files are the same either way.
        self.curves_after_levels = False
        self.dense_finals: dict[int, models.Params] = {}  # trained dense networks whose prune curve is pending

    # --- what is left to do --------------------------------------------------------------
    def members(self, level: int, trials: list[int]) -> list[Member]:
        return members(self.config, level, trials)

    def todo(self) -> list[tuple[int, int]]:
        done = store.finished_units(self.run_dir)
        e = self.config.experiment
        return [(lv, t) for t in range(e.trials) for lv in range(e.levels + 1) if (lv, t) not in done]

    def model_iterations_left(self) -> int:
        return sum(len(self.members(lv, [t])) for lv, t in self.todo()) * self.config.training.iterations

    def cohorts(self) -> list[list[int]]:
        """Trials that go through the levels together."""
        trials = list(range(self.config.experiment.trials))
        return [trials[i:i + self.trials_together] for i in range(0, len(trials), self.trials_together)]

    # --- IMP, level by level ------------------------------------------------------------
    def run(self) -> None:
        """Cohort after cohort, each cohort's trials through every level; a finished unit is skipped."""
        todo = set(self.todo())
        self.curves_after_levels = True
        for trials in self.cohorts():
            for level in range(self.config.experiment.levels + 1):
                pending = [t for t in trials if (level, t) in todo]
                if pending:
                    self.run_level(level, pending)
            write_prune_curves(self.run_dir, self.config, self.data, self.device, trials, self.dense_finals)
        self.progress.close()

    def run_level(self, level: int, trials: list[int]) -> None:
        """One level of these trials: every member's starting weights and mask, trained; then, trial by trial, the
        ticket pruned to the next level's mask and the unit recorded."""
        if self.threads and self.threads != torch.get_num_threads():
            torch.set_num_threads(self.threads)  # the run's execution settings, here or on a cluster's worker
        started = time.time()
        members = self.members(level, trials)
        weights = self.starting_weights(level, members, trials)
        masks = self.masks(level, members, trials)
        result = self.train_members(level, members, weights, masks)
        seconds = (time.time() - started) / len(trials)
        for trial in trials:
            unit = records.Unit.of(level, trial, members, weights, masks, result, seconds)
            next_masks = {"next": self.prune(unit)}  # stored as the next level's ticket under this key
            if level == 0:  # the trained dense network, pruned one-shot to every level; the late rewind point
                self.write_plan(unit, self.one_shot(unit))
            summary = self.summary(unit)
            if self.slimming:  # the fine-tuned network kept, what each network costs, the next slimmed mask
                next_masks["slim_next"] = self.slimming.level_done(unit, summary)
            self.record(unit, summary, next_masks)
        log.info("level %d, trial(s) %s done in %.1fs", level, trials, time.time() - started)

    def starting_weights(self, level: int, members: list[Member], trials: list[int]) -> models.Params:
        """Each member's weights before training (rewinding): level 0 trains from θ0 and is where a late rewind
        point θk is taken; later levels rewind to the rewind point. An arm with a fresh init starts from its own
        draw, slimming's fine-tuned arm from its own network of the level before."""
        rewind = self.theta0(trials) if level == 0 else self.rewind_point(trials)
        params = []
        for m in members:
            init = arms.get(m.arm).init
            if init == "fresh":
                params.append(self.model.init([self.streams.member(m.arm, m.trial, level, m.copy)], self.device))
            elif init == "finetune" and level > 0:
                params.append(self.slimming.fine_tuned(level, m.trial))
            else:
                i = trials.index(m.trial)
                params.append({n: p[i:i + 1] for n, p in rewind.items()})
        return {n: torch.cat([p[n] for p in params]) for n in params[0]}

    def masks(self, level: int, members: list[Member], trials: list[int]) -> pruning.Masks:
        """Each member's mask at this level, from its arm's mask function (lth.tickets.masks)."""
        at = mask_fns.Level(self.model, level, trials, self.ticket_masks(level, trials),
                            partial(self.one_shot_masks, level, trials), self.streams, self.device,
                            partial(self.previous_masks, level, trials))
        return pruning.concat([mask_fns.make(arms.get(m.arm).mask, at, m) for m in members])

    def train_members(self, level: int, members: list[Member], weights: models.Params, masks: pruning.Masks
                      ) -> TrainResult:
        """The members trained with the run's protocol, at most `stack_size` at once; level 0 keeps θk when the
        run rewinds late, and structured arms train with network slimming's penalty."""
        cfg = self.config
        rewind_at = cfg.pruning.rewind_iteration if level == 0 and cfg.pruning.rewind_iteration else None
        chunks = []
        for start in range(0, len(members), self.stack_size):
            part = slice(start, start + self.stack_size)
            self.progress.start_level(level, len(members[part]))
            order_keys = [self.order_key(level, m) for m in members[part]]
            penalty = self.slimming.penalty(members[part]) if self.slimming else None
            chunks.append(train(self.model, {n: p[part] for n, p in weights.items()}, pruning.select(masks, part),
                                self.data, cfg.training, order_keys=order_keys, snapshot_at=rewind_at,
                                hooks=self.progress.hooks, penalty=penalty))
        return TrainResult.concat(chunks)

    def order_key(self, level: int, m: Member) -> tuple:
        return self.streams.run_order_key(self.config.training.data_order, m.trial, level, m.arm, m.copy)

    def prune(self, unit: records.Unit) -> pruning.Masks:
        """The next level's ticket: the trained ticket's surviving weights pruned by magnitude, at the run's rates."""
        ticket = unit.row("ticket")
        final = {n: p[ticket] for n, p in unit.result.final.items()}
        masks = pruning.select(unit.masks, ticket)
        cfg = self.config.pruning
        return pruning.magnitude_prune(self.model, final, masks, cfg, pruning.next_target(self.model, cfg, masks))

    def one_shot(self, unit: records.Unit) -> dict[int, pruning.Masks]:
        """One-shot pruning: level 0's trained dense network pruned straight to each level's sparsity, by level
        (none when the run has no one-shot arm)."""
        cfg = self.config.pruning
        e = self.config.experiment
        if not e.one_shot:
            return {}
        dense_final = {n: p[unit.row("ticket")] for n, p in unit.result.final.items()}
        dense = pruning.dense_masks(self.model, 1, self.device)
        layer_counts = pruning.layer_ladder(self.model, cfg, e.levels)
        totals = pruning.ladder(self.model, cfg, e.levels)
        shots = {}
        for level in range(1, e.levels + 1):
            target = totals[level] if cfg.strategy == "global" else layer_counts[level]
            shots[level] = pruning.magnitude_prune(self.model, dense_final, dense, cfg, target)
        return shots

    # --- recording ----------------------------------------------------------------------
    def summary(self, unit: records.Unit) -> dict:
        iterations = self.config.training.iterations
        summary = records.summary(unit.level, unit.members, unit.masks, unit.result, self.model, unit.seconds,
                                  iterations)
        summary["execution"] = self.trained_with
        return summary

    def record(self, unit: records.Unit, summary: dict, next_masks: dict[str, pruning.Masks]) -> None:
        """Everything one trial's level records, with the masks the next level starts from; its summary last."""
        ticket = unit.row("ticket")
        ticket_masks = pruning.select(unit.masks, ticket)
        start = {n: p[ticket] for n, p in unit.start.items()}
        final = {n: p[ticket] for n, p in unit.result.final.items()}
        hist, stats = records.weight_movement(self.model, start, final, ticket_masks, next_masks["next"],
                                              [unit.trial])
        entries = records.mask_entries(unit.members, unit.masks)
        for key, masks in next_masks.items():
            entries[(key, unit.trial, 0)] = {n: m[0].cpu().numpy() for n, m in masks.items()}
        curves = records.curves_frame(unit.level, unit.members, unit.result)
        tables = {paths.unit_weight_hist: hist, paths.unit_weight_stats: stats}
        records.write_unit(self.run_dir, unit.level, unit.trial, self.model, curves, entries, summary, tables)

    def write_plan(self, unit: records.Unit, one_shot: dict[int, pruning.Masks]) -> None:
        """What a trial's later levels and the pruning lab need from its level 0: one-shot's masks, the rewind
        point θk (late rewinding), trial 0's trained dense network, and the prune curve (under run(), the trained
        dense network it is measured on after the levels, kept until then)."""
        trial = unit.trial
        ticket = unit.row("ticket")
        dense_final = {n: p[ticket] for n, p in unit.result.final.items()}
        arrays = {}
        for level, shot in one_shot.items():
            entry = {(f"one_shot_{level}", trial, 0): {n: m[0].cpu().numpy() for n, m in shot.items()}}
            arrays.update(store.pack_masks(entry))
        if unit.result.snapshot is not None:
            for n, p in unit.result.snapshot.items():
                arrays[f"rewind/{n}"] = p[ticket[0]].cpu().numpy()
        store.write_npz(paths.plan_file(self.run_dir, trial), arrays)
        if trial == 0:
            store.write_npz(paths.dense_weights(self.run_dir), {n: p[0].cpu().numpy() for n, p in dense_final.items()})
        if self.curves_after_levels:  # kept for write_prune_curves, on disk too: a killed run resumed ends with it
            self.dense_finals[trial] = dense_final
            store.write_npz(paths.pending_dense(self.run_dir, trial), {n: p[0].cpu().numpy()
                                                                       for n, p in dense_final.items()})
        else:
            write_prune_curve(self.run_dir, self.config, self.data, self.model, trial, dense_final)

    # --- what earlier levels saved ------------------------------------------------------
    def theta0(self, trials: list[int]) -> models.Params:
        return self.model.init([self.streams.init(t) for t in trials], self.device)

    def rewind_point(self, trials: list[int]) -> models.Params:
        return rewind_point(self.run_dir, self.config, self.model, self.streams, trials, self.device)

    def saved_masks(self, trials: list[int], path_of, key_of) -> pruning.Masks:
        shapes = {layer.name: layer.weight_shape for layer in self.model.layers}
        per_trial = [store.read_masks(path_of(t), shapes)[key_of(t)] for t in trials]
        return {n: torch.stack([torch.from_numpy(m[n]) for m in per_trial]).to(self.device) for n in per_trial[0]}

    def ticket_masks(self, level: int, trials: list[int]) -> pruning.Masks:
        if level == 0:
            return pruning.dense_masks(self.model, len(trials), self.device)
        return self.previous_masks(level, trials, "next")

    def previous_masks(self, level: int, trials: list[int], key: str) -> pruning.Masks:
        """Masks the level before stored for this one under `key` (the ticket's is "next")."""
        return self.saved_masks(trials, lambda t: paths.unit_masks(self.run_dir, level - 1, t), lambda t: (key, t, 0))

    def one_shot_masks(self, level: int, trials: list[int]) -> pruning.Masks:
        return self.saved_masks(trials, lambda t: paths.plan_file(self.run_dir, t),
                                lambda t: (f"one_shot_{level}", t, 0))


# --- the pruning lab's curve: each trial's trained dense network pruned with no retraining ----------------
def write_prune_curve(run_dir: Path, config: Config, dataset: data_mod.Dataset, model: models.Model, trial: int,
                      dense_final: models.Params) -> None:
    curve = records.prune_curve(model, dense_final, dataset, config.pruning)
    store.write_parquet(paths.prune_curve(run_dir, trial), curve.assign(trial=trial))
    paths.pending_dense(run_dir, trial).unlink(missing_ok=True)


def write_prune_curves(run_dir: Path, config: Config, dataset: data_mod.Dataset, device, trials,
                       dense_finals: dict[int, models.Params] | None = None) -> None:
    """The prune curves of these trials still pending, from the trained dense networks in `dense_finals` (this
    process trained them) or kept on disk (a run killed after its level 0)."""
    dense_finals = dense_finals if dense_finals is not None else {}
    threads = store.read_execution(run_dir).get(device.type, {}).get("threads")
    if threads and threads != torch.get_num_threads():  # as the levels were trained: the same rounding
        torch.set_num_threads(threads)
    model = None
    for trial in trials:
        pending = paths.pending_dense(run_dir, trial)
        if paths.prune_curve(run_dir, trial).exists():
            pending.unlink(missing_ok=True)
            continue
        if trial not in dense_finals and not pending.exists():
            continue  # its level 0 is not trained yet
        model = model or models.build(config.model.model, dataset.input_shape, dataset.num_classes)
        dense_final = dense_finals.pop(trial, None)
        if dense_final is None:
            dense_final = {n: torch.from_numpy(w)[None].to(device) for n, w in store.read_npz(pending).items()}
        write_prune_curve(run_dir, config, dataset, model, trial, dense_final)
