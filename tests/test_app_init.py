"""The app on a run with pruning-at-init arms and a stability analysis: their pages, arm groups on Accuracy."""

from __future__ import annotations

import json

import pytest
import streamlit as st
from app_fixtures import ENTRY, make_store, page_file
from streamlit.testing.v1 import AppTest

from lth.core import arms
from lth.runs import tables


@pytest.fixture(scope="module")
def init_store(init_run, tmp_path_factory):
    return make_store(init_run.path, tmp_path_factory.mktemp("init_store"))


@pytest.fixture
def page(tmp_path, monkeypatch, init_store):
    monkeypatch.setenv("LTH_PRETRAINED_DIR", str(init_store.shipped))
    monkeypatch.setenv("LTH_RUNS_DIR", str(tmp_path))
    st.cache_data.clear()
    st.cache_resource.clear()

    def open_page(stem: str) -> AppTest:
        at = AppTest.from_file(str(ENTRY), default_timeout=60).run()
        at.switch_page(str(page_file(stem).relative_to(ENTRY.parent))).run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        return at

    return open_page


def charts(at: AppTest) -> dict[str, dict]:
    return {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def names(figure: dict) -> set[str]:
    return {t["name"] for t in figure["data"] if t.get("name")}


def test_init_page_draws_methods_beside_imp_and_the_sanity_checks(page, init_run):
    at = page("init")
    shown = charts(at)
    assert set(shown) == {"chart-init-acc", "chart-init-layers", "chart-init-checks"}
    found = {arms.label(a) for a in ("ticket", "random_prune", "reinit", "snip", "grasp", "synflow")}
    assert names(shown["chart-init-acc"]) == found
    assert len(at.get("download_button")) == 12
    layers = shown["chart-init-layers"]
    assert {t["name"] for t in layers["data"]} == {"IMP's ticket", "SNIP", "GraSP", "SynFlow"}
    assert all(list(t["x"]) == ["fc1", "fc2", "output"] for t in layers["data"])
    table = at.dataframe[0].value
    assert len(table) == 8  # IMP and three methods at levels 1 and 2
    expected = tables.init_table(init_run.run)
    assert table.shuffled_change.round(2).tolist() == expected.shuffled_change.round(2).tolist()
    checks = shown["chart-init-checks"]
    assert {t["name"] for t in checks["data"]} == {"IMP's ticket", "SNIP", "GraSP", "SynFlow"}

    at.toggle(key="init_checks").set_value(True).run()
    assert names(charts(at)["chart-init-acc"]) == found | {arms.label(f"{m}_{c}") for m in ("snip", "grasp", "synflow")
                                                           for c in ("shuffled", "reinit")}


def test_accuracy_page_groups_arms_and_starts_without_the_checks(page):
    at = page("accuracy")
    groups = at.get("button_group")[0]
    assert groups.value == ["IMP and its controls"]  # IMP's group at first: a readable chart
    assert set(at.multiselect(key="acc_arms").value) == {"ticket", "reinit", "random_prune", "one_shot"}
    groups.set_value(["IMP and its controls", "Pruned at initialization"]).run()
    picked = at.multiselect(key="acc_arms").value
    assert "snip" in picked and "snip_shuffled" not in picked and "ticket" in picked
    groups.set_value(["Pruned at initialization"]).run()
    assert not at.exception
    assert set(at.multiselect(key="acc_arms").value) == {"snip", "grasp", "synflow"}


def test_gradient_page_leaves_pruning_at_init_out(page):
    at = page("gradient")
    assert any("no gradient-found masks yet" in m.value for m in at.info)


def test_stability_page_draws_the_path_the_barriers_and_the_match(page, init_run):
    from lth.runs import barriers

    at = page("stability")
    shown = charts(at)
    assert set(shown) == {"chart-st-path", "chart-st-k", "chart-st-sparsity"}
    assert {t["name"] for t in shown["chart-st-path"]["data"] if t.get("name")} == {"forked at k = 0",
                                                                                     "forked at k = 50"}
    forks = barriers.summary(init_run.run)
    assert len(at.dataframe[0].value) == len(forks) == 4  # one trial: a row per fork
    at.selectbox(key="st_network").set_value(("ticket", 2)).run()
    assert not at.exception
    assert "level 2" in charts(at)["chart-st-path"]["layout"]["title"]["text"]
    at.radio(key="st_metric").set_value("train_error").run()
    assert charts(at)["chart-st-path"]["layout"]["yaxis"]["title"]["text"] == "Train error (%)"


def test_pages_without_an_analysis_show_the_command(page, monkeypatch, store_without_sweeps):
    monkeypatch.setenv("LTH_PRETRAINED_DIR", str(store_without_sweeps.shipped))
    st.cache_data.clear()
    at = page("stability")
    assert not charts(at) and "python -m lth stability" in at.code[0].value
    at = page("init")
    assert not charts(at) and at.code[0].value.count("python -m lth prune-init") == 3


@pytest.fixture(scope="module")
def store_without_sweeps(finished_run, tmp_path_factory):
    return make_store(finished_run.path, tmp_path_factory.mktemp("plain_store"))

