"""`lth.find_tickets`: iterative magnitude pruning with its controls on any torch.nn.Module and any tensors.

The module and the data become a run like any other: a config (the module and the data named by fingerprints,
so a different network or data set never resumes another's run), stored in the usual folder of `runs_dir`, that
`lth show`, `lth export` and the app (LTH_RUNS_DIR) open. Calling again with the same module, data and options
opens the run, or finishes it where it stopped. Every option is a config field, by its name:

    run = find_tickets(net, train=(x, y), val=(xv, yv), test=(xt, yt), levels=5, iterations=2000,
                       runs_dir="runs", lr=1e-3, strategy="global", rewind_iteration=100)
    run.summary()                      # one row per level, trial and arm
    pruned = run.ticket(level=5)       # your module, pruned as the ticket (torch.nn.utils.prune) at θ0
    run.export_ticket(5, "ticket.safetensors")
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
from torch import nn

from ..core.config import SECTIONS, Config
from ..engine import foreign, own_data
from ..runs import results, tables, ticket_file
from ..tickets import execution, lottery

RUN_OPTIONS = {f.name for f in dataclasses.fields(execution.RunOptions)} - {"data_dir", "download"}
SET_HERE = {"dataset", "model", "validation_size", "split_seed", "synthetic_shape", "synthetic_train",
            "synthetic_test", "input_scaling"}  # the data and the network are the call's own


@dataclass(frozen=True)
class TicketRun:
    """A finished (or opened) run of a module: its folder in the store and the network that trained."""
    run_dir: Path
    network: foreign.ForeignModel

    @property
    def run(self) -> results.Run:
        return results.Run(self.run_dir)

    def summary(self) -> pd.DataFrame:
        """One row per level, trial, arm and control copy: early-stop iteration, accuracies, weights remaining."""
        return self.run.summary()

    def table(self, metric: str = "test_acc_at_early_stop") -> pd.DataFrame:
        """Per level, each arm's mean early-stop iteration and accuracy: what `lth show` prints."""
        return tables.level_table(self.run, metric)

    def ticket(self, level: int, trial: int = 0, arm: str = "ticket", copy: int = 0) -> nn.Module:
        """A copy of the module pruned as this level's ticket (prune.custom_from_mask), with the weights it starts
        training from (θ0, or θk when the run rewinds)."""
        state, _ = ticket_file.ticket_state(self.run, level, trial, arm, copy, self.network)
        fresh = foreign.copy.deepcopy(self.network.module)
        return ticket_file.load_into(fresh, state)

    def export_ticket(self, level: int, out: str | Path, trial: int = 0, arm: str = "ticket", copy: int = 0,
                      format: str | None = None) -> Path:
        """The ticket as a file (torch, or safetensors for a .safetensors name) and its .json; the path."""
        state, meta = ticket_file.ticket_state(self.run, level, trial, arm, copy, self.network)
        fmt = format or ("safetensors" if str(out).endswith(".safetensors") else "torch")
        return ticket_file.write(state, meta, Path(out), fmt)


def find_tickets(model: nn.Module, train, val, test, *, levels: int = 3, iterations: int = 2000,
                 runs_dir: str | Path = "runs", prunable: list[str] | None = None,
                 init: Callable[[nn.Module], None] | None = None, **options) -> TicketRun:
    """IMP on `model` with its controls: the ticket, random reinitialisation and random pruning (and one-shot),
    `levels` levels of `iterations` iterations each, early stop by the lowest validation loss.

    train, val, test: (x, y) tensors (x float, y class numbers) or torch Datasets of (x, y) items.
    prunable: module paths of the Linear/Conv layers to prune (default: all of them; the last Linear is the output
    layer, pruned at rate_output). init: how a trial's θ0 is drawn from the module (default: every submodule's
    reset_parameters(), under the trial's seed). options: any config field (lr, batch_size, eval_every,
    optimizer, strategy, rate_fc, rate_conv, rate_output, rate_global, rewind_iteration, trials, seed, reinit,
    random_prune, one_shot, label, ...) and device, progress, trials_together."""
    fixed = sorted(SET_HERE & set(options))
    if fixed:
        raise TypeError(f"find_tickets() sets {', '.join(fixed)} itself, from the model and the data it is given")
    run_options = {k: options.pop(k) for k in list(options) if k in RUN_OPTIONS}
    data = own_data.register(train, val, test)
    name = foreign.register(model, init, prunable)
    dataset = own_data.registered(data)
    config = build_config(options | {"levels": levels, "iterations": iterations, "dataset": data, "model": name,
                                     "validation_size": len(dataset.x_val)})
    run_dir = lottery.run(config, Path(runs_dir).resolve(), execution.RunOptions(**run_options))
    return TicketRun(run_dir, foreign.build(name, dataset.input_shape, dataset.num_classes))


def build_config(values: dict) -> Config:
    """A Config from field names, each into its section; TypeError naming an unknown one."""
    sections = {name: {} for name in SECTIONS}
    owner = {f.name: name for name, cls in SECTIONS.items() for f in dataclasses.fields(cls)}
    for key, value in values.items():
        if key not in owner:
            allowed = sorted((set(owner) - SET_HERE) | RUN_OPTIONS)
            raise TypeError(f"find_tickets() got an unknown option {key!r}; allowed: {', '.join(allowed)}")
        sections[owner[key]][key] = value
    return Config(**{name: cls(**sections[name]) for name, cls in SECTIONS.items()})
