"""The app in a real browser: `streamlit run` on a free port, Debian's Chromium driven by Playwright.

Claims checked: every page renders its charts with no exception (a full-page screenshot of each goes
to test-artifacts/screenshots/), a link to a page opens it complete even on a fresh server, the
Accuracy page's PNG and CSV downloads are a PNG and the plotted table, and an experiment started
in the Pruning lab runs to the end in the background while the user clicks around.
Timings (load of the start page to its first chart, page switches) are printed and written to
test-artifacts/browser-timings.json, never asserted: this machine may be busy.

One server and one browser for the module; the data are a copy of conftest's `finished_run`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from app_fixtures import CHARTS, DEFAULT_PAGE, ENTRY, REPO, TITLES, Store, entry_pages, make_store

from lth.core import paths
from lth.core import store as store_mod

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (make browser): no browser tests", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

pytestmark = pytest.mark.browser
sync_api.expect.set_options(timeout=60_000)  # a busy 2-core machine: page switches can take seconds

ARTIFACTS = REPO / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# The app's own state: "running" from the first element a script sends to its end (Streamlit's "running" indicator,
# stStatusWidget, shows only after a delay, so a wait for it to be gone can pass while the script still runs)
FINISHED = '[data-testid="stApp"][data-test-script-state="notRunning"]'
EXCEPTION = '[data-testid="stException"]'
CHART = ".js-plotly-plot"
NAV_LABELS = {"start": "Start here", "accuracy": "Accuracy vs sparsity", "masks": "Masks", "lab": "Pruning lab",
              "gradient": "Gradient-found tickets", "early_stopping": "Early stopping", "paper": "Paper vs this run"}
TIMINGS: dict[str, float | list[float]] = {}


# --- the server and the browser ------------------------------------------------------------
@dataclass
class Server:
    url: str
    store: Store
    yours: Path  # $LTH_RUNS_DIR: where the lab writes
    log: Path
    gated: Path  # a second shipped run, with every gate sweep (listed after the store's run: fewer units)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"streamlit not healthy after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@contextmanager
def streamlit(shipped: Path, yours: Path, log: Path, **env_extra: str) -> Iterator[str]:
    """`streamlit run` on a free port with these results folders (and `env_extra` in its environment); yields its
    address. On the way out, lab experiments still training in `yours` are cancelled: they outlive the server."""
    url = f"http://localhost:{free_port()}"
    env = {**os.environ, "LTH_PRETRAINED_DIR": str(shipped), "LTH_RUNS_DIR": str(yours), **env_extra}
    command = [sys.executable, "-m", "streamlit", "run", str(ENTRY.relative_to(REPO)), "--server.port",
               url.rsplit(":", 1)[1], "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_healthy(url, process, log)
        yield url
    finally:
        for run in store_mod.find_runs(yours) if yours.is_dir() else []:
            if store_mod.read_status(run).get("state") in ("pending", "running"):
                paths.cancel_file(run).touch()
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def server(finished_run, gated_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser_store")
    store = make_store(finished_run.path, folder)
    gated = Path(shutil.copytree(gated_run.path, store.shipped / gated_run.path.name,
                                 ignore=shutil.ignore_patterns(".lock", "CANCEL")))
    yours = folder / "yours"
    yours.mkdir()
    log = folder / "streamlit.log"
    try:
        with streamlit(store.shipped, yours, log) as url:
            yield Server(url, store, yours, log, gated)
    finally:
        if TIMINGS:
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "browser-timings.json").write_text(json.dumps(TIMINGS, indent=1))
            print("\nbrowser timings (s):", json.dumps(TIMINGS))


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(60_000)
    yield context.new_page()
    context.close()


# --- helpers ---------------------------------------------------------------------------------
def wait_idle(page, stem: str, timeout: float = 90_000) -> None:
    """The page's title is shown, its charts drawn, and no script is running."""
    sync_api.expect(page.locator("h1").first).to_have_text(TITLES[stem], timeout=timeout)
    if CHARTS[stem]:
        page.locator(CHART).first.wait_for(state="visible", timeout=timeout)
    page.locator(FINISHED).wait_for(timeout=timeout)


def screenshot(page, name: str) -> Path:
    """The whole page: Streamlit scrolls inside its main block, so grow the viewport to fit it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("""() => Math.max(document.body.scrollHeight,
        ...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]')]
            .map(e => e.scrollHeight))""")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), 12_000)})
    page.wait_for_timeout(500)  # charts re-lay out for the new size
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def assert_no_exception(page) -> None:
    shown = page.locator(EXCEPTION)
    assert shown.count() == 0, shown.first.inner_text()


def go_by_nav(page, stem: str) -> tuple[float, float]:
    """Click the page's link in the sidebar; seconds until it is shown (title, first chart) and until its script
    has finished (the page complete), so that the next switch does not pay for the end of this page."""
    start = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=NAV_LABELS[stem], exact=True).click()
    sync_api.expect(page.locator("h1").first).to_have_text(TITLES[stem])
    if CHARTS[stem]:
        page.locator(CHART).first.wait_for(state="visible")
    shown = time.perf_counter() - start
    page.locator(FINISHED).wait_for()
    return round(shown, 2), round(time.perf_counter() - start, 2)


def record_switches(name: str, page, stems: tuple[str, ...]) -> None:
    """Each switch's seconds to shown and to complete, in TIMINGS."""
    shown, complete = zip(*(go_by_nav(page, stem) for stem in stems))
    TIMINGS[f"{name} ({', '.join(stems)}): shown"] = list(shown)
    TIMINGS[f"{name} ({', '.join(stems)}): complete"] = list(complete)


