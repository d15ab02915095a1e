"""Bring results written by earlier versions to today's layout, every number unchanged.

Sweeps of the gradient methods (lth gates) used to store their sweep points as
levels: ``methods/<m>/levels/level_PP/``, ``"level": p`` in summary.json and a
``level`` column in curves.parquet. They are now ``points/point_PP/``,
``"point"`` and ``point``. Each file is rewritten atomically and a folder is
renamed only once its files are done, so a migration cut off part-way is
finished by running it again.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..core import paths, store


def legacy_sweeps(root: Path) -> list[Path]:
    """Method folders under `root` (a run, or a folder of runs) still in the levels layout."""
    return sorted(m.parent for m in Path(root).glob("**/methods/*/levels")
                  if m.is_dir() and paths.method_file(m.parent).exists())


def migrate_sweep(mdir: Path) -> int:
    """Rewrite one method folder's units as sweep points; returns how many units it moved."""
    legacy = mdir / "levels"
    moved = 0
    for unit in sorted(legacy.glob("level_*/trial_*")):
        summary = unit / "summary.json"
        if summary.exists():
            blob = store.read_json(summary)
            if "level" in blob:
                store.write_json(summary, {("point" if k == "level" else k): v for k, v in blob.items()})
        curves = unit / "curves.parquet"
        if curves.exists():
            frame = pd.read_parquet(curves)
            if "level" in frame:
                store.write_parquet(curves, frame.rename(columns={"level": "point"}))
        target = mdir / "points" / f"point_{unit.parent.name[len('level_'):]}" / unit.name
        target.parent.mkdir(parents=True, exist_ok=True)
        unit.rename(target)
        moved += 1
    for empty in sorted(legacy.glob("level_*"), reverse=True):
        empty.rmdir()
    legacy.rmdir()
    return moved


def migrate(root: Path) -> list[tuple[Path, int]]:
    """Every legacy sweep under `root`, migrated: [(method folder, units moved)]."""
    return [(mdir, migrate_sweep(mdir)) for mdir in legacy_sweeps(root)]
