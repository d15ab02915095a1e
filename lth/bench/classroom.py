"""`python -m lth class-bench`: a class opening the app at once, measured against a real server.

What it claims and how it is measured: it starts `streamlit run` on the shipped results (or
$LTH_PRETRAINED_DIR) on a free local port, then N headless Chromium sessions (one browser, N
pages, all at once) each open the Start page and then the Masks page, waiting for each page's first
chart. That is done in three waves: N students on the fresh server; N new students (new browsers,
the figures now built); and those same N students again (their browsers have cached the app's
JavaScript and fonts, as a returning student's has: a repeat visit). For each wave it prints the
server process's CPU seconds (user + system, read from /proc, so Linux only) per page visit, and the
slowest and median times from navigation to first chart, and beside the server's CPU seconds those
of the whole machine (/proc/stat), the N browsers included: here they share the server's cores.
Playwright drives Debian's Chromium (/usr/bin/chromium or $LTH_CHROMIUM); nothing is downloaded.
This measures; it asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..core import paths

PAGES = ("", "masks")  # the Start page, then the Masks page
CHART = ".js-plotly-plot"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores of this machine spent busy so far (/proc/stat: everything but idle and iowait)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "streamlit", "run", "app/streamlit_app.py", "--server.port", str(port),
               "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=paths.PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status == 200:
                return process
        except OSError:
            time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"the app did not start in 60 s; see {log}")


async def visit(context, url: str) -> list[float]:
    """Seconds from navigation to the first chart, for each page in PAGES, in a new tab of a student's browser."""
    page = await context.new_page()
    times = []
    for stem in PAGES:
        start = time.perf_counter()
        await page.goto(f"{url}/{stem}", wait_until="commit", timeout=300_000)
        await page.locator(CHART).first.wait_for(state="visible", timeout=300_000)
        times.append(time.perf_counter() - start)
    await page.close()
    return times


WAVES = (  # (name, a new browser per student?)
    ("first visits (fresh server)", True),
    ("new students (figures built)", True),
    ("the same students again", False),  # their browsers have the app's files cached
)


async def waves(url: str, pid: int, sessions: int) -> list[dict]:
    from playwright.async_api import async_playwright

    chromium = os.environ.get("LTH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    out = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        students = []
        for name, new in WAVES:
            if new:
                for context in students:
                    await context.close()
                size = {"width": 1400, "height": 1000}
                students = [await browser.new_context(viewport=size) for _ in range(sessions)]
            cpu, busy = cpu_seconds(pid), machine_busy_seconds()
            started = time.perf_counter()
            times = await asyncio.gather(*(visit(context, url) for context in students))
            first = [t[0] for t in times]
            out.append({"wave": name, "sessions": sessions, "visits": sessions * len(PAGES),
                        "server_cpu_s": cpu_seconds(pid) - cpu, "machine_cpu_s": machine_busy_seconds() - busy,
                        "wall_s": time.perf_counter() - started,
                        "first_chart_max_s": max(first), "first_chart_median_s": statistics.median(first),
                        "masks_chart_max_s": max(t[1] for t in times)})
        await browser.close()
    return out


def main(sessions: int = 30) -> list[dict]:
    print(__doc__.split("\n\n")[0])
    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"lth-class-bench-{port}.log"
    server = start_server(port, log)
    try:
        results = asyncio.run(waves(f"http://127.0.0.1:{port}", server.pid, sessions))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    print(f"{'wave':<30} {'sessions':>8} {'CPU s / visit':>14} {'first chart: max':>17} {'median':>7} "
          f"{'Masks chart max':>16} {'wall s':>7} {'server CPU s':>13} {'all CPU s':>10}")
    for r in results:
        print(f"{r['wave']:<30} {r['sessions']:>8} {r['server_cpu_s'] / r['visits']:>14.3f} "
              f"{r['first_chart_max_s']:>16.2f}s {r['first_chart_median_s']:>6.2f}s {r['masks_chart_max_s']:>15.2f}s "
              f"{r['wall_s']:>7.1f} {r['server_cpu_s']:>13.1f} {r['machine_cpu_s']:>10.1f}")
    print("(all CPU s: every core of this machine, the headless browsers included; they share it with the server)")
    per_visit = [r["server_cpu_s"] / r["visits"] for r in results]
    print(f"summary: sessions={sessions} cpu_per_visit_first={per_visit[0]:.3f} cpu_per_visit_new={per_visit[1]:.3f} "
          f"cpu_per_visit_repeat={per_visit[2]:.3f} slowest_first_chart_s={results[0]['first_chart_max_s']:.2f}")
    return results
