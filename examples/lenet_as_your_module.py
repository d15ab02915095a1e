"""The paper's LeNet-300-100 on MNIST twice: written as a plain torch.nn.Module through lth.find_tickets, and as
the built-in network through `lth run`, with the same protocol, data split and standardisation. Prints, per level,
each one's early-stop iteration and test accuracy for the ticket and its controls, trial by trial.

    PYTHONPATH=. python examples/lenet_as_your_module.py --data-dir ../shared/data [--levels 3 --iterations 2000]

Both draw θ0 from seed 0, but by different code (the module's layers re-initialised under a seed; the engine's
own generator), so trial t is a different network in each: they agree when the difference between them is within
the spread between trials.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd
from torch import nn

from lth import find_tickets
from lth.core.config import DataConfig, preset
from lth.engine import data as data_mod
from lth.runs import results, tables
from lth.tickets import execution, lottery


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                                 nn.Linear(100, 10))

    def forward(self, x):
        return self.net(x)


def glorot(module: nn.Module) -> None:
    """As the built-in network: Glorot (Xavier) normal weights, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_normal_(m.weight)
            nn.init.zeros_(m.bias)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, required=True, help="the folder holding mnist.npz")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"))
    p.add_argument("--levels", type=int, default=3)
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--trials", type=int, default=3)
    args = p.parse_args()
    label = f"{args.levels} levels of {args.iterations:,} iterations, {args.trials} trials: cut to compare quickly"
    config = preset("lenet-mnist").override(levels=args.levels, iterations=args.iterations, trials=args.trials,
                                            label=f"built-in network; {label}")
    built_in = results.Run(lottery.run(config, args.runs_dir, execution.RunOptions(data_dir=args.data_dir)))
    mnist = data_mod.load(DataConfig(dataset="mnist"), args.data_dir)  # the built-in run's split and scaling
    own = find_tickets(LeNet(), (mnist.x_train, mnist.y_train), (mnist.x_val, mnist.y_val),
                       (mnist.x_test, mnist.y_test), levels=args.levels, iterations=args.iterations,
                       trials=args.trials, runs_dir=args.runs_dir, init=glorot, label=f"your module; {label}")
    for name, run in (("built-in network", built_in), ("your module", own.run)):
        print(f"\n{name}: {run.path}")
        print(tables.level_table(run).to_string(index=False))
    rows = []
    for name, run in (("built-in", built_in), ("module", own.run)):
        s = tables.imp_rows(run.summary())
        for (level, arm), g in s.groupby(["level", "arm"]):
            acc = 100 * g.test_acc_at_early_stop
            rows.append({"network": name, "level": level, "arm": arm, "mean": acc.mean(),
                         "sd": acc.std(ddof=1) if len(acc) > 1 else math.nan, "trials": len(acc),
                         "es_iteration": g.early_stop_iteration.mean()})
    frame = pd.DataFrame(rows).pivot_table(index=["level", "arm"], columns="network",
                                           values=["mean", "sd", "es_iteration"])
    print("\ntest accuracy at early stop (%, mean and sd over trials) and mean early-stop iteration:")
    print(frame.round(2).to_string())


if __name__ == "__main__":
    main()
