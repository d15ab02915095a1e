"""The Streamlit app through AppTest: every page shows its title and charts, its main widgets change
what is drawn, and a damaged, empty or mistyped store meets a message, never a traceback.

AppTest runs the scripts in this process, with no browser: a page takes well under a second once
the first run has imported torch. Data: a copy of conftest's `finished_run` (tests/app_fixtures.py).
"""

from __future__ import annotations

import json

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app_fixtures import CHARTS, DAMAGED_NAME, ENTRY, TITLES, entry_pages, make_store, page_file, twin_run
from lth import store as store_mod


# --- fixtures and helpers ----------------------------------------------------------------
@pytest.fixture(scope="module")
def store(finished_run, tmp_path_factory):
    return make_store(finished_run.path, tmp_path_factory.mktemp("app_store"))


def use_roots(monkeypatch, shipped, yours) -> None:
    monkeypatch.setenv("LTH_PRETRAINED_DIR", str(shipped))
    monkeypatch.setenv("LTH_RUNS_DIR", str(yours))
    # The caches live in this process across AppTests; run_index() takes no argument, so it would
    # otherwise keep the previous test's roots (for its 2 s ttl) and the lab's job registry.
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def yours(tmp_path, monkeypatch, store):
    """An empty runs folder of the user's ($LTH_RUNS_DIR); the shipped root holds the synthetic run."""
    folder = tmp_path / "yours"
    folder.mkdir()
    use_roots(monkeypatch, store.shipped, folder)
    return folder


def relative_page(stem: str) -> str:
    return str(page_file(stem).relative_to(ENTRY.parent))


@pytest.fixture
def app(yours):
    """open(stem, **query): the app run at `start`, then switched to that page; no exception."""

    def open_page(stem: str = "start", **query) -> AppTest:
        at = AppTest.from_file(str(ENTRY), default_timeout=60)
        at.query_params.update(query)
        at.run()
        if stem != "start":
            at.switch_page(relative_page(stem)).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_page


def figures(at: AppTest) -> dict[str, dict]:
    """The page's Plotly figures (as JSON dicts) by chart key."""
    return {chart.key: json.loads(chart.proto.spec) for chart in at.get("plotly_chart")}


def title(figure: dict) -> str:
    return figure["layout"]["title"]["text"]


def named_traces(figure: dict) -> list[str]:
    return [t["name"] for t in figure["data"] if t.get("name")]


def texts(elements) -> list[str]:
    return [e.value for e in elements]


# --- every page --------------------------------------------------------------------------
def test_every_page_of_the_entry_point_is_tested():
    assert entry_pages() == list(TITLES), "a page was added or removed: update TITLES and CHARTS in app_fixtures.py"


@pytest.mark.parametrize("stem", list(TITLES))
def test_page_shows_title_charts_and_downloads(app, store, stem):
    at = app(stem)
    assert texts(at.title) == [TITLES[stem]]
    assert at.selectbox(key="run").value == str(store.run)
    assert not at.error, texts(at.error)
    charts = figures(at)
    assert len(charts) == CHARTS[stem], list(charts)
    for key, figure in charts.items():
        assert figure["data"], f"{key} has no trace"
        assert store.run_id[:6] in title(figure), f"{key} does not name its run"
    labels = [b.label for b in at.get("download_button")]
    if stem == "export":
        assert labels == ["Download the zip"]
    else:
        assert labels == ["PNG", "SVG", "HTML", "CSV"] * CHARTS[stem]


def test_accuracy_metric_changes_the_chart(app):
    at = app("accuracy")
    before = figures(at)["chart-accuracy"]
    assert title(before).startswith("Test accuracy at early stop")
    at.radio(key="acc_metric").set_value("train_acc_final").run()
    after = figures(at)["chart-accuracy"]
    assert title(after).startswith("Train accuracy at the end of training")
    assert after["layout"]["yaxis"]["title"]["text"] != before["layout"]["yaxis"]["title"]["text"]


