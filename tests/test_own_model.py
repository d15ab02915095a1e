"""Your own model in, your ticket out: lth.find_tickets on a module the project has never seen, the README's example
run as it is written, tickets exported and loaded back into plain PyTorch modules with the engine's logits.
"""

from __future__ import annotations

import re
import runpy

import numpy as np
import pandas as pd
import pytest
import torch
from app_fixtures import app_on, entry_pages
from torch import nn

from lth import find_tickets
from lth.core import paths
from lth.core.config import Config, DataConfig, ExperimentConfig, TrainingConfig
from lth.engine import foreign, models, plain, pruning
from lth.runs import results, ticket_file
from lth.tickets import execution, lottery

README = paths.PROJECT_ROOT / "README.md"


def readme_example() -> str:
    """The first python block of the README's "Your own model" section."""
    section = README.read_text().split("### Your own model", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The README's example, run as written in a fresh folder: its namespace (Tiny, run, pruned) and the folder."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / "example.py").write_text(readme_example())
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        namespace = runpy.run_path(str(folder / "example.py"))
    return namespace, folder


def engine_logits(network: models.Model, state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The engine's forward pass (one model of a stack) on an exported ticket's weights and mask."""
    params = {n.removesuffix("_orig"): v[None] for n, v in state.items() if not n.endswith("_mask")}
    masks = {n.removesuffix(".weight_mask"): v[None].bool() for n, v in state.items() if n.endswith(".weight_mask")}
    with torch.no_grad():
        return network.forward(pruning.apply(params, masks), x, shared_input=True)[0]


def test_the_readme_example_stores_a_run_that_opens_like_any_other(example):
    ns, folder = example
    run = results.Run(ns["run"].run_dir)
    assert run.path.parent == folder / "runs"
    summary = run.summary()
    assert sorted(summary.level.unique()) == [0, 1, 2, 3, 4]
    assert {"ticket", "reinit", "random_prune", "one_shot"} <= set(summary.arm)
    assert summary.trial.nunique() == 2
    assert [layer.name for layer in run.model().layers] == ["body.1", "body.3", "head"]
    assert run.model().layers[-1].kind == "output"
    # layer-wise rates as the paper's: 20% of the hidden layers and 10% of the output layer per level
    ticket = summary[(summary.level == 4) & (summary.arm == "ticket")].iloc[0]
    assert ticket["remaining:body.1"] == pytest.approx(0.8 ** 4, abs=1e-3)
    assert ticket["remaining:head"] == pytest.approx(0.9 ** 4, abs=0.02)  # 96 weights: rounded each level


def test_the_readme_tickets_round_trip_through_the_file_with_the_engines_logits(example):
    ns, folder = example
    state = ticket_file.read(folder / "tiny-ticket.safetensors")
    loaded = ticket_file.load_into(ns["Tiny"](), state)
    x = torch.randn(16, 1, 8, 8)
    with torch.no_grad():
        theirs = loaded(x)
        assert torch.allclose(theirs, ns["pruned"](x), atol=1e-6)
    assert torch.allclose(theirs, engine_logits(ns["run"].network, state, x), atol=1e-6)
    assert {"body.1.weight_orig", "body.1.weight_mask", "body.1.bias", "head.weight_mask"} <= set(state)
    kept = sum(int(state[f"{n}.weight_mask"].sum()) for n in ("body.1", "body.3", "head"))
    meta = results.store.read_json(folder / "tiny-ticket.safetensors.json")
    assert kept == meta["weights_kept"] and meta["level"] == 4 and meta["arm"] == "ticket"


def test_the_exported_ticket_starts_from_the_weights_the_engine_trained_it_from(example):
    """weight_stats records the ticket's mean |w| at the start of training, over the weights the next level keeps
    and over those it prunes: together, every weight of the exported mask."""
    ns, _ = example
    run = ns["run"]
    stats = pd.read_parquet(paths.unit_weight_stats(run.run_dir, 4, 0))
    state, _ = ticket_file.ticket_state(run.run, 4, 0, "ticket", 0, run.network)
    for layer in ("body.1", "body.3", "head"):
        w, m = state[f"{layer}.weight_orig"], state[f"{layer}.weight_mask"].bool()
        rows = stats[(stats.layer == layer) & (stats.trial == 0)]
        assert rows["count"].sum() == int(m.sum())
        recorded = (rows.mean_abs_initial * rows["count"]).sum() / rows["count"].sum()
        assert w[m].abs().mean().item() == pytest.approx(recorded, rel=1e-5)


def test_a_run_of_a_module_opens_on_every_page_of_the_app(example):
    _, folder = example
    run_dir = next((folder / "runs").iterdir())
    with app_on(folder / "runs") as open_page:
        for stem in entry_pages():
            open_page(stem, run_dir.name)  # asserts no exception and no error on the page


def test_the_same_call_opens_the_run_and_other_data_make_another(example, tmp_path):
    ns, folder = example
    (xt, yt) = ns["split"](200)
    first = find_tickets(ns["Tiny"](), (xt, yt), (xt, yt), (xt, yt), levels=1, iterations=20, runs_dir=tmp_path,
                         progress=False)
    again = find_tickets(ns["Tiny"](), (xt, yt), (xt, yt), (xt, yt), levels=1, iterations=20, runs_dir=tmp_path,
                         progress=False)
    other = find_tickets(ns["Tiny"](), (xt, yt), (xt, yt), (xt * 2, yt), levels=1, iterations=20,
                         runs_dir=tmp_path, progress=False)
    assert first.run_dir == again.run_dir != other.run_dir
    pd.testing.assert_frame_equal(first.summary(), again.summary())


def test_options_are_config_fields_and_a_wrong_one_is_named(tmp_path):
    x, y = torch.randn(120, 6), torch.arange(120) % 3
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    with pytest.raises(TypeError, match="'learning_rate'.*allowed: .*lr"):
        find_tickets(net, (x, y), (x, y), (x, y), runs_dir=tmp_path, learning_rate=0.1)
    with pytest.raises(TypeError, match="dataset"):
        find_tickets(net, (x, y), (x, y), (x, y), runs_dir=tmp_path, dataset="mnist")
    with pytest.raises(ValueError, match="--rate-fc"):
        find_tickets(net, (x, y), (x, y), (x, y), runs_dir=tmp_path, rate_fc=1.5)
    with pytest.raises(ValueError, match=r"prunable=\['nope'\]"):
        find_tickets(net, (x, y), (x, y), (x, y), runs_dir=tmp_path, prunable=["nope"])
    assert not any(tmp_path.iterdir())
    run = find_tickets(net, torch.utils.data.TensorDataset(x, y), (x, y), (x, y), levels=1, iterations=10,
                       eval_every=5, batch_size=20, strategy="global", rate_global=0.5, prunable=["0"],
                       runs_dir=tmp_path, progress=False)
    summary = run.summary()
    assert list(summary.filter(like="remaining:").columns) == ["remaining:0"]  # only the layer named
    assert summary[summary.level == 1].remaining.iloc[0] == pytest.approx(0.5, abs=0.02)


class BatchNormNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.out = nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        return self.out(torch.relu(self.bn(self.conv(x))).flatten(1))


def test_one_stack_and_one_model_at_a_time_give_the_same_numbers_batch_norm_included():
    stacked = foreign.wrap(BatchNormNet(), "module:bn", (1, 6, 6), 3)
    single = foreign.ForeignModel(*[getattr(stacked, f) for f in ("name", "layers", "conv_plan", "input_shape",
                                                                   "module", "initialise")], False, stacked.widest,
                                  stacked.flops)
    assert stacked.stackable and stacked.batch_norm
    params = stacked.init([torch.Generator().manual_seed(i) for i in range(3)])
    assert not torch.equal(params["conv.weight"][0], params["conv.weight"][1])  # each model its own θ0
    a = {n: p.clone() for n, p in params.items()}
    b = {n: p.clone() for n, p in params.items()}
    x = torch.randn(3, 5, 1, 6, 6)
    assert torch.allclose(stacked.forward(a, x, train=True), single.forward(b, x, train=True), atol=1e-6)
    for n in ("bn.running_mean", "bn.running_var"):  # each model's running averages, updated by its own batch
        assert torch.allclose(a[n], b[n], atol=1e-6) and not torch.allclose(a[n][0], a[n][1])
    assert torch.allclose(stacked.forward(a, x[0], shared_input=True), single.forward(b, x[0], shared_input=True),
                          atol=1e-6)


def test_a_module_vmap_cannot_run_trains_one_model_at_a_time(tmp_path):
    class Looped(nn.Module):  # .item() on a batched tensor: vmap cannot run it
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 3)

        def forward(self, x):
            return self.fc(x) * (1.0 if x.sum().item() > -1e9 else 0.0)

    model = foreign.wrap(Looped(), "module:looped", (6,), 3)
    assert not model.stackable
    x, y = torch.randn(90, 6), torch.arange(90) % 3
    run = find_tickets(Looped(), (x, y), (x, y), (x, y), levels=1, iterations=10, eval_every=5, batch_size=15,
                       runs_dir=tmp_path, progress=False)
    assert run.network.stackable is False and len(run.summary()) == 5  # ticket at 0; ticket, 3 controls at 1
    assert results.store.read_json(paths.config_file(run.run_dir))["network"]["stackable"] is False


def test_a_built_in_network_exports_into_a_plain_module_with_the_engines_logits(tmp_path):
    config = Config(data=DataConfig(dataset="synthetic", validation_size=200),
                    training=TrainingConfig(iterations=40, eval_every=20), experiment=ExperimentConfig(levels=2))
    run = results.Run(lottery.run(config, tmp_path, execution.RunOptions(progress=False)))
    x = torch.randn(8, 1, 28, 28)
    for arm in ("ticket", "reinit", "random_prune", "one_shot"):
        state, meta = ticket_file.ticket_state(run, 2, 0, arm)
        out = ticket_file.write(state, meta, tmp_path / f"{arm}.pt", "torch")
        module = ticket_file.load_into(plain.as_module(run.model()), torch.load(out, weights_only=True))
        with torch.no_grad():
            assert torch.allclose(module(x), engine_logits(run.model(), state, x), atol=1e-6), arm
        kept = {n: int(m.sum()) for n, m in run.masks(2)[("ticket", 0, 0)].items()}
        assert {n: int(state[f"{n}.weight_mask"].sum()) for n in kept} == kept  # every arm: the ticket's counts
    # the ticket trained from θ0: the trial's own initialisation, as the engine draws it
    theta0 = run.model().init([lottery.Streams(0).init(0)])
    state, _ = ticket_file.ticket_state(run, 2, 0, "ticket")
    assert np.array_equal(state["fc1.weight_orig"].numpy(), theta0["fc1.weight"][0].numpy())


def test_sweeps_refuse_a_network_named_by_a_form_in_one_line(example):
    from lth.core.gate_config import GateConfig
    from lth.core.init_config import InitConfig
    from lth.core.stability_config import StabilityConfig
    from lth.tickets import gate_search, init_search, stability

    run_dir = example[0]["run"].run_dir
    for job, spec in ((gate_search.job, GateConfig()), (init_search.job, InitConfig()),
                      (stability.job, StabilityConfig())):
        with pytest.raises(ValueError, match="runs on the built-in networks .* not yet on module:Tiny"):
            job(run_dir, spec)


def test_late_rewinding_exports_the_weights_of_iteration_k(tmp_path):
    x, y = torch.randn(150, 6), torch.arange(150) % 3
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    run = find_tickets(net, (x, y), (x, y), (x, y), levels=1, iterations=20, eval_every=10, batch_size=15,
                       rewind_iteration=7, runs_dir=tmp_path, progress=False)
    state, meta = ticket_file.ticket_state(run.run, 1, 0, "ticket", 0, run.network)
    plan = results.store.read_npz(paths.plan_file(run.run_dir, 0))
    assert meta["starts_from"].startswith("θk")
    assert np.array_equal(state["0.weight_orig"].numpy(), plan["rewind/0.weight"])
    theta0 = run.network.init([lottery.Streams(0).init(0)])
    assert not np.array_equal(plan["rewind/0.weight"], theta0["0.weight"][0].numpy())  # trained for 7 iterations


def test_the_lab_says_where_a_runs_own_data_are_instead_of_failing(example, tmp_path):
    from lth.lab import jobs

    run = example[0]["run"].run
    assert "given in Python" in jobs.data_missing(run.config, tmp_path)
    npz = run.config.override(dataset=f"npz:{tmp_path / 'gone.npz'}")
    assert "not there any more" in jobs.data_missing(npz, tmp_path)
    (tmp_path / "gone.npz").write_bytes(b"")
    assert jobs.data_missing(npz, tmp_path) == ""
