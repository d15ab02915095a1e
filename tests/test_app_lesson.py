"""The lesson (the app's first page) through AppTest, on the shipped runs in pretrained_runs/: every step opens by its
address (?step=N) and by Next / Back with no exception; each question hides its answer and its chart until a choice
is made, and then says "Right." or "Not quite." as the run's own data decide (computed here again from the Run API),
with the figures it states. On stores without the shipped folders every step says so and the lesson goes on.
"""

from __future__ import annotations

import json
import math
import shutil

import pytest
from app_fixtures import ENTRY, app_on
from streamlit.testing.v1 import AppTest

from lth.core import paths
from lth.report import mask_figures, stability_figures, structure_figures
from lth.runs import barriers, results, tables

SHIPPED = paths.PROJECT_ROOT / "pretrained_runs"
FOLDERS = ("lenet-mnist", "resnet8-fashion-reduced", "vgg6-slim-fashion-reduced")
TITLES = ["A dense network learns", "Prune it, no retraining", "Retrain: θ0 or fresh weights?",
          "Repeat: iterative pruning", "Tickets learn faster", "The controls", "What the ticket keeps",
          "Deeper nets: stability", "Does a ticket run faster?"]
ACC, STOP = "test_acc_at_early_stop", "early_stop_iteration"


def shipped(folder: str) -> list[results.Run]:
    return [results.Run(p.parent) for p in sorted((SHIPPED / folder).glob("*/config.json"))]


if not all(shipped(f) for f in FOLDERS):
    pytest.skip("the shipped runs the lesson reads are not in pretrained_runs/", allow_module_level=True)


@pytest.fixture(scope="module")
def lesson():
    """open(step, **query): the app at its first page, the lesson, at ?step=, on the shipped runs."""
    with app_on(SHIPPED):
        def open_step(step: int | str | None = None, **query) -> AppTest:
            at = AppTest.from_file(str(ENTRY), default_timeout=60)
            if step is not None:
                at.query_params["step"] = str(step)
            at.query_params.update(query)
            at.run()
            assert not at.exception, [e.value for e in at.exception]
            return at

        yield open_step


def header(at: AppTest) -> str:
    return at.header[0].value


def verdicts(at: AppTest) -> list[str]:
    return [e.value for e in [*at.success, *at.warning] if e.value.startswith(("**Right.**", "**Not quite.**"))]


# --- what each question's answer is, from the runs' data (the Run API, as lth computes it) ---------------------
def lenet() -> tuple[results.Run, object]:
    run = shipped("lenet-mnist")[0]
    return run, tables.imp_rows(run.summary())


def acc(rows, arm: str, level: int) -> float:
    return 100 * tables.at(rows, arm, level=level)[ACC]


def prune() -> tuple[str, list[str]]:
    run, rows = lenet()
    pruned = tables.pruned_accuracy(run.prune_curve(), 10.0)
    return ("yes" if acc(rows, "ticket", 0) - pruned <= 1 else "no"), [f"{pruned:.2f}%"]


def retrain() -> tuple[str, list[str]]:
    _, rows = lenet()
    level = tables.nearest_level(rows, 7.0)
    t, r = acc(rows, "ticket", level), acc(rows, "reinit", level)
    return ("ticket" if t >= r else "reinit"), [f"{t:.2f}%", f"{r:.2f}%"]


def repeat() -> tuple[str, list[str]]:
    _, rows = lenet()
    t, d = acc(rows, "ticket", tables.nearest_level(rows, 13.5)), acc(rows, "ticket", 0)
    return ("more" if t >= d else "less"), [f"{t:.2f}%", f"{d:.2f}%"]


def faster() -> tuple[str, list[str]]:
    _, rows = lenet()
    t = tables.at(rows, "ticket", level=tables.nearest_level(rows, 21.1))[STOP]
    d = tables.at(rows, "ticket", level=0)[STOP]
    return ("ticket" if t < d else "dense"), [f"{t:,.0f}", f"{d:,.0f}"]


def controls() -> tuple[str, list[str]]:
    _, rows = lenet()
    level = tables.nearest_level(rows, 3.6)
    ri, rp = acc(rows, "reinit", level), acc(rows, "random_prune", level)
    return ("reinit" if ri < rp else "random_prune"), [f"{ri:.2f}%", f"{rp:.2f}%"]


