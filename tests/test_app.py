"""The Streamlit app through AppTest: every page shows its title and charts, its main widgets change
what is drawn, and a damaged, empty or mistyped store meets a message, never a traceback.

AppTest runs the scripts in this process, with no browser: a page takes well under a second once
the first run has imported torch. Data: a copy of conftest's `finished_run` (tests/app_fixtures.py).
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from app_fixtures import (
    CHARTS,
    DAMAGED_NAME,
    DEFAULT_PAGE,
    ENTRY,
    OWN_RUN,
    TITLES,
    entry_pages,
    make_store,
    page_file,
    twin_run,
)
from streamlit.testing.v1 import AppTest

from lth.core import store as store_mod


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
    """open(stem, **query): the app run at its default page, then switched to that page; no exception."""

    def open_page(stem: str = "start", **query) -> AppTest:
        at = AppTest.from_file(str(ENTRY), default_timeout=60)
        at.query_params.update(query)
        at.run()
        if stem != DEFAULT_PAGE:
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


def numbers(values) -> list[float]:
    """A trace's x or y as numbers: plotly writes numpy arrays as {'dtype', 'bdata' (base64)}."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


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
    if stem in OWN_RUN:
        return
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


def test_two_sessions_never_change_each_others_widgets_or_run(app, yours, store):
    """Two students on one server: what one picks (run, arm, level) leaves the other's page as it was, though
    both read the same cached charts."""
    twin = twin_run(store.run, yours)
    a, b = app("masks"), app("masks")
    before = figures(b)
    a.selectbox(key="run").set_value(str(twin)).run()
    a.selectbox(key="m_arm").set_value("random_prune").run()
    a.select_slider(key="m_level").set_value(1).run()
    b.run()
    assert b.selectbox(key="run").value == str(store.run) and b.query_params["run"] == store.run_id[:12]
    assert (b.selectbox(key="m_arm").value, b.select_slider(key="m_level").value) == ("ticket", 2)
    assert figures(b) == before
    assert a.selectbox(key="run").value == str(twin) and a.query_params["run"] == twin.name[:12]
    assert (a.selectbox(key="m_arm").value, a.select_slider(key="m_level").value) == ("random_prune", 1)
    mask = title(figures(a)["chart-m-fc1"])
    assert f"run {twin.name[:6]}" in mask and "Random pruning" in mask


def test_weights_layer_and_level_change_the_histograms(app):
    at = app("weights")
    assert at.selectbox(key="w_layer").options == ["fc1", "fc2", "output"]
    at.selectbox(key="w_layer").set_value("fc2").run()
    charts = figures(at)
    assert len(charts) == 3
    assert all(" · layer fc2<br>" in title(f) for f in charts.values()), [title(f) for f in charts.values()]
    at.select_slider(key="w_level").set_value(2).run()
    assert all("· level 2" in title(f) for f in figures(at).values())


def test_weights_table_counts_one_trial_while_the_legend_counts_every_trial(app):
    at = app("weights")
    assert at.subheader[0].value == "In numbers, mean over 2 trials"
    both = at.dataframe[0].value["weights (per trial)"]
    at.selectbox(key="w_trial").set_value(0).run()
    one = at.dataframe[0].value["weights (per trial)"]
    assert both.to_dict() == one.to_dict() and set(one.index) == {"kept", "pruned"}
    at.selectbox(key="w_trial").set_value("all").run()
    legend = [t["name"] for t in figures(at)["chart-w-initial"]["data"]]
    assert legend[0] == f"kept by the next level ({2 * one['kept']:,} weights)", legend


def test_paper_page_counts_its_verdicts_and_gives_the_command_for_the_same_table(app, store):
    at = app("paper")
    table = at.dataframe[0].value
    assert set(table.verdict) <= {"agree", "disagree", "not yet"} and len(table) == 11
    assert sum(int(m.value) for m in at.metric) == len(table)
    command = at.caption[0].value.split("`")[1].split()
    assert command[:4] == ["python", "-m", "lth", "check-paper"]
    assert Path(command[4]).resolve() == Path(store.run).resolve()  # outside the working folder: the full path


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
        at.switch_page(relative_page(stem)).run()
        assert not at.exception, (stem, [e.value for e in at.exception])
        assert texts(at.title) == [TITLES[stem]]
        yield stem


def test_empty_store_every_page_says_what_to_do(app, monkeypatch, tmp_path):
    use_roots(monkeypatch, tmp_path / "shipped-missing", tmp_path / "yours-missing")
    at = app("start")
    assert any("No results yet" in m for m in texts(at.sidebar.info))
    for stem in visit_every_page(at):
        if stem in OWN_RUN:  # its own run's empty axes, and its own button
            continue
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
        assert not figures(at) or stem in OWN_RUN, stem


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
    assert "Experiments on this server" not in texts(at.subheader)


