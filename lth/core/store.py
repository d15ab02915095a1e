"""The results store: one plain folder per run, written atomically.

Every file is written to a temporary name in the same folder and renamed
into place, so a reader sees either the old file or the whole new one. A
unit's ``summary.json`` is written last: a unit is finished exactly when it
exists. JSON for configs and summaries, Parquet for tables, ``.npz`` for masks
(bit-packed) and weights; nothing is pickled.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
from filelock import FileLock, Timeout

from . import arms, catalog, paths
from .config import Config, ConfigError

STATES = ("pending", "running", "done", "failed", "cancelled", "interrupted")


@contextmanager
def _atomic(path: Path, mode: str = "wb") -> Iterator:
    """A file object on a temporary name beside `path`, renamed onto it once written and synced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are for everyone to read
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path: Path, blob: bytes) -> None:
    """A file written elsewhere (a cluster worker's), landed atomically."""
    with _atomic(path) as f:
        f.write(blob)


def write_json(path: Path, obj) -> None:
    with _atomic(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False, allow_nan=True)


def read_json(path: Path) -> Any:
    with open(path) as f:
        return json.load(f)


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    with _atomic(path) as f:
        frame.to_parquet(f, index=False)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with _atomic(path) as f:
        np.savez_compressed(f, **arrays)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz; a damaged file (cut off, not a zip) is a ValueError naming it."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, ValueError) as err:
        raise ValueError(f"{path} is damaged ({err})") from None


def pack_mask(mask: np.ndarray) -> np.ndarray:
    """A mask as bits, 8 weights a byte, flattened (its shape is stored beside it)."""
    return np.packbits(mask.astype(bool).ravel())


