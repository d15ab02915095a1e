"""Presenter mode (lib.present) through AppTest: every page runs with ?present=1, every chart it draws has text of at
least 20 px (title and subtitle, axis titles, tick labels, legend, annotations, colour bars), the mode survives a page
switch and leaves with one click, and the charts every session shares stay as they were (each is restyled on a copy).

On the shipped runs (pretrained_runs/), whose sweeps, stability analysis and slimming give every page its charts.
"""

from __future__ import annotations

import json

import pytest
from app_fixtures import ENTRY, app_on, entry_pages, page_file
from streamlit.testing.v1 import AppTest

from lth.core import paths
from lth.report import figures as report_figures

SHIPPED = paths.PROJECT_ROOT / "pretrained_runs"
SMALLEST = 20  # px: text read from the back of a room
RUNS = {"structure": "3ac218"}  # pages whose charts need another shipped run than the first one (lenet-mnist)
ANSWERS = {2: ("prune", "no"), 3: ("retrain", "ticket"), 4: ("repeat", "more"), 5: ("faster", "ticket"),
           6: ("controls", "reinit"), 7: ("masks", "inside"), 8: ("stability", "bump"), 9: ("speed", "slim")}

if not any(SHIPPED.glob("lenet-mnist/*/config.json")):
    pytest.skip("no shipped runs in pretrained_runs/", allow_module_level=True)


@pytest.fixture(scope="module")
def app():
    """open(stem, **query): the app on the shipped runs, switched to that page; no exception."""
    with app_on(SHIPPED):
        def open_page(stem: str, **query) -> AppTest:
            at = AppTest.from_file(str(ENTRY), default_timeout=120)
            at.query_params.update(query)
            at.run()
            if stem != "lesson":
                at.switch_page(str(page_file(stem).relative_to(ENTRY.parent))).run()
            assert not at.exception, (stem, [e.value for e in at.exception])
            return at

        yield open_page


def charts(at: AppTest) -> dict[str, dict]:
    return {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def small_text(figure: dict) -> list[str]:
    """Every text of the figure drawn under SMALLEST px, named; a font not set is the layout's."""
    layout = figure["layout"]
    base = layout.get("font", {}).get("size", 12)
    small = []

    def check(where: str, font: dict | None, scale: float = 1.0) -> None:
        size = scale * (font or {}).get("size", base)
        if size < SMALLEST:
            small.append(f"{where}: {size:g} px")

    check("text", layout.get("font"))
    title = layout.get("title", {})
    if title.get("text"):
        check("title", title.get("font"))
        if "<sup>" in title["text"]:
            check("subtitle (<sup>, 70%)", title.get("font") or {"size": base}, 0.7)
    check("legend", layout.get("legend", {}).get("font"))
    for name, axis in layout.items():
        if name.startswith(("xaxis", "yaxis")):
            check(f"{name} ticks", axis.get("tickfont"))
            if axis.get("title", {}).get("text"):
                check(f"{name} title", axis["title"].get("font"))
    for note in layout.get("annotations", []):
        check(f"annotation {note.get('text', '')[:20]!r}", note.get("font"))
    for trace in figure["data"]:
        if "colorbar" in trace:
            check("colour bar ticks", trace["colorbar"].get("tickfont"))
            check("colour bar title", trace["colorbar"].get("title", {}).get("font"))
    return small


@pytest.mark.parametrize("stem", entry_pages())
def test_every_page_runs_in_presenter_mode_with_projector_sized_charts(app, stem):
    at = app(stem, present="1", **({"run": RUNS[stem]} if stem in RUNS else {}))
    assert at.session_state["present"] is True and at.query_params["present"] == "1"
    assert at.toggle(key="present").value is True
    assert at.button(key="leave_present")  # the way out, on the page: the sidebar is hidden
    shown = charts(at)
    if stem == "lesson":  # the first step asks nothing: its chart is there
        assert len(shown) == 1
    for key, figure in shown.items():
        assert not small_text(figure), (stem, key, small_text(figure))
    assert not at.get("download_button") or stem in ("export", "structure"), "downloads on a projector"


@pytest.mark.parametrize("step", sorted(ANSWERS))
def test_every_lesson_chart_is_projector_sized(app, step):
    at = app("lesson", present="1", step=str(step))
    key, answer = ANSWERS[step]
    at.pills(key=f"lesson_q_{key}").set_value(answer).run()
    shown = charts(at)
    assert len(shown) == 1
    for figure in shown.values():
        assert not small_text(figure), (step, small_text(figure))
        assert figure["layout"]["height"] <= 590  # the picture fits the screen beside its story


def test_presenter_mode_survives_a_page_switch_and_leaves_with_one_click(app):
    at = app("lesson", present="1")
    at.switch_page(str(page_file("accuracy").relative_to(ENTRY.parent))).run()
    assert at.query_params["present"] == "1" and at.session_state["present"] is True
    assert not at.get("download_button")
    at.button(key="leave_present").click().run()
    assert not at.exception
    assert at.session_state["present"] is False and "present" not in at.query_params
    assert at.toggle(key="present").value is False
    assert [b.label for b in at.get("download_button")] == ["PNG", "SVG", "HTML", "CSV"]
    assert "leave_present" not in [b.key for b in at.button]


def test_the_sidebar_toggle_turns_it_on_and_the_address_bar_follows(app):
    at = app("accuracy")
    assert at.session_state["present"] is False and "present" not in at.query_params
    at.toggle(key="present").set_value(True).run()
    assert at.query_params["present"] == "1"
    assert not small_text(charts(at)["chart-accuracy"])


def test_the_shared_charts_are_restyled_on_a_copy(app):
    """A projector's session and a laptop's read the same cached chart: the laptop's keeps the figures' own fonts."""
    projector = charts(app("accuracy", present="1"))["chart-accuracy"]
    laptop = charts(app("accuracy"))["chart-accuracy"]
    assert projector["layout"]["font"]["size"] >= SMALLEST
    assert laptop["layout"]["font"]["size"] == report_figures.FONT["size"]
    assert laptop["layout"]["height"] != projector["layout"]["height"]
