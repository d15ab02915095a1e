"""Iterative magnitude pruning with its controls, one (level, trial) unit at a time, resumable.

Level 0 trains each trial's dense network. Level L >= 1 trains, for a trial:
the ticket (mask from pruning its level L-1 ticket, survivors rewound),
random-reinit controls (same mask, fresh init), random-prune controls (same
per-layer counts, random mask, rewound init) and the one-shot ticket (the
trained dense net pruned straight to level L's sparsity).

Trials are independent chains, so they run trial-major in groups that fill
one training stack: a group's trials go through every level before the next
group starts, and the first trial's full sparsity curve exists early. A unit
is skipped when its summary exists, so a killed run resumes where it stopped
and ends with the same numbers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..core import arms, devices, paths, store
from ..core.config import Config, ConfigError
from ..core.seeds import Streams
from ..engine import data as data_mod
from ..engine import models, pruning, slimming
from ..engine.train import TrainResult, train
from . import masks as mask_fns
from . import records
from .masks import Member

log = logging.getLogger("lth")


@dataclass
class RunOptions:
    data_dir: Path = Path("data")
    device: str = "auto"
    download: bool = False
    progress: bool = True
    trials_together: int | None = None  # trials per group; None: as many as fill one stack


def run(config: Config, runs_dir: Path, options: RunOptions = RunOptions()) -> Path:
    """Compute (or finish, or just open) the run of `config`; returns its folder."""
    device = devices.resolve(options.device)
    run_dir, dataset = open_run(config, runs_dir, options, device)
    return compute(config, run_dir, device, lambda: Lottery(config, run_dir, dataset, device, options.progress,
                                                             options.trials_together).run())


def open_run(config: Config, runs_dir: Path, options: RunOptions, device) -> tuple[Path, data_mod.Dataset]:
    """The run's folder and its data set on `device`; the data set is read first, so a missing one (or a batch
    larger than it) leaves nothing behind."""
    dataset = data_mod.load(config.data, options.data_dir, device, options.download)
    if config.training.batch_size > len(dataset.x_train):
        raise ConfigError(f"--batch-size={config.training.batch_size} is not allowed: at most the "
                          f"{len(dataset.x_train)} training examples of {config.data.dataset}")
    return store.create(runs_dir, config, dataset.input_shape, dataset.num_classes), dataset


def compute(config: Config, run_dir: Path, device, body) -> Path:
    """`body` computes the run's missing units (here, or on a cluster) under the run's lock, with its status."""
    with store.lock(run_dir):
        if store.is_complete(run_dir, config):
            store.write_status(run_dir, state="done")
            return run_dir
        paths.cancel_file(run_dir).unlink(missing_ok=True)
        with records.computing(run_dir, device):
            body()
    return run_dir


def members(config: Config, level: int, trials: list[int]) -> list[Member]:
    """Each trial's models at a level, trial by trial in registry order; level 0 trains only the dense nets (IMP's,
    and with slimming, the one trained with slimming's penalty): the other arms' curves start at one of them."""
    e = config.experiment
    return [Member(t, name, r) for t in trials for name in arms.in_run(config)
            if level > 0 or not arms.from_dense(name) for r in range(arms.get(name).count(e))]


def grouping(model: models.Model, device, batch: int, per_trial: int, trials_together: int | None = None
             ) -> tuple[dict, str]:
    """How a new run groups its models on `device` (stack size, trials at a time; on a CPU, threads), and why."""
    stack, why = devices.stack_size(model, device, batch)
    chosen = {"stack": stack, "trials_together": trials_together or max(1, stack // per_trial)}
    if device.type == "cpu":
        chosen["threads"] = torch.get_num_threads()
    return chosen, why


def rewind_point(run_dir: Path, config: Config, model: models.Model, streams: Streams, trials: list[int],
                 device) -> models.Params:
    """The weights a trial's later levels start from, stacked per trial: θ0, or the θk its level 0 saved when the
    run rewinds to iteration k."""
    theta0 = model.init([streams.init(t) for t in trials], device)
    if config.pruning.rewind_iteration == 0:
        return theta0
    plans = [store.read_npz(paths.plan_file(run_dir, t)) for t in trials]
    return {n: torch.stack([torch.from_numpy(p[f"rewind/{n}"]) for p in plans]).to(device) for n in theta0}


def cancel(run_dir: Path) -> None:
    paths.cancel_file(run_dir).touch()


class Lottery:
    def __init__(self, config: Config, run_dir: Path, dataset: data_mod.Dataset, device, show_progress=True,
                 trials_together: int | None = None):
        self.config, self.run_dir, self.data, self.device = config, run_dir, dataset, device
        self.model = models.build(config.model.model, dataset.input_shape, dataset.num_classes)
        self.streams = Streams(config.experiment.seed)
        # Batched matrix products may sum in another order for another stack size (and, on a CPU, another
        # thread count), so a run keeps the grouping it started with on this device type: resumed, here or on a
        # cluster's worker, it ends with the numbers an uninterrupted run would have. On another device type the
        # numbers differ anyway, so there it takes that device's grouping; every unit's summary says which device
        # and grouping trained it.
        saved = store.read_execution(run_dir)
        if device.type in saved:
            chosen, why = saved[device.type], f"the run's saved grouping on {device.type}"
        else:
            if saved:
                log.warning("this run's earlier units trained on %s; the rest train on %s, whose rounding differs",
                            ", ".join(saved), device.type)
            chosen, why = grouping(self.model, device, config.training.batch_size, len(self.members(1, [0])),
                                   trials_together)
            saved[device.type] = chosen
            store.write_json(paths.execution_file(run_dir), saved)
        self.stack, self.together, self.threads = chosen["stack"], chosen["trials_together"], chosen.get("threads")
        self.execution = {"device": devices.describe(device), "stack": self.stack, "trials_together": self.together}
        log.info("training up to K=%d models at once (%s); %d trial(s) at a time", self.stack, why, self.together)
        self.progress = records.Progress(run_dir, self.model_iterations_left(), show_progress)

    # --- the plan ---------------------------------------------------------------------
    def members(self, level: int, trials: list[int]) -> list[Member]:
        return members(self.config, level, trials)

    def todo(self) -> list[tuple[int, int]]:
        done = store.finished_units(self.run_dir)
        e = self.config.experiment
        return [(lv, t) for t in range(e.trials) for lv in range(e.levels + 1) if (lv, t) not in done]

    def model_iterations_left(self) -> int:
        return sum(len(self.members(lv, [t])) for lv, t in self.todo()) * self.config.training.iterations

    def groups(self) -> list[list[int]]:
        """Trials that go through the levels together."""
        trials = list(range(self.config.experiment.trials))
        return [trials[i:i + self.together] for i in range(0, len(trials), self.together)]

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

    # --- running ----------------------------------------------------------------------
    def run(self) -> None:
        todo = set(self.todo())
        for trials in self.groups():
            for level in range(self.config.experiment.levels + 1):
                pending = [t for t in trials if (level, t) in todo]
                if pending:
                    self.run_level(level, pending)
        self.progress.close()

    def stack_for(self, level: int, members: list[Member], trials: list[int]):
        # Level 0 trains from θ0 and is where a late-rewinding point θk is taken; later levels rewind to it.
        rewind = self.theta0(trials) if level == 0 else self.rewind_point(trials)
        at = mask_fns.Level(self.model, level, trials, self.ticket_masks(level, trials),
                            lambda: self.one_shot_masks(level, trials), self.streams, self.device,
                            lambda key: self.previous_masks(level, trials, key))
        params, masks = [], []
        for m in members:
            arm = arms.get(m.arm)
            if arm.init == "fresh":
                params.append(self.model.init([self.streams.member(m.arm, m.trial, level, m.replicate)], self.device))
            elif arm.init == "finetune" and level > 0:  # its own trained network of the level before
                saved = store.read_npz(paths.unit_slim_weights(self.run_dir, level - 1, m.trial))
                params.append({n: torch.from_numpy(v[None]).to(self.device) for n, v in saved.items()})
            else:
                params.append({n: p[at.index(m)] for n, p in rewind.items()})
            masks.append(mask_fns.make(arm.mask, at, m))
        return {n: torch.cat([p[n] for p in params]) for n in params[0]}, pruning.stack(masks)

    def order_key(self, level: int, m: Member) -> tuple:
        return self.streams.run_order_key(self.config.training.data_order, m.trial, level, m.arm, m.replicate)

    def run_level(self, level: int, trials: list[int]) -> None:
        if self.threads and self.threads != torch.get_num_threads():
            torch.set_num_threads(self.threads)  # the run's grouping (see __init__), here or on a cluster's worker
        started = time.time()
        members = self.members(level, trials)
        params, masks = self.stack_for(level, members, trials)
        rewind_at = self.config.pruning.rewind_iteration if level == 0 and self.config.pruning.rewind_iteration else None
        chunks = []
        for start in range(0, len(members), self.stack):
            part = slice(start, start + self.stack)
            self.progress.start_level(level, len(members[part]))
            chunks.append(train(self.model, {n: p[part] for n, p in params.items()}, pruning.select(masks, part),
                                self.data, self.config.training, order_keys=[self.order_key(level, m) for m in members[part]],
                                snapshot_at=rewind_at, hooks=self.progress.hooks, penalty=self.penalty(members[part])))
        result = TrainResult.concat(chunks)
        seconds = (time.time() - started) / len(trials)
        for t in trials:
            rows = [i for i, m in enumerate(members) if m.trial == t]
            self.write_unit(level, t, [members[i] for i in rows], {n: p[rows] for n, p in params.items()},
                            pruning.select(masks, rows), result.select(rows), seconds)
        log.info("level %d, trial(s) %s done in %.1fs", level, trials, time.time() - started)

    def penalty(self, members: list[Member]) -> slimming.Penalty | None:
        """Network slimming's L1 penalty for the stack's structured arms (None in a run without them)."""
        rows = [arms.get(m.arm).kind == "structured" for m in members]
        return slimming.Penalty(rows, self.config.pruning.slim_l1) if any(rows) else None

    def write_unit(self, level: int, trial: int, members: list[Member], params: models.Params,
                   masks: pruning.Masks, result: TrainResult, seconds: float) -> None:
        """Everything one trial's level records; its summary last."""
        ticket = [members.index(Member(trial, "ticket", 0))]
        ticket_final = {n: p[ticket] for n, p in result.final.items()}
        ticket_masks = pruning.select(masks, ticket)
        cfg, rd = self.config.pruning, self.run_dir
        next_masks = pruning.magnitude_prune(self.model, ticket_final, ticket_masks, cfg,
                                             pruning.next_target(self.model, cfg, ticket_masks))
        if level == 0:
            self.write_plan(trial, result, ticket_final)
        hist, stats = records.weight_movement(self.model, {n: p[ticket] for n, p in params.items()}, ticket_final,
                                              ticket_masks, next_masks, [trial])
        summary = records.summary(level, members, masks, result, self.model, seconds, self.config.training.iterations)
        summary["execution"] = self.execution
        entries = records.mask_entries(members, masks)
        entries[("next", trial, 0)] = {n: m[0].cpu().numpy() for n, m in next_masks.items()}  # the next level's ticket
        if self.config.experiment.slimming:
            entries[("slim_next", trial, 0)] = self.slim(level, trial, members, masks, result, summary)
        records.write_unit(rd, level, trial, self.model, records.curves_frame(level, members, result), entries, summary,
                           {paths.unit_weight_hist: hist, paths.unit_weight_stats: stats})

    def slim(self, level: int, trial: int, members: list[Member], masks: pruning.Masks, result: TrainResult,
             summary: dict) -> dict:
        """Network slimming's part of a unit: the fine-tuned network kept for the next level to start from, what
        each structured arm and the ticket cost (parameters, FLOPs, measured inference time) in the summary's rows,
        and the next level's slimmed mask (returned, to store with the unit's masks)."""
        row = members.index(Member(trial, "slim_finetune", 0))
        tuned = {n: p[row:row + 1] for n, p in result.final.items()}
        store.write_npz(paths.unit_slim_weights(self.run_dir, level, trial), {n: p[0].cpu().numpy() for n, p in tuned.items()})
        records.add_costs(self.model, members, masks, result.final, self.data, summary)
        channels = slimming.next_channels(self.model, tuned, slimming.channels_of(self.model, pruning.select(masks, [row])),
                                          self.config.pruning.slim_rate)
        return {n: m[0].cpu().numpy() for n, m in slimming.weight_masks(self.model, channels).items()}

    def write_plan(self, trial: int, result: TrainResult, dense_final: models.Params) -> None:
        """What a trial's later levels and the pruning lab need from its level 0."""
        cfg, e = self.config.pruning, self.config.experiment
        dense = pruning.dense_masks(self.model, 1, self.device)
        arrays = {}
        if e.one_shot:
            layer_counts = pruning.layer_ladder(self.model, cfg, e.levels)
            totals = pruning.ladder(self.model, cfg, e.levels)
            for level in range(1, e.levels + 1):
                target = totals[level] if cfg.strategy == "global" else layer_counts[level]
                shot = pruning.magnitude_prune(self.model, dense_final, dense, cfg, target)
                arrays.update(store.pack_masks({(f"one_shot_{level}", trial, 0): {n: m[0].cpu().numpy()
                                                                                 for n, m in shot.items()}}))
        if result.snapshot is not None:
            for n, p in result.snapshot.items():  # level 0 trains only this trial's ticket
                arrays[f"rewind/{n}"] = p[0].cpu().numpy()
        store.write_npz(paths.plan_file(self.run_dir, trial), arrays)
        if trial == 0:
            store.write_npz(paths.dense_weights(self.run_dir), {n: p[0].cpu().numpy() for n, p in dense_final.items()})
        store.write_parquet(paths.prune_curve(self.run_dir, trial),
                            records.prune_curve(self.model, dense_final, self.data, cfg).assign(trial=trial))
