"""lth migrate: a sweep stored by an earlier version (points as levels) reads back with every number unchanged."""

from __future__ import annotations

import shutil

import pandas as pd
from helpers import run_lth

from lth.core import paths, store
from lth.runs import results


def to_legacy_layout(run) -> None:
    """What earlier versions wrote: methods/<m>/levels/level_PP/, "level" in summary.json and curves.parquet."""
    for mdir in results.Run(run).method_dirs():
        for unit in sorted((mdir / "points").glob("point_*/trial_*")):
            blob = store.read_json(unit / "summary.json")
            store.write_json(unit / "summary.json", {("level" if k == "point" else k): v for k, v in blob.items()})
            curves = pd.read_parquet(unit / "curves.parquet")
            store.write_parquet(unit / "curves.parquet", curves.rename(columns={"point": "level"}))
        (mdir / "points").rename(mdir / "levels")
        for point in sorted((mdir / "levels").glob("point_*")):
            point.rename(point.parent / f"level_{point.name[len('point_'):]}")


def test_migrate_turns_legacy_sweeps_into_points_with_every_number_unchanged(tmp_path, gated_run):
    run = tmp_path / "runs" / "r"
    shutil.copytree(gated_run.path, run, ignore=shutil.ignore_patterns(".lock"))
    before = results.Run(run).summary()
    curves = {m.name: pd.read_parquet(paths.unit_curves(m, 2, 0)) for m in results.Run(run).method_dirs()}
    to_legacy_layout(run)
    legacy = results.Run(run)
    assert legacy.summary().point.isna().all()  # the sweeps are not read in the old layout...
    assert any("python -m lth migrate" in p for p in legacy.problems)  # ...and the run says how to fix it

    done = run_lth("migrate", str(tmp_path / "runs"))
    assert done.returncode == 0 and done.stdout.count("sweep unit(s) moved to points/") == 3, done.stderr
    after = results.Run(run)
    pd.testing.assert_frame_equal(after.summary(), before)
    assert not after.problems
    for m in after.method_dirs():
        pd.testing.assert_frame_equal(pd.read_parquet(paths.unit_curves(m, 2, 0)), curves[m.name])
        assert not (m / "levels").exists()
    again = run_lth("migrate", str(run))
    assert again.returncode == 0 and "nothing to migrate" in again.stdout


def test_migrate_refuses_a_path_that_is_not_a_folder(tmp_path):
    done = run_lth("migrate", str(tmp_path / "missing"))
    assert done.returncode == 2 and "missing" in done.stderr and len(done.stderr.strip().splitlines()) == 1
