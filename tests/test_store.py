"""The store: atomic plain files, packed masks, run folders, locks and the index."""

from __future__ import annotations

import json
import shutil
import stat

import numpy as np
import pandas as pd
import pytest

from lth.core import paths, store
from lth.core.config import ConfigError
from lth.runs import results


def test_atomic_writes_leave_only_the_file(tmp_path):
    store.write_json(tmp_path / "a.json", {"x": [1, 2]})
    store.write_npz(tmp_path / "b.npz", {"w": np.arange(5)})
    store.write_parquet(tmp_path / "c.parquet", pd.DataFrame({"x": [1.5, 2.5]}))
    store.write_json(tmp_path / "a.json", {"x": [3]})  # replacing an existing file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.npz", "c.parquet"]
    assert store.read_json(tmp_path / "a.json") == {"x": [3]}
    assert store.read_npz(tmp_path / "b.npz")["w"].tolist() == [0, 1, 2, 3, 4]
    assert pd.read_parquet(tmp_path / "c.parquet").x.tolist() == [1.5, 2.5]


def test_a_failed_write_keeps_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "summary.json"
    store.write_json(path, {"level": 1})
    with pytest.raises(TypeError):
        store.write_json(path, {"level": object()})  # not JSON: fails halfway through writing
    assert store.read_json(path) == {"level": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_written_files_are_readable_by_everyone(tmp_path):
    store.write_json(tmp_path / "config.json", {})
    assert (tmp_path / "config.json").stat().st_mode & stat.S_IROTH


@pytest.mark.parametrize("shape", [(1,), (7,), (8,), (3, 5, 7), (300, 784)])
def test_packed_mask_round_trip(shape):
    mask = np.random.default_rng(0).random(shape) < 0.3
    bits = store.pack_mask(mask)
    assert bits.dtype == np.uint8 and bits.size == -(-mask.size // 8)  # 1 bit a weight
    back = store.unpack_mask(bits, shape)
    assert back.dtype == bool and np.array_equal(back, mask)


def test_a_unit_is_finished_exactly_when_its_summary_exists(tmp_path):
    for level, trial in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]:
        paths.unit_dir(tmp_path, level, trial).mkdir(parents=True)
    for level, trial in [(0, 0), (0, 1), (1, 0), (2, 0)]:
        store.write_json(paths.unit_summary(tmp_path, level, trial), {"level": level})
    store.write_parquet(paths.unit_curves(tmp_path, 1, 1), pd.DataFrame({"x": [1]}))  # a half-written unit
    (tmp_path / "levels" / "level_xx" / "trial_00").mkdir(parents=True)
    (tmp_path / "levels" / "level_xx" / "trial_00" / "summary.json").write_text("{}")
    (tmp_path / "levels" / "level_00" / "summary.json").write_text("{}")  # not inside a trial folder
    assert store.finished_units(tmp_path) == {(0, 0), (0, 1), (1, 0), (2, 0)}
    assert store.finished_levels(tmp_path, trials=2) == [0]  # finished for every trial
    assert store.finished_levels(tmp_path, trials=1) == [0, 1, 2]
    assert store.finished_units(tmp_path / "missing") == set()
    assert store.finished_levels(tmp_path / "missing") == []


def test_is_complete_needs_every_unit(finished_run, tmp_path):
    assert store.is_complete(finished_run.path, finished_run.config)
    assert not store.is_complete(finished_run.path, finished_run.config.override(trials=3))
    assert not store.is_complete(tmp_path, finished_run.config)


def test_status_updates_merge_and_survive_a_damaged_file(tmp_path):
    store.write_status(tmp_path, state="running", level=1)
    store.write_status(tmp_path, level=2)
    status = store.read_status(tmp_path)
    assert status["state"] == "running" and status["level"] == 2 and "updated" in status
    paths.status_file(tmp_path).write_text("{trunc")
    assert store.read_status(tmp_path) == {"state": "unknown"}
    assert store.write_status(tmp_path, state="done")["state"] == "done"


def test_lock_is_exclusive(tmp_path):
    with store.lock(tmp_path):
        with pytest.raises(store.RunBusy, match=tmp_path.name):
            with store.lock(tmp_path, wait=0):
                pass
    with store.lock(tmp_path, wait=0):  # released
        pass


def test_read_config_round_trips_and_reports_damage(finished_run, tmp_path):
    assert store.read_config(finished_run.path) == finished_run.config
    with pytest.raises(ConfigError, match="no config.json"):
        store.read_config(tmp_path)


DAMAGED_CONFIGS = {
    "truncated": '{"run_id": "abc", "config": {"data": ',
    "empty": "",
    "not-utf8": b"\xff\xfe\x00garbage",
    "a-list": "[1, 2]",
    "no-config-key": '{"run_id": "abc"}',
    "unknown-field": '{"config": {"training": {"nesterov": true}}}',
    "bad-value": '{"config": {"experiment": {"levels": -3}}}',
}


# Valid JSON whose "config" is not a mapping.
WRONG_TYPE_CONFIGS = {"config-null": '{"config": null}', "config-a-string": '{"config": "lenet"}'}


@pytest.fixture
def runs_root(finished_run, tmp_path):
    """A runs folder holding a copy of the finished run and one damaged run per kind of damage."""
    root = tmp_path / "runs"
    shutil.copytree(finished_run.path, root / finished_run.path.name)
    for name, content in DAMAGED_CONFIGS.items():
        (root / name).mkdir(parents=True)
        target = root / name / "config.json"
        target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
    return root


@pytest.mark.parametrize("kind", [*DAMAGED_CONFIGS, *WRONG_TYPE_CONFIGS])
def test_read_config_turns_any_damage_into_config_error(tmp_path, kind):
    content = {**DAMAGED_CONFIGS, **WRONG_TYPE_CONFIGS}[kind]
    target = tmp_path / "config.json"
    target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
    with pytest.raises(ConfigError, match="config.json"):
        store.read_config(tmp_path)


@pytest.mark.parametrize("kind", WRONG_TYPE_CONFIGS)
def test_index_survives_a_config_of_the_wrong_type(runs_root, finished_run, kind):
    (runs_root / kind).mkdir()
    (runs_root / kind / "config.json").write_text(WRONG_TYPE_CONFIGS[kind])
    table = store.index(runs_root).set_index("run_id")  # must not raise
    assert "config.json" in table.loc[kind].damaged
    assert table.loc[finished_run.path.name].damaged == ""


def test_index_lists_runs_and_marks_damaged_ones(runs_root, finished_run):
    table = store.index(runs_root).set_index("run_id")
    good = table.loc[finished_run.path.name]
    assert good.damaged == "" and good.state == "done"
    assert good.levels_done == 3 and good.levels == 2 and good.trials == 2
    assert good.units_done == 6 and good.trials_done == 2
    assert good.dataset == "synthetic" and good.model == "lenet_300_100"
    assert good.arms == "ticket,reinit,random_prune,one_shot"
    for kind in DAMAGED_CONFIGS:
        assert "config.json" in table.loc[kind].damaged, kind
    assert paths.index_file(runs_root).exists()


def test_index_cache_follows_status_changes(runs_root, finished_run):
    run = runs_root / finished_run.path.name
    assert store.index(runs_root).set_index("run_id").loc[run.name].state == "done"
    cached = json.loads(paths.index_file(runs_root).read_text())
    assert cached[run.name]["row"]["state"] == "done"
    store.write_status(run, state="cancelled")
    assert store.index(runs_root).set_index("run_id").loc[run.name].state == "cancelled"


def test_index_sees_a_removed_unit(runs_root, finished_run):
    run = runs_root / finished_run.path.name
    store.index(runs_root)
    paths.unit_summary(run, 2, 1).unlink()
    store.write_status(run, note="touched")  # the index notices changes by the status file
    row = store.index(runs_root).set_index("run_id").loc[run.name]
    assert (row.levels_done, row.units_done, row.trials_done) == (2, 5, 1)


def test_find_runs_looks_one_folder_deep(runs_root, finished_run):
    nested = runs_root / "group" / finished_run.path.name
    shutil.copytree(finished_run.path, nested)
    assert nested in store.find_runs(runs_root)
    assert store.find_runs(runs_root / "nothing") == []


def test_results_run_reads_a_copied_run(runs_root, finished_run):
    run = results.Run(runs_root / finished_run.path.name)
    assert run.run_id == finished_run.config.run_id and run.input_shape == (1, 28, 28)
    assert run.levels_done == [0, 1, 2]
    assert not run.summary().empty and run.problems == []
    assert results.resolve(finished_run.path.name[:5], runs_root) == runs_root / finished_run.path.name


def test_resolve_takes_a_folder_holding_one_run_and_refuses_one_holding_several(runs_root, finished_run):
    group = runs_root / "lenet-like"
    shutil.copytree(finished_run.path, group / finished_run.path.name)
    assert results.resolve(str(group), runs_root) == group / finished_run.path.name
    shutil.copytree(finished_run.path, group / "another")
    with pytest.raises(ConfigError, match="holds 2 runs"):
        results.resolve(str(group), runs_root)


def test_a_running_run_whose_process_died_is_listed_as_interrupted(runs_root, finished_run):
    run = runs_root / finished_run.path.name  # runs_root holds a copy of the finished run
    store.write_status(run, state="running")
    store.index(runs_root)  # caches the row
    assert store.describe(run)["state"] == "interrupted"  # nobody holds the lock
    with store.lock(run):
        assert store.describe(run)["state"] == "running"
        assert store.is_locked(run)
    assert not store.is_locked(run)
    rows = store.index(runs_root)
    assert rows.loc[rows.run_id == run.name, "state"].item() == "interrupted"
