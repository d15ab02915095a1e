"""IMP live in a real browser: a teacher opens "Run IMP live", presses the button, and the chart grows a point per
arm as each level finishes, then says in one sentence what the class saw; a reload shows the same.

Real MNIST where ../shared/data/mnist.npz exists (the lenet-mnist-live preset), else the synthetic preset. The
server gets no OMP_NUM_THREADS (the test suite sets 1), so it trains as a teacher's server would. Timings (click to
the first point drawn, click to every level drawn) go to test-artifacts/browser-timings.json, recorded and never
asserted: this machine may be busy. The finished page's screenshot is test-artifacts/screenshots/live-done.png.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from lth.core import paths
from lth.core import store as store_mod
from lth.core.config import preset

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (make browser): no browser tests", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
from test_browser import (  # noqa: E402  (after the skips: test_browser needs the browser too)
    ARTIFACTS,
    CHART,
    FINISHED,
    SCREENSHOTS,
    assert_no_exception,
    screenshot,
    streamlit,
)

pytestmark = pytest.mark.browser
REAL_DATA = paths.PROJECT_ROOT.parent / "shared" / "data"
# the points of the page's most complete chart (while a fragment reruns, the old chart may still be in the page);
# looked for every 50 ms, not at every animation frame, which would take the CPU the training needs
POINTS = (f"Math.max(0, ...[...document.querySelectorAll('{CHART}')]"
          ".map(c => c.querySelectorAll('.scatterlayer .point').length))")
@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """The app on a free port, with empty results folders and real MNIST where there is some."""
    folder = tmp_path_factory.mktemp("live_server")
    data = REAL_DATA if (REAL_DATA / "mnist.npz").exists() else folder / "no_data"
    data.mkdir(exist_ok=True)
    (folder / "shipped").mkdir()
    (folder / "yours").mkdir()
    # the warm worker, whatever the test run chose; training on the machine's threads, as in class
    with streamlit(folder / "shipped", folder / "yours", folder / "streamlit.log", LTH_DATA_DIR=str(data),
                   LTH_LAB_WORKER="1", OMP_NUM_THREADS=str(os.cpu_count() or 1)) as url:
        yield url, folder / "yours", data == REAL_DATA


def open_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(90_000)
    page = context.new_page()
    page.goto(f"{url}/live")
    sync_api.expect(page.locator("h1").first).to_have_text("Run IMP live", timeout=90_000)
    page.locator(FINISHED).wait_for(timeout=90_000)
    return page


def wait_worker_ready(yours: Path, timeout: float = 120) -> None:
    """The page started the server's warm worker; a teacher talks for a few seconds before pressing the button."""
    log, deadline = yours / ".logs" / "worker.log", time.monotonic() + timeout
    while not (log.exists() and "ready" in log.read_text()):
        assert time.monotonic() < deadline, "the lab's warm worker never got ready"
        time.sleep(0.1)


def record(timings: dict) -> None:
    """Merged into the browser timings (tests/test_browser.py writes the rest)."""
    path = ARTIFACTS / "browser-timings.json"
    ARTIFACTS.mkdir(exist_ok=True)
    saved = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**saved, **timings}, indent=1))
    print("\nlive timings (s):", json.dumps(timings))


def test_run_imp_live_grows_the_chart_and_ends_with_the_sentence(live_server, browser):
    url, yours, mnist = live_server
    page = open_page(browser, url)
    assert_no_exception(page)
    levels = preset("lenet-mnist-live" if mnist else "synthetic").experiment.levels
    wait_worker_ready(yours)
    start = time.perf_counter()
    page.get_by_role("button", name="Run IMP live").click()
    page.wait_for_function(f"{POINTS} >= 1", timeout=120_000, polling=50)
    first = time.perf_counter() - start
    every = 3 * (levels + 1)  # the ticket and its two controls, from the dense network (level 0) on
    page.mouse.move(0, 0)  # the button's tooltip off the page
    page.wait_for_function(f"{POINTS} >= {3 * (levels // 2 + 1)}",
                           timeout=300_000, polling=50)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "live-running.png"))  # half-way: the level, the time left, Cancel
    page.wait_for_function(f"{POINTS} >= {every}", timeout=300_000, polling=50)
    all_levels = time.perf_counter() - start
    sentence = page.get_by_text(re.compile(r"of the weights the ticket reached [\d.]+% test accuracy"))
    sentence.wait_for(timeout=60_000)
    record({f"live ({'real MNIST' if mnist else 'synthetic'}): click to first point drawn": round(first, 2),
            f"live ({'real MNIST' if mnist else 'synthetic'}): click to every level drawn": round(all_levels, 2),
            "live_first_point_s": round(first, 2), "live_all_levels_s": round(all_levels, 2)})
    page.locator(FINISHED).wait_for()
    assert_no_exception(page)
    assert page.get_by_text(f"{levels} of {levels}", exact=True).count() == 1
    screenshot(page, "live-done")

    again = open_page(browser, url)  # a reload, or a second browser: the same run, read from its folder
    again.wait_for_function(f"{POINTS} >= {every}", timeout=60_000)
    assert again.get_by_text(re.compile(r"of the weights the ticket reached")).count() == 1
    assert_no_exception(again)
    runs = store_mod.find_runs(yours)
    assert len(runs) == 1 and store_mod.finished_levels(runs[0]) == list(range(levels + 1))
    deadline = time.monotonic() + 60  # after the last level: the pruning lab's curve, then "done"
    while store_mod.read_status(runs[0])["state"] != "done":
        assert time.monotonic() < deadline, store_mod.read_status(runs[0])
        time.sleep(0.1)
