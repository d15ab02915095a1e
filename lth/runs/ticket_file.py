"""A ticket out of the store as a PyTorch file: the weights it starts training from and its mask, in the form
torch.nn.utils.prune gives a pruned module.

For every pruned layer, "<layer>.weight_orig" (the starting weights: θ0, or θk when the run rewinds to iteration
k; a reinit control's own fresh draw) and "<layer>.weight_mask" (1 kept, 0 pruned, float32 as prune makes it);
every other parameter and batch-norm running average as a plain tensor under its own name. The file is a flat
dict of tensors: torch.save (read with torch.load(..., weights_only=True)) or safetensors. Beside it,
"<file>.json" says what it holds: run, level, trial, arm, weights remaining, rewind point, pruned layers.

`load_into` puts one into a fresh module: prune.custom_from_mask on each pruned layer, then load_state_dict.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune

from ..core import arms, store
from ..core.config import ConfigError
from ..core.seeds import Streams
from ..engine import models
from ..tickets import lottery
from . import results

FORMATS = ("torch", "safetensors")


def ticket_state(run: results.Run, level: int, trial: int = 0, arm: str = "ticket", copy: int = 0,
                 model: models.Model | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """The ticket's tensors in prune's form and what they are; ConfigError naming a level, trial or arm the run
    does not have. `model`: the run's network built (needed for a module given in Python; built from its name
    otherwise)."""
    masks = _mask(run, level, trial, arm, copy)
    model = model or models.build(run.config.model.model, run.input_shape, run.num_classes)
    weights = _starting_weights(run, model, level, trial, arm, copy)
    state = {}
    for name, value in weights.items():
        layer = name.removesuffix(".weight")
        if name.endswith(".weight") and layer in masks:
            state[f"{layer}.weight_orig"] = value.contiguous()
            state[f"{layer}.weight_mask"] = torch.from_numpy(masks[layer].astype(np.float32))
        else:
            state[name] = value.contiguous()
    kept = sum(int(m.sum()) for m in masks.values())
    total = sum(m.size for m in masks.values())
    meta = {"run_id": run.run_id, "model": run.config.model.model, "level": level, "trial": trial, "arm": arm,
            "copy": copy, "remaining": kept / total, "weights_kept": kept, "prunable_weights": total,
            "starts_from": _starts_from(run, level, arm), "pruned_layers": sorted(masks)}
    return state, meta


def write(state: dict[str, torch.Tensor], meta: dict, out: Path, fmt: str) -> Path:
    """The file (torch or safetensors) and its .json beside it, each written whole or not at all."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format={fmt!r} is not allowed: choose one of {', '.join(FORMATS)}")
    out = Path(out)
    if not out.parent.is_dir():
        raise ConfigError(f"{out.parent} is not a folder: the ticket's file goes into an existing one")
    tmp = out.with_name(out.name + ".partial")
    try:
        if fmt == "torch":
            torch.save(state, tmp)
        else:
            from safetensors.torch import save_file

            save_file(state, str(tmp), metadata={k: json.dumps(v) for k, v in meta.items()})
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    store.write_json(out.with_name(out.name + ".json"), meta | {"format": fmt})
    return out


def read(path: Path) -> dict[str, torch.Tensor]:
    """An exported ticket's tensors, either format."""
    if Path(path).suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return torch.load(path, weights_only=True)


def load_into(module: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    """`module` pruned as the ticket is (prune.custom_from_mask per pruned layer) and loaded with its weights."""
    for key, mask in state.items():
        if key.endswith(".weight_mask"):
            layer = module.get_submodule(key.removesuffix(".weight_mask"))
            if not hasattr(layer, "weight_mask"):
                prune.custom_from_mask(layer, "weight", mask)
    module.load_state_dict(state)
    return module


# --- what the ticket is made of --------------------------------------------------------------------------------
def _mask(run: results.Run, level: int, trial: int, arm: str, copy: int) -> dict[str, np.ndarray]:
    e = run.config.experiment
    if level not in run.levels:
        done = ", ".join(map(str, run.levels)) or "none yet"
        raise ConfigError(f"--level={level} is not allowed: run {run.run_id} has levels {done}")
    if not 0 <= trial < e.trials or (level, trial) not in run.units:
        raise ConfigError(f"--trial={trial} is not allowed: level {level} of run {run.run_id} has trials "
                          f"{', '.join(str(t) for lv, t in sorted(run.units) if lv == level)}")
    stored = run.masks(level)
    held = sorted(a for a in {a for a, t, _ in stored if t == trial} | ({"reinit"} if e.reinit and level else set())
                  if a in arms.REGISTRY)  # not "next", the next level's mask kept with this one
    if arm.startswith("slim"):
        raise ConfigError(f"--arm={arm!r}: network slimming's networks are not exported yet (they need their "
                          f"channel plan); choose one of {', '.join(a for a in held if not a.startswith('slim'))}")
    if arm not in arms.REGISTRY or arm not in held:
        raise ConfigError(f"--arm={arm!r} is not allowed: level {level} of trial {trial} has {', '.join(held)}")
    copies = arms.get(arm).copies(e)
    if not 0 <= copy < copies:
        raise ConfigError(f"--copy={copy} is not allowed: {arm} is drawn {copies} time(s) a level in this run "
                          f"(copies 0-{copies - 1})")
    source = arm if arms.get(arm).stores_mask else next(a.name for a in arms.REGISTRY.values()
                                                       if a.mask == arms.get(arm).mask and a.stores_mask)
    key = (source, trial, copy if source == arm else 0)
    if key not in stored:
        raise ConfigError(f"--copy={copy} is not allowed: {arm} at level {level} has copies "
                          f"{', '.join(str(c) for a, t, c in sorted(stored) if a == source and t == trial)}")
    return stored[key]


def _starting_weights(run: results.Run, model: models.Model, level: int, trial: int, arm: str, copy: int
                      ) -> dict[str, torch.Tensor]:
    """The weights the arm trained from at this level, as lottery.Lottery.starting_weights draws them."""
    streams = Streams(run.config.experiment.seed)
    if arms.get(arm).init == "fresh":
        params = model.init([streams.member(arm, trial, level, copy)])
    elif level == 0:
        params = model.init([streams.init(trial)])
    else:
        params = lottery.rewind_point(run.path, run.config, model, streams, [trial], "cpu")
    return {n: p[0].detach().cpu() for n, p in params.items()}


def _starts_from(run: results.Run, level: int, arm: str) -> str:
    if arms.get(arm).init == "fresh":
        return "a fresh initialisation (the control's own draw)"
    k = run.config.pruning.rewind_iteration
    return f"θk, the dense network at iteration {k}" if k and level > 0 else "θ0, the initialisation"