def masks() -> tuple[str, list[str]]:
    run, rows = lenet()
    first = run.masks(tables.nearest_level(rows, 7.0))[("ticket", 0, 0)]["fc1"]
    edge, inside = mask_figures.border_and_centre(first, 28, 4)
    return ("inside" if inside > edge else "border"), [f"{edge:.1f}", f"{inside:.1f}"]


def stability() -> tuple[str, list[str]]:
    run = next(r for r in shipped("resnet8-fashion-reduced") if paths.stability_dir(r.path).exists())
    table = barriers.barrier_table(barriers.summary(run))
    dense = table[table.level == 0].sort_values("k").iloc[0]
    ticket = table[(table.arm == "ticket") & (table.level > 0) & (table.k == dense.k)].iloc[0]
    return (("bump" if dense.test_barrier >= stability_figures.STABLE else "flat"),
            [f"{dense.test_barrier:.2f}", f"{ticket.test_barrier:.2f}"])


def speed() -> tuple[str, list[str]]:
    costs = tables.structure_table(shipped("vgg6-slim-fashion-reduced")[0])
    last = costs[costs.level == costs.level.max()]
    slim = last[last.arm.isin(structure_figures.SLIMMED)]["x faster"].mean()
    ticket = last[last.arm == "ticket"]["x faster"].mean()
    return ("slim" if slim > ticket else "ticket"), [f"{slim:.2f}x", f"{ticket:.2f}x"]


QUESTIONS = {2: ("prune", prune), 3: ("retrain", retrain), 4: ("repeat", repeat), 5: ("faster", faster),
             6: ("controls", controls), 7: ("masks", masks), 8: ("stability", stability), 9: ("speed", speed)}
# each question's answers, as the app names them (the values behind its labels)
OPTIONS = {"prune": ("yes", "no"), "retrain": ("ticket", "reinit"), "repeat": ("more", "less"),
           "faster": ("ticket", "dense"), "controls": ("reinit", "random_prune"), "masks": ("border", "inside"),
           "stability": ("bump", "flat"), "speed": ("ticket", "slim")}


# --- the tests ------------------------------------------------------------------------------------------------
def test_the_lesson_is_the_first_page_and_opens_at_step_1(lesson):
    at = lesson()
    assert [t.value for t in at.title] == ["The lesson"]
    assert header(at) == f"1 · {TITLES[0]}" and at.query_params["step"] == "1"
    assert len(at.get("plotly_chart")) == 1  # step 1 asks nothing: its learning curve is there at once
    assert not at.info and not at.warning, [e.value for e in [*at.info, *at.warning]]  # every shipped run found


@pytest.mark.parametrize("step", range(1, len(TITLES) + 1))
def test_every_step_opens_from_its_address(lesson, step):
    at = lesson(step)
    assert header(at) == f"{step} · {TITLES[step - 1]}"
    assert at.query_params["step"] == str(step)
    assert not at.error and not at.info, [e.value for e in [*at.error, *at.info]]
    assert at.get("page_link"), "no link to the page that goes deeper"


@pytest.mark.parametrize("asked, shown", [("0", 1), ("99", len(TITLES)), ("two", 1)])
def test_a_step_out_of_range_in_the_address_opens_the_nearest(lesson, asked, shown):
    at = lesson(asked)
    assert header(at).startswith(f"{shown} · ") and at.query_params["step"] == str(shown)


def test_next_and_back_walk_every_step_and_keep_the_address_bar(lesson):
    at = lesson(1)
    assert at.button(key="lesson_back").proto.disabled
    for step in range(2, len(TITLES) + 1):
        at.button(key="lesson_next").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert header(at) == f"{step} · {TITLES[step - 1]}" and at.query_params["step"] == str(step)
    assert at.button(key="lesson_next").proto.disabled
    for step in range(len(TITLES) - 1, 0, -1):
        at.button(key="lesson_back").click().run()
        assert not at.exception and header(at).startswith(f"{step} · ") and at.query_params["step"] == str(step)


