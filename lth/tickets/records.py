"""What a unit records: curves, summary, costs, packed masks (the one unit writer, summary last), weight
movement, and the prune curve of the pruning lab's slider."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import arms, devices, paths, store
from ..core.config import PruningConfig
from ..engine import pruning, slimming
from ..engine.models import Model, Params
from ..engine.train import TrainResult, evaluate
from .masks import Member

HIST_BINS = 50


@dataclass
class Unit:
    """One trial's members at one level of an IMP run, trained: what its unit records."""
    level: int
    trial: int
    members: list[Member]
    start: Params  # the weights each member started from
    masks: pruning.Masks
    result: TrainResult
    seconds: float  # the trial's share of the level's training

    @classmethod
    def of(cls, level: int, trial: int, members: list[Member], start: Params, masks: pruning.Masks,
           result: TrainResult, seconds: float) -> "Unit":
        """The unit of `trial` among the members a level trained together."""
        rows = [i for i, m in enumerate(members) if m.trial == trial]
        return cls(level, trial, [members[i] for i in rows], {n: p[rows] for n, p in start.items()},
                   pruning.select(masks, rows), result.select(rows), seconds)

    def row(self, arm: str) -> list[int]:
        """The row of the arm's (first) member, as a one-row selection."""
        return [self.members.index(Member(self.trial, arm, 0))]


def curves_frame(level: int, members, result: TrainResult, kind: str = "level") -> pd.DataFrame:
    """Long format: one row per model and evaluation point; `kind` names the first column (a sweep's: point)."""
    k, e = len(members), len(result.iterations)
    frame = pd.DataFrame({
        kind: np.full(k * e, level, dtype=np.int16),
        "trial": np.repeat([m.trial for m in members], e).astype(np.int16),
        "arm": np.repeat([m.arm for m in members], e),
        # stored as "replicate", its name before GLOSSARY.md
        "replicate": np.repeat([m.copy for m in members], e).astype(np.int16),
        "iteration": np.tile(result.iterations, k).astype(np.int32),
    })
    for name, values in result.curves.items():
        frame[name] = values.reshape(-1)
    return frame


def summary(level: int, members, masks: pruning.Masks, result: TrainResult, model: Model, seconds: float,
            iterations: int, report_at: np.ndarray | None = None, kind: str = "level") -> dict:
    """One row per model, its figures at early stop (or at the evaluation index `report_at` gives)."""
    total, per_layer = pruning.remaining(masks)
    es = result.early_stop_index if report_at is None else report_at
    rows = []
    for i, m in enumerate(members):
        j = int(es[i])
        rows.append({
            "trial": m.trial, "arm": m.arm,
            "replicate": m.copy,  # stored as "replicate", its name before GLOSSARY.md
            "remaining": float(total[i]),
            "remaining_by_layer": {n: float(v[i]) for n, v in per_layer.items()},
            "early_stop_iteration": int(result.iterations[j]),
            "val_loss_at_early_stop": float(result.curves["val_loss"][i, j]),
            "val_acc_at_early_stop": float(result.curves["val_acc"][i, j]),
            "test_acc_at_early_stop": float(result.test_at_early_stop()[i] if report_at is None
                                            else result.curves["test_acc"][i, j]),
            "test_acc_final": float(result.curves["test_acc"][i, -1]),
            "train_acc_final": float(result.train_acc[i]),
        })
    return {kind: level, "trial": members[0].trial, "models": len(members),
            "model_iterations": len(members) * iterations,
            "seconds": round(seconds, 2), "layers": [layer.name for layer in model.layers], "rows": rows}


# --- what a network costs: structured vs unstructured sparsity (network slimming runs) -------
INFERENCE_BATCH = 256  # test examples one timed forward pass sees


def add_costs(model: Model, members, masks: pruning.Masks, final: Params, data, summary: dict) -> None:
    """For IMP's ticket and each structured arm, in its summary row: the network as it would be deployed (the
    slimmed ones with their removed channels really gone; the ticket dense, with its zeros), its parameters,
    FLOPs per example and measured inference time, each beside the dense network's, timed in the same moment."""
    x = data.x_test[:INFERENCE_BATCH]
    dense_params = slimming.parameters(model)
    for i, (m, row) in enumerate(zip(members, summary["rows"])):
        kind = arms.get(m.arm).kind
        if kind not in ("imp", "structured"):
            continue
        weights = {n: p[i:i + 1] for n, p in final.items()}
        one = pruning.select(masks, [i])
        if kind == "structured":
            channels = slimming.channels_of(model, one)
            small, small_weights = slimming.build(model, weights, channels)
            row["channels_by_layer"] = {n: int(c[0].sum()) for n, c in channels.items()}
            row["parameters"], row["flops"] = slimming.parameters(small), small.flops_per_example()
        else:  # an unstructured mask: stored and computed dense, with its zeros
            small, small_weights = model, pruning.apply(weights, one)
            row["parameters"] = dense_params - model.prunable + sum(int(v.sum()) for v in one.values())
            row["flops"] = model.flops_per_example()
        row["parameters_dense"], row["flops_dense"] = dense_params, model.flops_per_example()
        row["inference_ms_dense"] = slimming.inference_ms(model, weights, x)
        row["inference_ms"] = slimming.inference_ms(small, small_weights, x)
        row["inference_device"] = devices.describe(x.device)