# --- gradient-found tickets (gate sweeps as further arms) ------------------------------------
@pytest.fixture(scope="module")
def gated_store(gated_run, tmp_path_factory):
    return make_store(gated_run.path, tmp_path_factory.mktemp("gated_store"))


@pytest.fixture
def gated(tmp_path, monkeypatch, gated_store):
    """Like `app`, on a shipped root holding the gated run (every gate sweep, 3 points each)."""
    use_roots(monkeypatch, gated_store.shipped, tmp_path)

    def open_page(stem: str) -> AppTest:
        at = AppTest.from_file(str(ENTRY), default_timeout=60).run()
        at.switch_page(relative_page(stem)).run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.selectbox(key="run").value == str(gated_store.run)
        return at

    return open_page


def test_gradient_page_without_sweeps_shows_the_command(app, store):
    at = app("gradient")
    assert not figures(at)
    assert any("no gradient-found masks yet" in m for m in texts(at.info))
    commands = at.code[0].value.splitlines()
    assert [c.split(" --method ")[1].split()[0] for c in commands] == ["gaussian", "hard_concrete", "cs"]
    assert all(c.startswith(f"python -m lth gates {store.run} ") for c in commands)


def test_gradient_page_compares_a_learned_mask_with_imp(gated, gated_store):
    from lth.report import gate_figures
    from lth.runs import results, tables

    at = gated("gradient")
    assert len(at.dataframe[0].value) == 3  # the sweeps table: one row per method
    charts = figures(at)
    assert set(charts) == {"chart-g-overlap", "chart-g-cost"} | {f"chart-g-{layer}-{side}" for layer in
                                                                  ("fc1", "fc2", "output") for side in ("gate", "imp")}
    assert at.get("download_button") and len(at.get("download_button")) == 4 * len(charts)
    arm = at.selectbox(key="g_arm")
    assert arm.value == "gaussian_strong"
    assert set(arm.options) >= {"Continuous sparsification (retrained)", "Hard-concrete gates, weak (retrained)"}

    at.selectbox(key="g_arm").set_value("hard_concrete_weak").run()
    at.select_slider(key="g_point").set_value(2).run()
    run = results.Run(gated_store.run)
    summary = run.summary()
    pct = summary[(summary.arm == "hard_concrete_weak") & (summary.point == 2)].percent_remaining.mean()
    level = tables.nearest_level(summary, pct)
    assert f"IMP ticket, level {level} (closest sparsity)" in [m.label for m in at.metric]
    learned = run.masks(point=2)[("hard_concrete_weak", 0, 0)]
    expected = gate_figures.overlap_frame(learned, run.masks(level)[("ticket", 0, 0)])
    overlap = figures(at)["chart-g-overlap"]
    assert numbers(overlap["data"][0]["y"]) == pytest.approx(expected.jaccard.tolist())
    assert "Hard-concrete gates, weak (retrained) at λ=0.001" in title(overlap)


def test_masks_page_shows_a_gate_arm_at_its_sweep_points(gated):
    at = gated("masks")
    at.selectbox(key="m_arm").set_value("cs").run()
    slider = at.select_slider(key="m_level")
    assert slider.label == "Sweep point"
    assert [o.split(" · ")[0] for o in slider.options] == ["s0=0.05", "s0=0", "s0=-0.1"]
    slider.set_value(2).run()
    charts = figures(at)
    assert title(charts["chart-m-bars"]).startswith("Weights remaining per layer at s0=0 · Continuous sparsification")
    assert "s0=0, Continuous sparsification" in title(charts["chart-m-fc1"])
    at.selectbox(key="m_arm").set_value("ticket").run()  # back to IMP: levels again, the last one picked
    assert at.select_slider(key="m_level").label == "Level" and at.select_slider(key="m_level").value == 2


def test_accuracy_and_early_stopping_show_gate_arms(gated):
    at = gated("accuracy")
    groups = at.get("button_group")[0]
    assert groups.value == ["IMP and its controls"]  # the other groups are a click away
    groups.set_value(["IMP and its controls", "Found by gradient descent"]).run()
    traces = {t["name"]: t for t in figures(at)["chart-accuracy"]["data"] if t.get("name")}
    assert "Gaussian gates, strong (θ₀ frozen)" in traces and "Continuous sparsification (retrained)" in traces
    cs = numbers(traces["Continuous sparsification (retrained)"]["x"])
    assert len(cs) == 3 and 100.0 not in cs  # its three sweep points, never the dense net
    assert 100.0 in numbers(traces["Random reinitialisation"]["x"])
    assert any("never trained" in m for m in texts(at.markdown))
    at.switch_page(relative_page("early_stopping")).run()
    assert not [n for n in named_traces(figures(at)["chart-es"]) if "strong" in n]
    assert at.multiselect(key="es_curve_arms").options == ["Winning ticket (IMP)", "Random reinitialisation",
                                                           "Random pruning", "One-shot pruning"]


