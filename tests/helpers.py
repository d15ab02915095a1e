"""Plain helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lth.core import config
from lth.core.gate_config import GateConfig
from lth.core.init_config import InitConfig
from lth.core.paths import PROJECT_ROOT
from lth.core.stability_config import StabilityConfig
from lth.engine import data
from lth.runs import results
from lth.tickets import execution

# A small run that still has every arm and more than one trial: ~4 s on 2 CPU cores.
SMALL = dict(iterations=100, eval_every=50, levels=2, trials=2)
ALL_ARMS = {"ticket", "reinit", "random_prune", "one_shot"}
# Tiny sweeps of each gradient method (3 points, ~1-2 s each on synthetic data); strong λ so masks thin out.
GATE_SWEEPS = [
    GateConfig(method="gaussian", sweep="1e-4,1e-3,1e-2", gate_iterations=150, gate_eval_every=50, gate_lr=0.05),
    GateConfig(method="hard_concrete", sweep="1e-4,1e-3,1e-2", gate_iterations=150, gate_eval_every=50, gate_lr=0.05),
    GateConfig(method="cs", sweep="0.05,0,-0.1", gate_iterations=75, rounds=2, gate_eval_every=25, gate_lr=0.05,
               cs_rewind_iteration=10),
]
GATE_ARMS = {arm for g in GATE_SWEEPS for arm in g.arms}
# Every pruning-at-init method with its sanity checks, at the SMALL run's levels 1 and 2 (SynFlow in 5 rounds).
INIT_SWEEPS = [InitConfig(method=m, levels="1,2", synflow_rounds=5) for m in ("snip", "grasp", "synflow")]
# A small instability analysis of the SMALL run: dense and ticket level 2, forked at k = 0 and 50.
STABILITY = StabilityConfig(levels="0,2", rewinds="0,50", points=5, train_eval_examples=200)


def options(**kw) -> execution.RunOptions:
    """CPU, no progress bar, never a download; data from $LTH_DATA_DIR (a temporary folder)."""
    kw.setdefault("data_dir", Path(os.environ["LTH_DATA_DIR"]))
    return execution.RunOptions(device="cpu", progress=False, download=False, **kw)


@dataclass
class FinishedRun:
    config: config.Config
    runs_dir: Path
    path: Path
    dataset: data.Dataset

    @property
    def run(self) -> results.Run:
        return results.Run(self.path)


def generators(*seeds) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in seeds]


def write_fake_mnist(folder: Path, n_train: int = 600, n_test: int = 100, **replace) -> Path:
    """mnist.npz of uint8 28x28 images; training image i carries i in pixels (0,0) and (0,1).

    Keyword arguments replace an array (or drop it with None).
    """
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }
    arrays["x_train"][:, 0, 0] = np.arange(n_train) % 256
    arrays["x_train"][:, 0, 1] = np.arange(n_train) // 256
    arrays.update(replace)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mnist.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def lth_command(*args: str) -> list[str]:
    """`python -m lth ARGS` with this interpreter."""
    return [sys.executable, "-m", "lth", *args]


def subprocess_env(**extra) -> dict:
    return dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), **extra)


def run_lth(*args: str, timeout: float = 120, **extra_env) -> subprocess.CompletedProcess:
    return subprocess.run(lth_command(*args), cwd=PROJECT_ROOT, env=subprocess_env(**extra_env),
                          capture_output=True, text=True, timeout=timeout)


def stamps(folder: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every file under folder: a rewritten file (atomic rename) changes both."""
    return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}