@pytest.mark.parametrize("step", sorted(QUESTIONS))
def test_the_answer_stays_hidden_until_a_choice_then_follows_the_data(lesson, step):
    key, expected = QUESTIONS[step]
    right, figures = expected()
    at = lesson(step)
    pills = at.pills(key=f"lesson_q_{key}")
    assert pills.value is None and not verdicts(at)
    assert not at.get("plotly_chart"), "the chart shows before the class has answered"
    assert not [f for f in figures if any(f in m.value for m in at.markdown)], "a figure of the answer shows"

    pills.set_value(right).run()
    said = verdicts(at)
    assert len(said) == 1 and said[0].startswith("**Right.**"), said
    assert all(f in said[0] for f in figures), (figures, said[0])
    assert len(at.get("plotly_chart")) == 1

    wrong = next(o for o in OPTIONS[key] if o != right)
    at.pills(key=f"lesson_q_{key}").set_value(wrong).run()
    said = verdicts(at)
    assert len(said) == 1 and said[0].startswith("**Not quite.**"), said
    assert len(at.get("plotly_chart")) == 1  # the chart shows either way once answered


def test_an_answer_is_kept_when_the_class_comes_back_to_its_step(lesson):
    at = lesson(3)
    right, _ = retrain()
    at.pills(key="lesson_q_retrain").set_value(right).run()
    at.button(key="lesson_next").click().run()
    at.button(key="lesson_back").click().run()
    assert header(at).startswith("3 · ") and verdicts(at) and len(at.get("plotly_chart")) == 1


def test_step_2_slider_moves_the_marker(lesson):
    at = lesson(2)
    at.pills(key="lesson_q_prune").set_value("no").run()
    assert marker(at) == [10.0]
    at.slider(key="lesson_keep").set_value(50.0).run()
    assert marker(at) == [50.0]
    assert f"at 50.0%: {tables.pruned_accuracy(lenet()[0].prune_curve(), 50.0):.2f}%" in figure(at)["layout"][
        "title"]["text"]


def figure(at: AppTest) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def marker(at: AppTest) -> list[float]:
    return [shape["x0"] for shape in figure(at)["layout"]["shapes"]]


def test_without_the_shipped_folders_every_step_says_so_and_the_lesson_goes_on(finished_run, tmp_path):
    """A store holding a run, but not in the shipped folders (the other app tests' stores): each step names the
    folder it needs and draws nothing; Next still walks."""
    store = tmp_path / "shipped"
    shutil.copytree(finished_run.path, store / finished_run.path.name)
    with app_on(store):
        at = AppTest.from_file(str(ENTRY), default_timeout=60).run()
        for step in range(1, len(TITLES) + 1):
            assert not at.exception, [e.value for e in at.exception]
            assert header(at).startswith(f"{step} · ")
            notes = [m.value for m in at.info]
            assert any("which is missing or damaged" in m for m in notes), (step, notes)
            assert not at.get("plotly_chart")
            if step < len(TITLES):
                at.button(key="lesson_next").click().run()


def test_the_lenet_steps_adapt_to_a_small_run_in_the_lenet_folder(finished_run, tmp_path):
    """The synthetic run (levels 0-2) where lenet-mnist would be: every LeNet step finds its nearest level, asks,
    and draws its chart once answered."""
    store = tmp_path / "shipped"
    shutil.copytree(finished_run.path, store / "lenet-mnist" / finished_run.path.name)
    with app_on(store):
        for step in range(1, 8):
            at = AppTest.from_file(str(ENTRY), default_timeout=60)
            at.query_params["step"] = str(step)
            at.run()
            assert not at.exception, (step, [e.value for e in at.exception])
            if step in QUESTIONS:
                key = QUESTIONS[step][0]
                at.pills(key=f"lesson_q_{key}").set_value(OPTIONS[key][0]).run()
                assert not at.exception, (step, [e.value for e in at.exception])
                assert len(verdicts(at)) == 1
            assert len(at.get("plotly_chart")) == 1, step


def test_every_number_in_step_1_comes_from_the_run(lesson):
    run, rows = lenet()
    dense = tables.at(rows, "ticket", level=0)
    text = at_text(lesson(1))
    for figure in (f"{100 * dense[ACC]:.2f}%", f"{dense[STOP]:,.0f}", f"{run.config.training.iterations:,}",
                   f"{rows[rows.level == 0].trial.nunique()} trials"):
        assert figure in text, (figure, text)
    assert not math.isnan(dense[ACC])


def at_text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)
