"""Thinned test curves (--test-every): every reported number is the one a run testing at each evaluation gets."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import SMALL, options

from lth.core import config, paths
from lth.runs import results
from lth.tickets import lottery

SHARED = paths.PROJECT_ROOT.parent / "shared" / "data"
KEYS = ["level", "trial", "arm", "replicate"]
REPORTED = ["early_stop_iteration", "val_loss_at_early_stop", "test_acc_at_early_stop", "test_acc_final",
            "train_acc_final", "remaining"]


def both_ways(cfg: config.Config, tmp_path, data_dir=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    opts = options(data_dir=data_dir) if data_dir else options()
    thin = cfg.override(test_every=2 * cfg.training.eval_every)
    every = results.Run(lottery.run(cfg, tmp_path / "every", opts)).summary()
    sparse = results.Run(lottery.run(thin, tmp_path / "thin", opts)).summary()
    return every.sort_values(KEYS, ignore_index=True), sparse.sort_values(KEYS, ignore_index=True)


def test_every_reported_number_is_unchanged_with_thinned_test_curves(tmp_path):  # lr 1e-2: early stops vary
    cfg = config.preset("synthetic").override(**{**SMALL, "trials": 1, "iterations": 120, "eval_every": 10, "lr": 1e-2})
    every, thin = both_ways(cfg, tmp_path)
    assert len(every) == len(thin) == 1 + 2 * 4
    pd.testing.assert_frame_equal(every[KEYS + REPORTED], thin[KEYS + REPORTED], check_exact=True)
    assert (thin.early_stop_iteration % 20 != 0).any()  # some early stops fell where no test was run


@pytest.mark.skipif(not (SHARED / "mnist.npz").exists(), reason="real MNIST not in ../shared/data")
def test_a_short_lenet_mnist_unit_reports_the_same_numbers_both_ways(tmp_path):
    cfg = config.preset("lenet-mnist").override(levels=1, iterations=300, eval_every=50)
    every, thin = both_ways(cfg, tmp_path, SHARED)
    pd.testing.assert_frame_equal(every[KEYS + REPORTED], thin[KEYS + REPORTED], check_exact=True)
