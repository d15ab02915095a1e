"""Network slimming's part of an IMP run (--slimming; Liu et al. 2017, lth.engine.slimming).

Three structured arms (lth.core.arms, kind "structured") train one mask of whole channels, each with the L1
penalty on its batch-norm scales: `slim_finetune` from its own trained network of the level before (level 0:
θ0), `slim_rewind` from the ticket's rewind point, `slim_fresh` from its own draw. After a level the fine-tuned
network is kept for the next level to start from, its channels are thinned by their batch-norm scales into the
next level's slimmed mask, and each structured arm's and the ticket's cost (parameters, FLOPs, measured
inference time) goes into the unit's summary.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..core import arms, paths, store
from ..core.config import PruningConfig
from ..engine import data as data_mod
from ..engine import models, pruning, slimming
from . import records
from .masks import Member


class Slimming:
    def __init__(self, run_dir: Path, model: models.Model, dataset: data_mod.Dataset, cfg: PruningConfig, device):
        self.run_dir = run_dir
        self.model = model
        self.data = dataset
        self.cfg = cfg
        self.device = device

    def penalty(self, members: list[Member]) -> slimming.Penalty | None:
        """The L1 penalty for the structured arms among `members` (None when a stack has none)."""
        rows = [arms.get(m.arm).kind == "structured" for m in members]
        return slimming.Penalty(rows, self.cfg.slim_l1) if any(rows) else None

    def fine_tuned(self, level: int, trial: int) -> models.Params:
        """Where `slim_finetune` starts at `level` >= 1: its own network the level before trained (kept there)."""
        saved = store.read_npz(paths.unit_slim_weights(self.run_dir, level - 1, trial))
        return {n: torch.from_numpy(v[None]).to(self.device) for n, v in saved.items()}

    def level_done(self, unit: records.Unit, summary: dict) -> pruning.Masks:
        """What a unit's level adds for slimming: the fine-tuned network kept for the next level to start from,
        what each structured arm and the ticket cost in the summary's rows, and the next level's slimmed mask
        (returned, to store with the unit's masks under "slim_next")."""
        row = unit.row("slim_finetune")
        tuned = {n: p[row] for n, p in unit.result.final.items()}
        weights = {n: p[0].cpu().numpy() for n, p in tuned.items()}
        store.write_npz(paths.unit_slim_weights(self.run_dir, unit.level, unit.trial), weights)
        records.add_costs(self.model, unit.members, unit.masks, unit.result.final, self.data, summary)
        channels = slimming.channels_of(self.model, pruning.select(unit.masks, row))
        thinned = slimming.next_channels(self.model, tuned, channels, self.cfg.slim_rate)
        return slimming.weight_masks(self.model, thinned)
