"""The code's style, checked: ruff's pyflakes (F), import order (I) and lines within 120 characters (E501),
as pyproject.toml selects them, on the package, the app and the tests."""

from __future__ import annotations

import subprocess
import sys

from lth.core.paths import PROJECT_ROOT


def test_ruff_finds_nothing_in_lth_app_and_tests():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "lth", "app", "tests"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_line_passes_120_characters_in_lth_and_app():
    # ruff's E501 lets a line with a long URL or a pragma through; this does not
    files = [p for folder in ("lth", "app") for p in sorted((PROJECT_ROOT / folder).rglob("*.py"))]
    long = [f"{p.relative_to(PROJECT_ROOT)}:{i}" for p in files
            for i, line in enumerate(p.read_text().splitlines(), 1) if len(line) > 120]
    assert not long
