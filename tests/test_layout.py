"""The package's floors: no import runs back up a floor, the app reaches the store only through lth.runs."""

from __future__ import annotations

import ast
from pathlib import Path

from lth.core.paths import PROJECT_ROOT

# Every floor of lth, bottom first; a module imports only from its own floor or the ones below.
FLOORS = [
    "core",  # foundations: configs, registries, paths, the store's files
    "engine",  # data, models, training of K stacked models
    "tickets",  # ways of finding a ticket, and running their protocols
    "runs",  # runs read back
    "report",  # figures, exports, the paper's claims
    "cluster",  # runs and sweeps as Ray tasks
    "lab",  # background experiments for the app
    "bench",  # benchmarks
    "api",  # lth.find_tickets: a user's own network and data in, its tickets out
    "cli",  # python -m lth
]
TOP = len(FLOORS)  # lth/__init__.py and lth/__main__.py stand above every floor
LTH = PROJECT_ROOT / "lth"
APP = PROJECT_ROOT / "app"
MODULE_LIMIT = 400  # lines; split a module by job long before this
PAGE_LIMIT = 150  # lines of an app module (a page or a helper)


def floor_of(module: str) -> int:
    """Floor of a dotted module inside lth ("lth.engine.train" -> 1); TOP for lth itself and lth.__main__."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in FLOORS:
        return FLOORS.index(parts[1])
    assert module in ("lth", "lth.__main__"), f"{module} sits on no floor: add its folder to FLOORS"
    return TOP


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


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__")


def test_every_module_sits_on_a_floor_and_only_init_and_main_stay_at_the_top():
    assert sorted(p.name for p in LTH.glob("*.py")) == ["__init__.py", "__main__.py"]
    folders = sorted(p.name for p in LTH.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert folders == sorted(FLOORS)
    for folder in folders:
        assert (LTH / folder / "__init__.py").exists(), f"lth/{folder} is not a package"


def test_no_import_runs_back_up_a_floor():
    wrong = []
    for path in LTH.rglob("*.py"):
        module = module_name(path)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for target in imports(path, package):
            if floor_of(target) > floor_of(module):
                wrong.append(f"{module} imports {target}")
    assert not wrong


def test_the_app_reads_runs_only_through_lth_runs():
    hits = [f"{p.name}: {m}" for p in APP.rglob("*.py") for m in imports(p, "app")
            if m.startswith("lth.core.store")]
    assert not hits


def test_modules_and_pages_stay_short():
    long_modules = {str(p.relative_to(PROJECT_ROOT)): n for p in LTH.rglob("*.py")
                    if (n := len(p.read_text().splitlines())) > MODULE_LIMIT}
    long_pages = {str(p.relative_to(PROJECT_ROOT)): n for p in APP.rglob("*.py")
                  if (n := len(p.read_text().splitlines())) > PAGE_LIMIT}
    assert not long_modules and not long_pages
