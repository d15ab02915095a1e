"""What a run cannot read (results.Run.problems) on the pages: each problem named once, as a warning at the top of
a page that reads the run, and the page still drawn: a damaged sweep never takes a page down, and is never hidden.
"""

from __future__ import annotations

import pytest
import streamlit as st
from app_fixtures import ENTRY, make_store, page_file
from streamlit.testing.v1 import AppTest

SWEEP_PAGES = ("gradient", "init", "stability", "accuracy")  # the pages that read a run's sweeps


@pytest.fixture(scope="module")
def damaged(gated_run, tmp_path_factory):
    """The gated run with the gaussian sweep's method.json cut off mid-write and one cs unit's summary too."""
    s = make_store(gated_run.path, tmp_path_factory.mktemp("problems"))
    methods = s.run / "methods"
    (methods / "gaussian" / "method.json").write_text('{"method_id": "x", "gates": {')
    (methods / "cs" / "points" / "point_01" / "trial_00" / "summary.json").write_text('{"point": 1, "rows": [')
    return s


@pytest.fixture(scope="module")
def sound(gated_run, tmp_path_factory):
    return make_store(gated_run.path, tmp_path_factory.mktemp("sound"))


def open_page(shipped, monkeypatch, tmp_path, stem: str) -> AppTest:
    monkeypatch.setenv("LTH_PRETRAINED_DIR", str(shipped))
    monkeypatch.setenv("LTH_RUNS_DIR", str(tmp_path))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ENTRY), default_timeout=60).run()
    at.switch_page(str(page_file(stem).relative_to(ENTRY.parent))).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def in_order(block) -> list:
    """The page's elements depth first, in the order they are drawn."""
    out = []
    for _, node in sorted(block.children.items()):
        out += in_order(node) if hasattr(node, "children") else [node]
    return out


def warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.main.warning]


@pytest.mark.parametrize("stem", SWEEP_PAGES)
def test_a_damaged_sweep_is_named_once_at_the_top_of_each_page_that_reads_sweeps(damaged, monkeypatch, tmp_path,
                                                                                  stem):
    at = open_page(damaged.shipped, monkeypatch, tmp_path, stem)
    named = [w for w in warnings(at) if "gaussian" in w]
    assert len(named) == 1 and "method.json" in named[0], warnings(at)
    drawn = [e for e in in_order(at.main) if e.type != "title"]
    assert drawn[0].value == named[0], drawn[:3]  # first on the page, under its title


def test_a_problem_found_while_the_page_reads_joins_the_warnings_at_the_top(damaged, monkeypatch, tmp_path):
    """The cs unit's summary is found damaged only when the page reads the summary, below the top: named there."""
    at = open_page(damaged.shipped, monkeypatch, tmp_path, "accuracy")
    first = [e for e in in_order(at.main) if e.type != "title"][:2]
    assert [e.value for e in first] == warnings(at)[:2], first
    assert "gaussian" in first[0].value and "cs point 1, trial 0" in first[1].value
    assert "chart-accuracy" in [c.key for c in at.get("plotly_chart")]  # the rest of the run is drawn
    at.multiselect(key="acc_arms").set_value(["ticket"]).run()  # a rerun: still once each
    assert len([w for w in warnings(at) if "cs point 1" in w]) == 1, warnings(at)


@pytest.mark.parametrize("stem", SWEEP_PAGES)
def test_a_sound_run_shows_no_warning(sound, monkeypatch, tmp_path, stem):
    at = open_page(sound.shipped, monkeypatch, tmp_path, stem)
    assert not warnings(at) and not at.error