def unpack_mask(bits: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The bool mask of `shape` that `pack_mask` packed."""
    return np.unpackbits(bits, count=int(np.prod(shape))).reshape(shape).astype(bool)


def pack_masks(entries: dict[tuple, dict[str, np.ndarray]],
               shapes: dict[str, tuple] | None = None) -> dict[str, np.ndarray]:
    """The arrays of a packed-mask file: key "<arm>/<trial>/<copy>/<layer>" per member (arm, trial, control copy),
    and "shape/<layer>" for each given shape. The one writer of the format `read_masks` reads.

    The third part of a key is the member's control copy (files written before the glossary call it `replicate`).
    """
    arrays = {f"shape/{n}": np.array(s) for n, s in (shapes or {}).items()}
    for (arm, trial, copy), layers in entries.items():
        packed = {f"{arm}/{trial}/{copy}/{n}": pack_mask(m) for n, m in layers.items()}
        arrays.update(packed)
    return arrays


def read_masks(path: Path, shapes: dict[str, tuple] | None = None) -> dict[tuple, dict[str, np.ndarray]]:
    """{(arm, trial, copy): {layer: bool array}} from a packed-mask file (keys arm/trial/copy/layer)."""
    arrays = read_npz(path)
    found = {k[6:]: tuple(int(s) for s in v) for k, v in arrays.items() if k.startswith("shape/")}
    found.update(shapes or {})
    out: dict[tuple, dict[str, np.ndarray]] = {}
    for key, bits in arrays.items():
        parts = key.split("/")
        if len(parts) != 4:
            continue
        arm, trial, copy, layer = parts
        out.setdefault((arm, int(trial), int(copy)), {})[layer] = unpack_mask(bits, found[layer])
    return out


# --- one run -------------------------------------------------------------------------
class RunBusy(RuntimeError):
    """Another process holds this run's lock."""


def create(runs_dir: Path, config: Config, input_shape: tuple, num_classes: int, network: dict | None = None
           ) -> Path:
    """The run's folder, with its config; an existing folder of the same config is reused. `network`: a network
    named by a form (torchvision:NAME, a module), described so that its results open where it cannot be built."""
    run = Path(runs_dir) / config.run_id
    if not paths.config_file(run).exists():
        meta = {"run_id": config.run_id, "config": config.to_dict(), "input_shape": list(input_shape),
                "num_classes": num_classes}
        write_json(paths.config_file(run), meta | ({"network": network} if network else {}))
        write_status(run, state="pending")
    return run


def read_config(run: Path) -> Config:
    """The run's config; ConfigError naming the folder when it has none or it is damaged."""
    try:
        blob = read_json(paths.config_file(run))
        config = Config.from_dict(blob["config"])
    except FileNotFoundError:
        raise ConfigError(f"{run}: no config.json (not a run folder)") from None
    except (ValueError, KeyError, TypeError) as err:  # JSON, schema or validation errors
        raise ConfigError(f"{run}: config.json is damaged ({err})") from None
    return config


@contextmanager
def lock(run: Path, wait: float = -1) -> Iterator[None]:
    """Exclusive right to compute the run; released when the process dies."""
    try:
        with FileLock(paths.lock_file(run), timeout=wait):
            yield
    except Timeout:
        raise RunBusy(f"run {run.name} is being computed by another process") from None


def is_locked(run: Path) -> bool:
    """Whether a live process holds the run's lock (the lock dies with its process)."""
    import fcntl

    try:
        fd = os.open(paths.lock_file(run), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def write_status(run: Path, **fields) -> dict:
    """The run's status.json with `fields` updated and the time stamped; returns the new status."""
    try:
        status = read_json(paths.status_file(run))
    except (OSError, ValueError):
        status = {}
    status.update(fields, updated=time.time())
    write_json(paths.status_file(run), status)
    return status


def read_execution(run: Path) -> dict[str, dict]:
    """The execution settings each device type trained this run's units with: {"cpu": {"stack",
    "trials_together", "threads"}, ...} (threads: a CPU's, where the run recorded them).

    Runs written before a run could move between devices hold one device's settings, and the device, at the top
    level of execution.json.
    """
    try:
        blob = read_json(paths.execution_file(run))
        if "stack" in blob:
            blob = {str(blob.get("device", "cpu")).split(":")[0]: blob}
        return {kind: _execution_settings(settings) for kind, settings in blob.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _execution_settings(blob: dict) -> dict[str, int]:
    """One device type's settings as integers (KeyError, TypeError or ValueError when damaged)."""
    settings = {"stack": int(blob["stack"]), "trials_together": int(blob["trials_together"])}
    if "threads" in blob:
        settings["threads"] = int(blob["threads"])
    return settings


def read_status(run: Path) -> dict:
    """The run's status.json; {"state": "unknown"} when it is missing or damaged."""
    try:
        return read_json(paths.status_file(run))
    except (OSError, ValueError):
        return {"state": "unknown"}


def finished_units(run: Path) -> set[tuple[int, int]]:
    """(level, trial) pairs whose summary.json exists: the finished units of work (a sweep's: (point, trial))."""
    kind = paths.unit_kind(run)  # "level", or a sweep's "point"
    found = set()
    for summary in (run / f"{kind}s").glob(f"{kind}_*/trial_*/summary.json"):
        where = summary.parent.parent.name[len(kind) + 1:]
        trial = summary.parent.name[len("trial_"):]
        if where.isdigit() and trial.isdigit():
            found.add((int(where), int(trial)))
    return found


def finished_levels(run: Path, trials: int | None = None) -> list[int]:
    """Levels finished for every trial (all trials of the run's config when `trials` is None)."""
    if trials is None:
        try:
            trials = read_config(run).experiment.trials
        except ConfigError:
            return []
    units = finished_units(run)
    levels = sorted({lv for lv, _ in units})
    return [lv for lv in levels if all((lv, t) in units for t in range(trials))]


def is_complete(run: Path, config: Config) -> bool:
    """Every level of every trial of `config` finished."""
    e = config.experiment
    return finished_units(run) >= {(lv, t) for lv in range(e.levels + 1) for t in range(e.trials)}


# --- listing many runs ---------------------------------------------------------------
def find_runs(root: Path) -> list[Path]:
    """Run folders (with a config.json) directly under root or one folder deeper."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = {p.parent for p in root.glob("*/config.json")} | {p.parent for p in root.glob("*/*/config.json")}
    return sorted(found)


def describe(run: Path) -> dict:
    """One row of the index: what a run is, how far it got, and why it is damaged if it is."""
    row = {"path": str(run), "run_id": run.name, "damaged": "", "levels_done": 0}
    try:
        config = read_config(run)
    except ConfigError as err:
        row["damaged"] = str(err)
        return row
    status = read_status(run)
    if status.get("state") == "running" and not is_locked(run):
        status["state"] = "interrupted"  # killed mid-run: the same command resumes it
    units = finished_units(run)
    done = finished_levels(run, config.experiment.trials)
    row.update(
        run_id=config.run_id, dataset=config.data.dataset, model=config.model.model,
        levels=config.experiment.levels, trials=config.experiment.trials,
        iterations=config.training.iterations, arms=",".join(arms.in_run(config)),
        levels_done=len(done), units_done=len(units), trials_done=_trials_done(units, config),
        state=status.get("state", "unknown"), error=status.get("error", ""),
        updated=status.get("updated", 0.0), label=label(config, run),
    )
    return row


def _trials_done(units: set, config: Config) -> int:
    """How many trials have finished every level."""
    return sum(all((lv, t) in units for lv in range(config.experiment.levels + 1))
               for t in range(config.experiment.trials))


def label(config: Config, run: Path) -> str:
    """The index's one-line name of a run: its folder (or network), network and data set, length, trials, id."""
    model, data = config.model.model, config.data.dataset
    if catalog.form(model, catalog.MODEL_FORMS):  # a fingerprinted name reads better as its display name
        model = catalog.model_name(model)
    if catalog.form(data, catalog.DATA_FORMS):
        data = catalog.dataset_name(data)
    name = run.parent.name if run.parent.name not in ("runs", "pretrained_runs") else model
    return (f"{name} · {model} on {data} · {config.training.iterations:,} it · "
            f"{config.experiment.trials} trial(s) · {run.name[:6]}")


def index(root: Path) -> pd.DataFrame:
    """All runs under root; cached in root/index.json, re-read only for runs whose status changed."""
    root = Path(root)
    cache_path = paths.index_file(root)
    try:
        cache = read_json(cache_path)
    except (OSError, ValueError):
        cache = {}
    rows = []
    fresh = {}
    for run in find_runs(root):
        stamp = max((mtime(paths.status_file(run)), mtime(paths.config_file(run))))
        key = str(run.relative_to(root))
        hit = cache.get(key)
        fresh_hit = hit and hit.get("stamp") == stamp and hit["row"].get("state") != "running"
        row = hit["row"] if fresh_hit else describe(run)  # a running run may have died: look again
        fresh[key] = {"stamp": stamp, "row": row}
        rows.append(row)
    if fresh != cache:
        try:
            write_json(cache_path, fresh)
        except OSError:  # a read-only results folder is still listed
            pass
    return pd.DataFrame(rows)


def mtime(path: Path) -> float:
    """A file's modification time; 0 when it does not exist."""
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
