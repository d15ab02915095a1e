"""The package's floors: no import runs back up a floor, the app reaches the store only through lth.runs."""

from __future__ import annotations

import ast
from pathlib import Path

from lth.core.paths import PROJECT_ROOT

FLOORS = ["core", "engine", "tickets", "runs", "report"]  # then the top: cli, jobs, bench
LTH = PROJECT_ROOT / "lth"


def floor_of(module: str) -> int:
    """Floor of a dotted module inside lth ("lth.engine.train" -> 1); the top floor for lth.cli and the like."""
    parts = module.split(".")
    return FLOORS.index(parts[1]) if len(parts) > 1 and parts[1] in FLOORS else len(FLOORS)


def imports(path: Path, package: str) -> list[str]:
    """Every lth name a file imports, dotted and absolute ("from ..core import store" -> "lth.core.store")."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            if node.level:  # relative: up node.level - 1 packages from this one
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            out += [f"{base}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return [m for m in out if m.startswith("lth.")]


def test_no_import_runs_back_up_a_floor():
    wrong = []
    for path in LTH.rglob("*.py"):
        module = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for target in imports(path, package):
            if floor_of(target) > floor_of(module):
                wrong.append(f"{module} imports {target}")
    assert not wrong


def test_the_app_reads_runs_only_through_lth_runs():
    hits = [f"{p.name}: {m}" for p in (PROJECT_ROOT / "app").rglob("*.py") for m in imports(p, "app")
            if m.startswith("lth.core.store")]
    assert not hits


def test_modules_and_pages_stay_short():
    long_modules = {str(p.relative_to(PROJECT_ROOT)): n for p in LTH.rglob("*.py")
                    if (n := len(p.read_text().splitlines())) > 300}
    long_pages = {p.name: n for p in (PROJECT_ROOT / "app" / "views").glob("*.py")
                  if (n := len(p.read_text().splitlines())) > 150}
    assert not long_modules and not long_pages
