"""The package installs: pyproject.toml names the runtime requirements.txt pins, `pip install .` gives a working
`lth` command, and without Ray `--cluster` names the extra to install in one line.

The install goes into a new virtual environment that sees this one's packages through a .pth file: the
dependencies (torch alone is gigabytes) count as installed, and pip installs the project itself, its `lth`
script included, from this checkout, as it would on a machine that has them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from lth.cli import flags
from lth.cluster import execute
from lth.core.paths import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]


def requirement_lines() -> dict[str, str]:
    """requirements.txt as {name: the whole specifier line, comments dropped}."""
    out = {}
    for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines():
        spec = line.split("#")[0].strip()
        if spec:
            out[re.split(r"[=<>!~\[]", spec)[0].lower()] = spec
    return out


def test_pyproject_pins_what_requirements_pins():
    pinned = requirement_lines()
    declared = PYPROJECT["dependencies"] + [d for extra in PYPROJECT["optional-dependencies"].values()
                                            for d in extra]
    assert sorted(declared) == sorted(pinned.values())
    assert PYPROJECT["optional-dependencies"]["cluster"] == [pinned["ray"]]
    assert not any(d.startswith("ray") for d in PYPROJECT["dependencies"])
    assert PYPROJECT["scripts"]["lth"] == "lth.cli:main"


@pytest.mark.slow
def test_pip_install_gives_a_working_lth_command(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"])  # this environment's packages
    source = tmp_path / "source"  # a copy: setuptools builds in the source tree, and the checkout stays clean
    shutil.copytree(PROJECT_ROOT / "lth", source / "lth", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                              "--no-build-isolation", "--no-index", str(source)],
                             capture_output=True, text=True, cwd=tmp_path)
    assert install.returncode == 0, install.stdout + install.stderr
    done = subprocess.run([str(venv / "bin" / "lth"), "run", "--preset", "synthetic", "--runs-dir", "runs",
                           "--iterations", "60", "--eval-every", "30", "--levels", "1", "--device", "cpu",
                           "--quiet", "--no-download"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.search(r"run [0-9a-f]{12} finished", done.stdout)
    where = subprocess.run([str(python), "-c", "import lth; print(lth.__file__)"], capture_output=True, text=True,
                           cwd=tmp_path)
    assert str(PROJECT_ROOT) not in where.stdout  # the installed copy ran, not this checkout


def test_without_ray_cluster_names_the_extra_in_one_line(monkeypatch):
    monkeypatch.setattr(execute.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(flags.ConfigError) as err:
        execute.check("local", 1)
    assert str(err.value) == execute.NEEDS_RAY and "lth-explorer[cluster]" in str(err.value)