def test_accuracy_arms_pick_the_traces(app):
    at = app("accuracy")
    every = named_traces(figures(at)["chart-accuracy"])
    assert every == ["Winning ticket (IMP)", "Random reinitialisation", "Random pruning", "One-shot pruning"]
    at.multiselect(key="acc_arms").set_value(["ticket", "reinit"]).run()
    assert named_traces(figures(at)["chart-accuracy"]) == ["Winning ticket (IMP)", "Random reinitialisation"]
    assert len(figures(at)["chart-accuracy"]["data"]) < 2 * len(every)


def test_accuracy_overlays_another_run(app, yours, store):
    twin = twin_run(store.run, yours)
    at = app("accuracy")
    alone = figures(at)["chart-accuracy"]
    compare = at.multiselect(key="acc_compare")
    assert compare.options == [store_mod.label(store_mod.read_config(twin), twin)]
    compare.set_value([str(twin)]).run()
    both = figures(at)["chart-accuracy"]
    assert "2 runs compared" in title(both)
    assert len(both["data"]) == 2 * len(alone["data"])


def test_early_stopping_levels_pick_the_learning_curves(app):
    at = app("early_stopping")
    curves = named_traces(figures(at)["chart-curves"])
    assert {name.split(" · ")[0] for name in curves} == {"100.0% remaining", "80.0% remaining", "64.1% remaining"}
    at.multiselect(key="es_levels").set_value([2]).run()
    assert named_traces(figures(at)["chart-curves"]) == [n for n in curves if n.startswith("64.1%")]
    at.multiselect(key="es_levels").set_value([]).run()
    assert "chart-curves" not in figures(at)
    assert any("Pick at least one level" in m for m in texts(at.info))


def test_early_stopping_curve_metric(app):
    at = app("early_stopping")
    at.radio(key="es_curve_metric").set_value("val_loss").run()
    assert title(figures(at)["chart-curves"]).startswith("Validation loss during training")


def test_masks_level_slider_changes_the_masks(app):
    at = app("masks")
    assert title(figures(at)["chart-m-fc1"]).startswith("Mask of layer fc1: 64.0% of 235,200 weights kept")
    at.select_slider(key="m_level").set_value(0).run()
    charts = figures(at)
    assert title(charts["chart-m-fc1"]).startswith("Mask of layer fc1: 100.0% of 235,200 weights kept")
    assert title(charts["chart-m-bars"]).startswith("Weights remaining per layer at level 0")
    assert "level 0," in title(charts["chart-m-fc1"])


def test_masks_arm_picks_another_mask(app):
    at = app("masks")
    ticket = figures(at)["chart-m-fc1"]
    at.selectbox(key="m_arm").set_value("random_prune").run()
    random = figures(at)["chart-m-fc1"]
    assert "Random pruning" in title(random)
    assert random["data"][0]["z"] != ticket["data"][0]["z"]


def test_weights_layer_and_level_change_the_histograms(app):
    at = app("weights")
    assert at.selectbox(key="w_layer").options == ["fc1", "fc2", "output"]
    at.selectbox(key="w_layer").set_value("fc2").run()
    charts = figures(at)
    assert len(charts) == 3
    assert all(" · layer fc2<br>" in title(f) for f in charts.values()), [title(f) for f in charts.values()]
    at.select_slider(key="w_level").set_value(2).run()
    assert all("· level 2" in title(f) for f in figures(at).values())


def test_lab_slider_moves_the_no_retraining_point(app):
    at = app("lab")
    before = figures(at)["chart-lab-slider"]
    at.slider(key="lab_pct").set_value(50.0).run()
    assert at.metric[0].label == "Pruned to 50.0%, not retrained"
    assert [s["x0"] for s in before["layout"]["shapes"]] == [20.0]  # the marker at the slider's %
    assert [s["x0"] for s in figures(at)["chart-lab-slider"]["layout"]["shapes"]] == [50.0]


def test_export_formats_enable_the_zip(app):
    at = app("export")
    assert at.get("download_button")[0].proto.disabled is False
    at.multiselect(key="export_formats").set_value([]).run()
    assert at.get("download_button")[0].proto.disabled is True


# --- the run picker and the address bar --------------------------------------------------
def test_run_picker_syncs_the_address_bar(app, yours, store):
    twin = twin_run(store.run, yours)
    at = app("start")
    assert at.selectbox(key="run").value == str(store.run)  # shipped runs first
    assert at.query_params["run"] == store.run_id[:12]
    at.selectbox(key="run").set_value(str(twin)).run()
    assert at.query_params["run"] == twin.name[:12]
    assert f"run {twin.name[:6]}" in title(figures(at)["chart-start"])


