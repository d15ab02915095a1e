"""The "Run IMP live" page in AppTest: it renders before, during and after a run, its button starts the run through
the lab's queue, a second press (another student) joins it, and a fresh session finds it in the runs folder."""

from __future__ import annotations

import shutil

import pytest
import streamlit as st
from app_fixtures import ENTRY, page_file
from streamlit.testing.v1 import AppTest
from test_lab_queue import launched  # noqa: F401 (a fixture: the queue's processes, stand-ins)

from lth.core import config, paths, store
from lth.lab import jobs

LIVE = config.preset("synthetic")  # LTH_DATA_DIR holds no mnist.npz in the tests


@pytest.fixture
def yours(tmp_path, monkeypatch):
    """The lab's runs folder, empty; the app's caches (the lab's queue among them) emptied before and after."""
    for env, name in (("LTH_PRETRAINED_DIR", "shipped"), ("LTH_RUNS_DIR", "yours")):
        (tmp_path / name).mkdir()
        monkeypatch.setenv(env, str(tmp_path / name))
    monkeypatch.setattr(jobs, "warm_up", lambda runs_dir: None)  # no worker process in these tests
    st.cache_data.clear()
    st.cache_resource.clear()
    yield tmp_path / "yours"
    st.cache_resource.clear()


def open_live() -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=60).run()
    at.switch_page(str(page_file("live").relative_to(ENTRY.parent))).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Run IMP live"
    return at


def shown(at: AppTest) -> str:
    return " ".join(str(e.value) for kind in ("info", "caption", "success", "warning", "error", "metric", "markdown")
                    for e in getattr(at, kind))


def copy_levels(source, run_dir, levels: dict[int, int]) -> None:
    """Level folders of the shared finished run, copied into a run folder as its levels {to: from}."""
    for to, frm in levels.items():
        shutil.copytree(paths.level_dir(source, frm), paths.level_dir(run_dir, to))


def test_before_a_run_the_page_says_what_it_will_run_and_why_not_mnist(yours, launched):  # noqa: F811
    at = open_live()
    text = shown(at)
    assert "No mnist.npz in" in text and "synthetic data set" in text
    assert "Nothing has run here yet" in text and "Each level trains **LeNet-300-100**" in text
    assert [b.label for b in at.button] == ["Run IMP live"] and not launched


def test_the_button_starts_the_run_through_the_queue_and_a_second_press_joins_it(yours, launched):  # noqa: F811
    at = open_live()
    at.button(key="live-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert list(launched) == [LIVE.run_id]
    assert "starting" in shown(at) and "live-cancel" in [b.key for b in at.button]  # Cancel beside the chart
    other = open_live()  # a second student's browser: it finds the run, and pressing joins it
    assert "starting" in shown(other)
    other.button(key="live-run").click().run()
    assert list(launched) == [LIVE.run_id] and [t.value for t in other.toast] == ["Already running: you joined it."]


def test_during_and_after_the_run_the_chart_and_the_sentence(yours, launched, finished_run):  # noqa: F811
    at = open_live()
    at.button(key="live-run").click().run()
    run_dir = store.create(yours, LIVE, (1, 28, 28), 10)
    store.write_status(run_dir, state="running", eta_seconds=4.0, level=2, fraction=0.5)
    copy_levels(finished_run.path, run_dir, {0: 0, 1: 1})
    at = open_live()  # a reload: everything read again from the folder
    assert not at.exception, [e.value for e in at.exception]
    text = shown(at)
    assert "1 of 3" in text and "≈ 4 s" in text and not at.success
    assert len(at.get("plotly_chart")) == 1
    copy_levels(finished_run.path, run_dir, {2: 1, 3: 2})
    launched[LIVE.run_id].finish()
    store.write_status(run_dir, state="done")
    at = open_live()
    assert not at.exception, [e.value for e in at.exception]
    assert "3 of 3" in shown(at) and [b.key for b in at.button] == ["live-run"]  # no Cancel once done
    sentence = at.success[0].value
    assert sentence.startswith("#### At ") and "of the weights the ticket reached" in sentence
    assert "random reinitialisation" in sentence and "random pruning" in sentence
    at.button(key="live-run").click().run()  # after a finished run: the next seed, from fresh initial weights
    assert list(launched) == [LIVE.run_id, LIVE.override(seed=1).run_id]
