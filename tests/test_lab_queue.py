"""The lab's queue (lth.lab.queue.Lab): a class pressing Start at once trains at most `limit` experiments, in order."""

from __future__ import annotations

import pytest

from lth.core.config import ConfigError, preset
from lth.lab import jobs, queue


class Process:
    """A stand-in subprocess: running until finish()."""

    def __init__(self):
        self.code = None

    def poll(self):
        return self.code

    def finish(self):
        self.code = 0


@pytest.fixture
def launched(tmp_path, monkeypatch) -> dict:
    """run_id -> the stand-in process of each experiment the lab starts."""
    out = {}

    def start(config, preset_name, runs_dir, data_dir, device="auto"):
        out[config.run_id] = Process()
        return jobs.Job(config, tmp_path / config.run_id, tmp_path / "log", out[config.run_id])

    monkeypatch.setattr(jobs, "start", start)
    return out


def configs(n: int):
    return [preset("synthetic").override(seed=i) for i in range(n)]


def test_thirty_students_pressing_start_train_one_at_a_time_in_order(launched, tmp_path):
    lab, cfgs = queue.Lab(limit=1), configs(30)
    outcomes = [lab.submit(c, "synthetic", tmp_path, tmp_path) for c in cfgs]
    assert outcomes == ["started"] + ["queued"] * 29
    assert list(launched) == [cfgs[0].run_id]
    assert [lab.place(c.run_id) for c in cfgs[:3]] == [None, 1, 2] and lab.place(cfgs[-1].run_id) == 29
    launched[cfgs[0].run_id].finish()
    lab.pump()
    assert list(launched) == [cfgs[0].run_id, cfgs[1].run_id] and lab.place(cfgs[2].run_id) == 1


def test_an_identical_config_joins_the_one_running_or_waiting(launched, tmp_path):
    lab, (a, b) = queue.Lab(limit=1), configs(2)
    assert [lab.submit(c, "synthetic", tmp_path, tmp_path) for c in (a, a, b, b)] == ["started", "joined", "queued",
                                                                                      "joined"]
    assert len(launched) == 1 and len(lab.waiting) == 1


def test_the_limit_comes_from_the_environment(monkeypatch, launched, tmp_path):
    monkeypatch.setenv(queue.LAB_LIMIT_VARIABLE, "2")
    lab = queue.Lab(queue.lab_limit())
    assert [lab.submit(c, "synthetic", tmp_path, tmp_path) for c in configs(3)] == ["started", "started", "queued"]
    monkeypatch.setenv(queue.LAB_LIMIT_VARIABLE, "0")
    with pytest.raises(ConfigError, match=queue.LAB_LIMIT_VARIABLE):
        queue.lab_limit()


def test_a_finished_run_opens_at_once_and_takes_no_slot(monkeypatch, tmp_path):
    monkeypatch.setattr(jobs, "start", lambda c, *a, **k: jobs.Job(c, tmp_path, tmp_path / "log", None))
    lab = queue.Lab(limit=1)
    assert [lab.submit(c, "synthetic", tmp_path, tmp_path) for c in configs(2)] == ["done", "done"]
    assert not lab.waiting and not any(j.running for j in lab.jobs.values())


def test_the_lab_page_shows_a_second_experiment_its_place_in_the_queue(launched, tmp_path, monkeypatch):
    import streamlit as st
    from app_fixtures import ENTRY, page_file
    from streamlit.testing.v1 import AppTest

    for env, folder in (("LTH_PRETRAINED_DIR", "shipped"), ("LTH_RUNS_DIR", "yours")):
        (tmp_path / folder).mkdir()
        monkeypatch.setenv(env, str(tmp_path / folder))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ENTRY), default_timeout=60).run()
    at.switch_page(str(page_file("lab").relative_to(ENTRY.parent))).run()
    at.get("form_submit_button")[0].click().run()
    at.number_input(key="lab_rate_fc").set_value(0.3)
    at.get("form_submit_button")[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [i.value for i in at.info]
    assert any(s.startswith("Queued: at most 1 lab experiment(s)") for s in shown), shown
    assert any("waiting, place 1 in the queue" in s for s in shown), shown
    assert len(launched) == 1