def test_address_bar_opens_the_run_it_names(app, yours, store):
    twin = twin_run(store.run, yours)
    at = app("start", run=twin.name[:6])
    assert at.selectbox(key="run").value == str(twin)
    assert f"run {twin.name[:6]}" in title(figures(at)["chart-start"])
    assert at.query_params["run"] == twin.name[:12]


def test_deep_link_on_a_fresh_server(yours, store):
    """A copied link (page + ?run=) opened before anyone has loaded the start page.

    The first request of a fresh server is served like this. With the page scripts in a folder
    named `pages/`, Streamlit runs the page file alone (its old file-based multipage mode), so the
    entry point never runs: no run picker, no set_page_config, and "No finished results".
    """
    at = AppTest.from_file(str(ENTRY), default_timeout=60)
    at.query_params["run"] = store.run_id[:6]
    at.switch_page(relative_page("accuracy")).run()
    assert not at.exception
    assert texts(at.title) == [TITLES["accuracy"]]
    assert [s.key for s in at.sidebar.selectbox] == ["run"], "the entry point did not run: no run picker"
    assert at.selectbox(key="run").value == str(store.run)
    assert "chart-accuracy" in figures(at)


# --- damaged and empty stores --------------------------------------------------------------
def test_damaged_folder_is_listed_with_its_reason(app, store):
    at = app("start")
    expanders = [e for e in at.sidebar.expander if "damaged" in e.label]
    assert [e.label for e in expanders] == ["1 damaged run folder(s)"]
    captions = texts(expanders[0].caption)
    assert len(captions) == 1
    assert str(store.damaged) in captions[0] and "config.json is damaged" in captions[0]
    assert "chart-start" in figures(at)  # the healthy run is still shown


def visit_every_page(at: AppTest):
    for stem in TITLES:
        if stem != "start":
            at.switch_page(relative_page(stem)).run()
        assert not at.exception, (stem, [e.value for e in at.exception])
        assert texts(at.title) == [TITLES[stem]]
        yield stem


def test_empty_store_every_page_says_what_to_do(app, monkeypatch, tmp_path):
    use_roots(monkeypatch, tmp_path / "shipped-missing", tmp_path / "yours-missing")
    at = app("start")
    assert any("No results yet" in m for m in texts(at.sidebar.info))
    for stem in visit_every_page(at):
        assert not figures(at), stem
        assert any("Pruning lab" in m for m in texts(at.main.info)), (stem, texts(at.main.info))
        assert "run" not in at.session_state
    assert not (tmp_path / "shipped-missing").exists()


def test_store_with_only_damaged_runs(monkeypatch, tmp_path):
    """A root whose only run folder is damaged: the pages say so and still render."""
    shipped = tmp_path / "shipped"
    (shipped / DAMAGED_NAME).mkdir(parents=True)
    (shipped / DAMAGED_NAME / "config.json").write_text("{")
    use_roots(monkeypatch, shipped, tmp_path / "yours")
    at = AppTest.from_file(str(ENTRY), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.label for e in at.sidebar.expander] == ["1 damaged run folder(s)"]
    for stem in visit_every_page(at):
        assert not figures(at), stem


# --- the lab's form ----------------------------------------------------------------------
@pytest.mark.parametrize("key, value, named", [
    ("lab_levels", 99, "--levels"),
    ("lab_iterations", 10, "--iterations"),
    ("lab_trials", 0, "--trials"),
    ("lab_rate_fc", 1.5, "--rate-fc"),
])
def test_lab_refuses_bad_values_and_starts_nothing(app, yours, key, value, named):
    at = app("lab")
    at.number_input(key=key).set_value(value)
    at.get("form_submit_button")[0].click().run()
    assert not at.exception
    errors = texts(at.error)
    assert len(errors) == 1 and named in errors[0], errors
    assert store_mod.find_runs(yours) == []
    assert not (yours / ".logs").exists()  # where a started job writes its log
    assert "Your experiments" not in texts(at.subheader)
