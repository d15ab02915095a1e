"""Early stops at the last evaluation are censored: the Early stopping page rings and counts them, and Paper vs
this run calls a claim that rests on them censored. On a copy of the shipped conv2-fashion-reduced run, whose
units stop at their last evaluation in 19 of 25 rows."""

from __future__ import annotations

import json
import shutil

import pytest
import streamlit as st
from app_fixtures import ENTRY, page_file
from streamlit.testing.v1 import AppTest

from lth.core.paths import PROJECT_ROOT

CONV2 = PROJECT_ROOT / "pretrained_runs" / "conv2-fashion-reduced"


@pytest.fixture
def conv2_app(tmp_path, monkeypatch):
    shutil.copytree(CONV2, tmp_path / "shipped" / CONV2.name)
    (tmp_path / "yours").mkdir()
    monkeypatch.setenv("LTH_PRETRAINED_DIR", str(tmp_path / "shipped"))
    monkeypatch.setenv("LTH_RUNS_DIR", str(tmp_path / "yours"))
    st.cache_data.clear()
    st.cache_resource.clear()

    def open_page(stem: str) -> AppTest:
        at = AppTest.from_file(str(ENTRY), default_timeout=60).run()
        at.switch_page(str(page_file(stem).relative_to(ENTRY.parent))).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_page


def test_the_early_stopping_page_rings_and_counts_censored_stops(conv2_app):
    at = conv2_app("early_stopping")
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("19 of 25 networks in this run stopped at their last evaluation") for w in warnings)
    chart = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.key == "chart-es")
    ringed = [t for t in chart["data"] if t.get("name") == "stopped at the last evaluation"]
    assert len(ringed) == 1 and len(ringed[0]["x"]) > 0
    assert "a lower bound" in chart["layout"]["title"]["text"]


def test_paper_vs_this_run_calls_a_claim_on_censored_stops_censored(conv2_app):
    at = conv2_app("paper")
    shown = json.dumps([df.value.to_dict() for df in at.dataframe], default=str)
    assert "censored" in shown
    assert any(m.label == "Censored" and m.value == "1" for m in at.metric)