# --- a unit: what one trial records at one level (or sweep point) -----------------------
def mask_entries(members, masks: pruning.Masks) -> dict[tuple, dict[str, np.ndarray]]:
    """{(arm, trial, control copy): {layer: bool array}} of the members whose mask is their own (reinit's is
    not), keyed as the packed-mask file stores them."""
    # the copy is stored as the key's "replicate", its name before GLOSSARY.md
    return {(m.arm, m.trial, m.copy): {n: mask[i].cpu().numpy() for n, mask in masks.items()}
            for i, m in enumerate(members) if arms.has_own_mask(m.arm)}


def write_unit(folder: Path, level: int, trial: int, model: Model, curves: pd.DataFrame,
               masks: dict[tuple, dict[str, np.ndarray]], summary: dict, tables: dict | None = None) -> None:
    """Every file of one unit, atomically, its summary.json last: the unit is finished exactly when that exists.

    `masks` as `mask_entries` gives them; `tables` maps a path function of lth.core.paths to a frame.
    """
    store.write_parquet(paths.unit_curves(folder, level, trial), curves)
    shapes = {layer.name: layer.weight_shape for layer in model.layers}
    store.write_npz(paths.unit_masks(folder, level, trial), store.pack_masks(masks, shapes))
    for path_of, frame in (tables or {}).items():
        store.write_parquet(path_of(folder, level, trial), frame)
    store.write_json(paths.unit_summary(folder, level, trial), summary)
    store.write_status(folder, units_done=len(store.finished_units(folder)))


# --- weight movement -----------------------------------------------------------------
def weight_movement(model: Model, init: Params, final: Params, masks: pruning.Masks, next_masks: pruning.Masks,
                    trials: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Histograms and statistics of the ticket's weights, split by what the next level keeps or prunes."""
    hist_rows, stat_rows = [], []
    for layer in model.layers:
        n = layer.name
        w0, w1 = init[f"{n}.weight"].cpu().numpy(), final[f"{n}.weight"].cpu().numpy()
        alive, keep = masks[n].cpu().numpy(), next_masks[n].cpu().numpy()
        for t_index, trial in enumerate(trials):
            # stored in the column "group": which weights the next level keeps, which it prunes
            fates = {"kept": keep[t_index], "pruned": alive[t_index] & ~keep[t_index]}
            values = {"initial": w0[t_index], "final": w1[t_index], "movement": np.abs(w1[t_index] - w0[t_index])}
            for quantity, v in values.items():
                live = v[alive[t_index]]
                hi = float(np.abs(live).max()) if live.size else 1.0
                edges = np.linspace(0.0 if quantity == "movement" else -hi, hi or 1.0, HIST_BINS + 1)
                for fate, sel in fates.items():
                    counts, _ = np.histogram(v[sel], bins=edges)
                    hist_rows.append(pd.DataFrame({
                        "trial": trial, "layer": n, "quantity": quantity, "group": fate,
                        "bin_left": edges[:-1], "bin_right": edges[1:], "count": counts}))
            for fate, sel in fates.items():
                move = values["movement"][sel]
                stat_rows.append({
                    "trial": trial, "layer": n, "group": fate, "count": int(sel.sum()),
                    "mean_abs_initial": float(np.abs(w0[t_index][sel]).mean()) if sel.any() else math.nan,
                    "mean_abs_final": float(np.abs(w1[t_index][sel]).mean()) if sel.any() else math.nan,
                    "mean_movement": float(move.mean()) if sel.any() else math.nan,
                    "median_movement": float(np.median(move)) if sel.any() else math.nan})
    return pd.concat(hist_rows, ignore_index=True), pd.DataFrame(stat_rows)


# --- the pruning lab's slider, precomputed -------------------------------------------
def prune_curve(model: Model, dense_final: Params, data, cfg: PruningConfig, points: int = 40) -> pd.DataFrame:
    """Test accuracy of each trial's trained dense net, magnitude-pruned to a fraction, not retrained."""
    fractions = np.geomspace(1.0, 0.002, points)
    k = next(iter(dense_final.values())).shape[0]
    rows = []
    targets = [pruning.counts_for_fraction(model, cfg, fraction) for fraction in fractions]
    for masks in pruning.magnitude_ladder(model, dense_final, cfg, targets):
        _, acc = evaluate(model, pruning.apply(dense_final, masks), data.x_test, data.y_test)
        total, _ = pruning.remaining(masks)
        rows += [{"remaining": float(total[i]), "test_acc": float(acc[i])} for i in range(k)]
    return pd.DataFrame(rows)
