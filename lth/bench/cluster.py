"""`python -m lth cluster-bench`: one multi-trial LeNet run on a Ray cluster of 1, then 2, worker processes.

What it measures and how:
- The same run each time: LeNet-300-100, every trial its own chain (--trials-together 1), the ticket and one
  random-reinit and one random-pruning control at each pruned level, each task one CPU thread. Real MNIST when
  --data-dir holds mnist.npz, else random MNIST-shaped data (the speed is the same; the accuracy is not read).
- For each worker count N: a fresh one-machine Ray cluster with N CPUs (`ray.init(num_cpus=N)`), the run into an
  empty folder, the wall time from the first call to the last file written (Ray's start-up not included), then
  the cluster shut down.
- The speedup is the wall time with 1 worker over the wall time with N, measured in this one invocation. The
  numbers of the runs are compared too: with one thread per task they must be identical.
- For scale, the same run without Ray: in this process, trials stacked into one training stack, with every
  thread torch uses here (how `lth run` trains on one machine).
The last line is one machine-readable summary.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from ..cluster import execute as cluster
from ..core import config as config_mod
from ..core.config import ConfigError
from ..runs import results
from ..tickets import execution, lottery


def bench_config(trials: int, levels: int, iterations: int, data_dir: Path) -> config_mod.Config:
    cfg = config_mod.preset("lenet-mnist").override(trials=trials, levels=levels, iterations=iterations,
                                                    eval_every=100, reinit=1, random_prune=1, one_shot=False,
                                                    label="cluster-bench: a cut-down protocol, for timing")
    if not (data_dir / "mnist.npz").is_file():
        cfg = replace(cfg, data=replace(cfg.data, dataset="synthetic", synthetic_shape="1x28x28",
                                        synthetic_train=10_000, synthetic_test=2_000, validation_size=1_000))
    return cfg


def one(cfg: config_mod.Config, workers: int, data_dir: Path) -> tuple[float, pd.DataFrame]:
    """Seconds for the run on a fresh cluster of `workers` CPUs, and its result rows."""
    import ray

    cluster_opts = cluster.check("local", 1)
    cluster.connect(cluster_opts, local_cpus=workers)
    options = execution.RunOptions(data_dir=data_dir, device="cpu", progress=False, download=False, trials_together=1)
    try:
        with tempfile.TemporaryDirectory(prefix="lth-cluster-bench-") as runs:
            started = time.perf_counter()
            run_dir = cluster.run(cfg, Path(runs), options, cluster_opts)
            seconds = time.perf_counter() - started
            rows = results.Run(run_dir).summary().sort_values(["level", "trial", "arm", "replicate"],
                                                              ignore_index=True)
            return seconds, rows.drop(columns=[c for c in rows if "seconds" in c])
    finally:
        ray.shutdown()


def main(workers: list[int], trials: int, levels: int, iterations: int, data_dir: Path) -> dict:
    if min(workers) < 1 or len(set(workers)) != len(workers):
        raise ConfigError(f"--workers={','.join(map(str, workers))} is not allowed: distinct integers >= 1")
    if trials < 2:
        raise ConfigError(f"--trials={trials} is not allowed: at least 2, or there is nothing to spread")
    cfg = bench_config(trials, levels, iterations, data_dir)
    units = trials * (levels + 1)
    print(f"LeNet-300-100 on {cfg.data.dataset}: {trials} trials x {levels + 1} levels ({units} units), "
          f"{iterations} iterations a level, ticket + reinit + random pruning; one CPU thread per task; "
          f"{os.cpu_count()} CPU(s), torch {torch.__version__}")
    # for scale, first (Ray leaves this process with fewer threads): the same run without Ray, its trials stacked
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="lth-cluster-bench-") as runs:
        started = time.perf_counter()
        lottery.run(cfg, Path(runs), execution.RunOptions(data_dir=data_dir, device="cpu", progress=False,
                                                          download=False))
        local = time.perf_counter() - started
    print(f"{'workers':>8} {'seconds':>9} {'speedup':>8}  numbers")
    measured, first_rows = {}, None
    for n in workers:
        seconds, rows = one(cfg, n, data_dir)
        first_rows = rows if first_rows is None else first_rows
        measured[n] = seconds
        base = measured[workers[0]]
        same = "identical" if rows.equals(first_rows) else "DIFFER"
        print(f"{n:>8} {seconds:>9.1f} {base / seconds:>7.2f}x  {same}")
    summary = {"dataset": cfg.data.dataset, "trials": trials, "levels": levels, "iterations": iterations,
               "seconds": {str(n): round(s, 2) for n, s in measured.items()},
               "speedup": {str(n): round(measured[workers[0]] / s, 3) for n, s in measured.items()},
               "local_seconds": round(local, 2), "local_threads": threads}
    print(f"{'local':>8} {local:>9.1f} {measured[workers[0]] / local:>7.2f}x  without Ray: the trials stacked in one "
          f"process on {threads} thread(s), as `lth run` trains (numbers differ by rounding)")
    print(json.dumps(summary))
    return summary