@pytest.mark.parametrize("field, value, named", [
    ("gate_sweep", "1e-5,abc", "--sweep"),
    ("gate_sweep", "1,2,3,4,5,6", "between 1 and 5"),
    ("gate_iterations", 10, "--gate-iterations"),
])
def test_lab_gate_form_refuses_bad_values_and_starts_nothing(app, store, field, value, named):
    at = app("lab")
    widget = at.text_input(key=field) if field == "gate_sweep" else at.number_input(key=field)
    widget.set_value(value)
    at.get("form_submit_button")[1].click().run()
    assert not at.exception
    errors = texts(at.error)
    assert len(errors) == 1 and named in errors[0], errors
    assert not (store.run / "methods").exists()


def test_lab_gate_form_refuses_other_settings_for_a_finished_sweep(gated, gated_store):
    at = gated("lab")
    before = sorted(p.stat().st_mtime_ns for p in (gated_store.run / "methods").rglob("*"))
    at.text_input(key="gate_sweep").set_value("1e-5")
    at.get("form_submit_button")[1].click().run()
    errors = texts(at.error)
    assert len(errors) == 1 and "already has a gaussian sweep" in errors[0], errors
    assert sorted(p.stat().st_mtime_ns for p in (gated_store.run / "methods").rglob("*")) == before


def test_lab_gate_sweep_runs_in_the_background_and_the_pages_pick_it_up(monkeypatch, tmp_path, finished_run):
    """A real `lth gates` subprocess on a private copy of the run; the cached pages see it without a restart."""
    own = make_store(finished_run.path, tmp_path)
    use_roots(monkeypatch, own.shipped, tmp_path / "yours")
    at = AppTest.from_file(str(ENTRY), default_timeout=60).run()
    at.switch_page(relative_page("gradient")).run()
    assert not figures(at)  # no sweep yet
    at.switch_page(relative_page("lab")).run()
    at.text_input(key="gate_sweep").set_value("1e-4,1e-3")
    at.number_input(key="gate_iterations").set_value(50)
    at.checkbox(key="gate_retrain").uncheck()
    at.get("form_submit_button")[1].click().run()
    assert not at.exception and not at.error, texts(at.error)
    mdir = own.run / "methods" / "gaussian"
    deadline = time.monotonic() + 180
    while store_mod.read_status(mdir).get("state") not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert store_mod.read_status(mdir)["state"] == "done", (mdir / "gates.log").read_text()[-2000:]
    done = lambda: [m for m in texts(at.success) if "Gaussian gates on run" in m and ": done" in m]  # noqa: E731
    while not done() and time.monotonic() < deadline:  # the process writes its last status, then exits
        time.sleep(0.5)
        at.run()
    assert done(), texts(at.success)
    at.switch_page(relative_page("gradient")).run()
    assert "chart-g-overlap" in figures(at)
    assert at.selectbox(key="g_arm").options == ["Gaussian gates, strong (θ₀ frozen)"]


@pytest.mark.parametrize("stem", list(TITLES))
def test_every_page_works_on_a_gated_run(gated, stem):
    at = gated(stem)
    assert texts(at.title) == [TITLES[stem]]
    assert not at.error, texts(at.error)
    if CHARTS[stem]:
        assert figures(at), stem


@pytest.fixture(scope="module")
def damaged_sweeps_store(gated_run, tmp_path_factory):
    """The gated run with each sweep damaged another way: method.json cut off, a summary cut off, masks garbage."""
    s = make_store(gated_run.path, tmp_path_factory.mktemp("damaged_sweeps"))
    methods = s.run / "methods"
    (methods / "gaussian" / "method.json").write_text('{"method_id": "x", "gates": {')
    (methods / "cs" / "points" / "point_01" / "trial_00" / "summary.json").write_text('{"point": 1, "rows": [')
    masks = methods / "hard_concrete" / "points" / "point_02" / "trial_00" / "masks.npz"
    masks.write_bytes(masks.read_bytes()[:200])  # cut off mid-write
    return s


@pytest.mark.parametrize("stem", list(TITLES))
def test_damaged_sweeps_never_take_a_page_down(damaged_sweeps_store, tmp_path, monkeypatch, stem):
    use_roots(monkeypatch, damaged_sweeps_store.shipped, tmp_path)
    at = AppTest.from_file(str(ENTRY), default_timeout=60).run()
    at.switch_page(relative_page(stem)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert texts(at.title) == [TITLES[stem]]
    if stem in ("gradient", "masks"):  # the damaged masks: a visible error, never a traceback
        arm = at.selectbox(key="g_arm" if stem == "gradient" else "m_arm")
        arm.set_value("hard_concrete_strong").run()
        slider = at.select_slider(key="g_point" if stem == "gradient" else "m_level")
        slider.set_value(2).run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("damaged" in e for e in texts(at.error)), texts(at.error)