# --- the tests (in file order: the first one needs a server no page has been opened on) ---------
def test_deep_link_on_a_fresh_server(server, page):
    """A copied link (page + ?run=) opened before anyone has loaded the start page shows the run.

    With the page scripts in a folder named `pages/`, a fresh Streamlit server starts in its old
    file-based multipage mode: the page file runs alone, without the entry point, so there is no run
    picker, the sidebar lists raw file names and the page says there are no results.
    """
    start = time.perf_counter()
    page.goto(f"{server.url}/accuracy?run={server.store.run_id[:6]}")
    sync_api.expect(page.locator("h1").first).to_have_text(TITLES["accuracy"], timeout=90_000)
    page.locator(f'{CHART}, [data-testid="stAlert"]').first.wait_for(timeout=90_000)
    page.locator(FINISHED).wait_for(timeout=90_000)
    TIMINGS["fresh server, deep link to first chart or message"] = round(time.perf_counter() - start, 2)
    screenshot(page, "deep-link-fresh-server")
    assert_no_exception(page)
    assert page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').count() == 1, "no run picker"
    assert page.locator(CHART).count() == 1


@pytest.mark.parametrize("stem", entry_pages())
def test_page_renders(server, page, stem):
    start = time.perf_counter()
    page.goto(f"{server.url}/{'' if stem == DEFAULT_PAGE else stem}")
    wait_idle(page, stem)
    if stem == "start":
        TIMINGS["start page: navigation to first chart"] = round(time.perf_counter() - start, 2)
    assert_no_exception(page)
    assert page.locator(CHART).count() >= min(CHARTS[stem], 1)
    assert page.locator('[data-testid="stSidebar"]').get_by_text("1 damaged run folder(s)").count() == 1
    screenshot(page, stem)


def test_page_switch_timings(server, page):
    page.goto(f"{server.url}/start")
    wait_idle(page, "start")
    record_switches("page switch via sidebar", page, ("accuracy", "masks", "lab", "start"))
    assert_no_exception(page)
    assert f"run={server.store.run_id}" in page.url  # the picked run stays in the address bar


def test_timings_on_the_shipped_runs(server, page, tmp_path):
    """What a teacher's class meets: `make app`'s results (pretrained_runs/) on a fresh server, the first chart
    and then page switches timed (recorded, not asserted). Uses `server` only so its teardown writes TIMINGS."""
    shipped = paths.pretrained_dir()
    if not any(shipped.glob("*/*/config.json")):
        pytest.skip(f"no shipped runs in {shipped}")
    with streamlit(shipped, tmp_path, tmp_path / "streamlit.log") as url:
        start = time.perf_counter()
        page.goto(f"{url}/start")
        wait_idle(page, "start")
        TIMINGS["shipped runs, fresh server: start page to first chart"] = round(time.perf_counter() - start, 2)
        switches = ("accuracy", "early_stopping", "masks", "paper", "gradient", "start")
        record_switches("shipped runs, page switches", page, switches)
        assert_no_exception(page)


def test_gradient_page_on_a_gated_run(server, page):
    """The learned mask next to IMP's, their overlap and the cost chart, drawn in a browser."""
    page.goto(f"{server.url}/gradient?run={server.gated.name[:6]}")
    sync_api.expect(page.locator("h1").first).to_have_text(TITLES["gradient"], timeout=90_000)
    page.get_by_text("How much two masks agree").first.wait_for(timeout=90_000)
    page.locator(FINISHED).wait_for(timeout=90_000)
    assert_no_exception(page)
    assert page.locator(CHART).count() >= 4  # overlap, the first layer's two masks, cost (other tabs are hidden)
    assert page.get_by_text("Accuracy, and what finding and training each ticket cost").count() == 1
    screenshot(page, "gradient-gated")


def test_accuracy_downloads_png_and_csv(server, page):
    page.goto(f"{server.url}/accuracy")
    wait_idle(page, "accuracy")
    downloads = {}
    for label in ("PNG", "CSV"):
        with page.expect_download(timeout=120_000) as info:
            page.get_by_role("button", name=label, exact=True).click()
        downloads[label] = Path(info.value.path()).read_bytes()
        assert info.value.suggested_filename.endswith(f".{label.lower()}")
    assert downloads["PNG"].startswith(b"\x89PNG\r\n\x1a\n")
    header = downloads["CSV"].decode().splitlines()[0].split(",")
    assert "percent_remaining" in header and "arm" in header
    assert_no_exception(page)


def test_lab_experiment_runs_while_clicking_around(server, page):
    page.goto(f"{server.url}/lab")
    sync_api.expect(page.locator("h1").first).to_have_text(TITLES["lab"], timeout=90_000)
    page.get_by_role("spinbutton", name="Pruning levels").fill("1")  # the input, not its help button
    page.get_by_role("spinbutton", name="Iterations per level").fill("100")
    page.get_by_role("button", name="Start", exact=True).click()
    page.get_by_text("Experiments on this server").wait_for()
    for stem in ("accuracy", "masks", "lab"):
        go_by_nav(page, stem)
        assert_no_exception(page)
    page.get_by_text(re.compile(r": done\. Pick it in the sidebar")).wait_for(timeout=120_000)
    screenshot(page, "lab-done")
    runs = store_mod.find_runs(server.yours)
    assert len(runs) == 1, runs
    assert store_mod.read_status(runs[0])["state"] == "done"
    cfg = store_mod.read_config(runs[0])
    assert (cfg.experiment.levels, cfg.training.iterations, cfg.data.dataset) == (1, 100, "synthetic")
    assert store_mod.finished_levels(runs[0]) == [0, 1]
