"""Networks and data named by a form on the command line, and tickets out of the store:
`lth run --model torchvision:NAME`, `--dataset npz:PATH`, `--dataset folder:PATH`, and `lth export-ticket`.

Each works end to end on tiny data; each bad input is one line on stderr, exit 2, and nothing written.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_lth
from PIL import Image

from lth import cli
from lth.cli import flags
from lth.runs import results

QUIET = ["--quiet", "--device", "cpu"]
# The smallest torchvision run: resnet18 on 3x32x32 synthetic images, 4 iterations, the ticket arm only.
TORCHVISION = ["--dataset", "synthetic", "--synthetic-shape", "3x32x32", "--synthetic-train", "300",
               "--synthetic-test", "100", "--validation-size", "100", "--model", "torchvision:resnet18",
               "--levels", "1", "--iterations", "4", "--eval-every", "2", "--batch-size", "8", "--trials", "1",
               "--reinit", "0", "--random-prune", "0", "--no-one-shot", "--train-eval-examples", "50"]
# Own data sets: one level, few iterations, the ticket arm only.
OWN_DATA = ["--levels", "1", "--iterations", "20", "--eval-every", "10", "--batch-size", "20", "--reinit", "0",
            "--random-prune", "0", "--no-one-shot"]
LENET = ["fc1", "fc2", "output"]


def lth(*args) -> tuple[int, str, str]:
    """`python -m lth ARGS` in this process: (exit code, stdout, stderr); argparse's exits count as exit codes."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def only_run(runs: Path) -> Path:
    """The one run folder under `runs`."""
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


def stored_config(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())


def assert_refused(code: int, out: str, err: str, named: str, runs: Path) -> None:
    """The contract of a bad input: exit 2, one line on stderr naming it, no run folder."""
    assert code == flags.EXIT_BAD_INPUT, (code, out, err)
    assert len(err.splitlines()) == 1, err
    assert named in err, err
    assert not runs.exists() or not any(runs.iterdir()), f"a bad input left {list(runs.iterdir())}"


# --- torchvision:NAME ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def torchvision_run(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("torchvision_runs")
    code, out, err = lth("run", *TORCHVISION, *QUIET, "--runs-dir", runs)
    assert code == 0, err
    return only_run(runs)


def test_a_torchvision_model_runs_and_show_names_it(torchvision_run):
    code, out, err = lth("show", torchvision_run.name, "--runs-dir", torchvision_run.parent)
    assert code == 0 and err == ""
    assert "resnet18 (torchvision)" in out.splitlines()[0]
    assert "state: done, units done: 2/2" in out


def test_a_torchvision_run_stores_its_prunable_layers_and_classes_from_the_data(torchvision_run):
    meta = stored_config(torchvision_run)
    assert meta["input_shape"] == [3, 32, 32] and meta["num_classes"] == 10
    layers = {name: (kind, shape) for name, kind, shape in meta["network"]["layers"]}
    assert layers["conv1"] == ("conv", [64, 3, 7, 7])
    assert layers["fc"] == ("output", [10, 512])  # num_classes from the synthetic set's 10 classes
    assert len(layers) == 21  # resnet18: 17 convs, 3 shortcut convs, the output layer
    assert not any(name.startswith("bn") for name in layers)  # batch norm is not pruned


@pytest.mark.parametrize("model, shape, named", [
    ("torchvision:nosuchnet", "3x32x32", "'nosuchnet'"),
    ("torchvision:resnet18", "1x28x28", "resnet18 (torchvision) cannot take inputs of shape (1, 28, 28)"),
    ("keras:resnet", "3x32x32", "or torchvision:NAME"),
], ids=["unknown name", "one channel for a three-channel network", "a form that does not exist"])
def test_a_torchvision_model_that_cannot_run_is_refused_before_anything_is_written(model, shape, named, tmp_path):
    runs = tmp_path / "runs"
    args = list(TORCHVISION)
    args[args.index("torchvision:resnet18")] = model
    args[args.index("3x32x32")] = shape
    assert_refused(*lth("run", *args, *QUIET, "--runs-dir", runs), named, runs)


# --- npz:PATH -----------------------------------------------------------------------------------------------------
def blocks_npz(path: Path, channels: int | None = None, **replace) -> Path:
    """300 train / 100 test 12x12 uint8 images of 3 classes: class k is a bright band in rows 4k..4k+3 over noise.
    channels: (N, H, W, C) images; keyword arguments replace an array (or drop it with None)."""
    rng = np.random.default_rng(0)

    def split(n):
        y = np.arange(n) % 3
        x = rng.integers(0, 60, size=(n, 12, 12), dtype=np.uint8)
        for k in range(3):
            x[y == k, 4 * k:4 * k + 4, :] += 180
        if channels:
            x = np.repeat(x[..., None], channels, axis=-1)
        return x, y.astype(np.int64)

    (x_train, y_train), (x_test, y_test) = split(300), split(100)
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test) | replace
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


@pytest.fixture(scope="module")
def npz_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("npz")
    npz = blocks_npz(folder / "blocks.npz")
    code, out, err = lth("run", "--dataset", f"npz:{npz}", "--validation-size", "50", *OWN_DATA, *QUIET,
                         "--runs-dir", folder / "runs")
    assert code == 0, err
    return only_run(folder / "runs")


def test_an_npz_run_records_the_shape_and_classes_of_the_file(npz_run):
    meta = stored_config(npz_run)
    assert meta["input_shape"] == [1, 12, 12] and meta["num_classes"] == 3
    assert meta["config"]["data"]["dataset"].endswith("blocks.npz")


def test_an_npz_run_learns_the_files_labels(npz_run):
    """Images and labels are read in step: the bands are learnt far above chance (1/3)."""
    dense = results.Run(npz_run).summary().query("level == 0 and arm == 'ticket'")
    assert float(dense["test_acc_at_early_stop"].iloc[0]) > 0.8


def test_npz_images_with_channels_last_become_channels(tmp_path):
    npz = blocks_npz(tmp_path / "rgb.npz", channels=3)
    code, _, err = lth("run", "--dataset", f"npz:{npz}", "--validation-size", "50", *OWN_DATA, "--levels", "0",
                       "--iterations", "2", "--eval-every", "2", *QUIET, "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    meta = stored_config(only_run(tmp_path / "runs"))
    assert meta["input_shape"] == [3, 12, 12] and meta["num_classes"] == 3


def _not_a_zip(path: Path) -> Path:
    path.write_text("x_train,y_train\n1,2\n")
    return path


BAD_NPZ = {
    "missing file": lambda p: p,
    "float images": lambda p: blocks_npz(p, x_train=np.zeros((300, 12, 12), np.float32)),
    "no y_test": lambda p: blocks_npz(p, y_test=None),
    "not a zip": _not_a_zip,
    "negative labels": lambda p: blocks_npz(p, y_train=np.arange(300) % 3 - 1),
}


@pytest.mark.parametrize("case", BAD_NPZ)
def test_a_bad_npz_is_one_line_naming_the_file_and_writes_nothing(case, tmp_path):
    npz = BAD_NPZ[case](tmp_path / "data.npz")
    runs = tmp_path / "runs"
    code, out, err = lth("run", "--dataset", f"npz:{npz}", "--validation-size", "50", *OWN_DATA, *QUIET,
                         "--runs-dir", runs)
    assert_refused(code, out, err, str(npz), runs)


def test_npz_labels_that_are_not_integers_are_refused(tmp_path):
    npz = blocks_npz(tmp_path / "data.npz", y_train=(np.arange(300) % 3) + 0.5)
    runs = tmp_path / "runs"
    code, out, err = lth("run", "--dataset", f"npz:{npz}", "--validation-size", "50", *OWN_DATA, *QUIET,
                         "--runs-dir", runs)
    assert_refused(code, out, err, "y_train", runs)


# --- folder:PATH --------------------------------------------------------------------------------------------------
def image_tree(root: Path, mode: str = "L", train: int = 40, test: int = 10) -> Path:
    """root/{train,test}/{dark,light}/NNN.png, 10x10: 'dark' images are dark on the left half, 'light' on the right."""
    rng = np.random.default_rng(0)
    for split, n in (("train", train), ("test", test)):
        for k, cls in enumerate(("dark", "light")):
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(100, 160, size=(10, 10), dtype=np.uint8)
                pixels[:, 5 * k:5 * k + 5] -= 90
                image = Image.fromarray(pixels, "L")
                (image if mode == "L" else image.convert(mode)).save(root / split / cls / f"{i:03d}.png")
    return root


def folder_run(root: Path, runs: Path) -> tuple[int, str]:
    code, _, err = lth("run", "--dataset", f"folder:{root}", "--validation-size", "20", *OWN_DATA, *QUIET,
                       "--runs-dir", runs)
    return code, err


@pytest.mark.parametrize("mode, channels", [("L", 1), ("RGB", 3)], ids=["grayscale", "rgb"])
def test_a_folder_of_images_runs_with_one_class_per_folder(mode, channels, tmp_path):
    code, err = folder_run(image_tree(tmp_path / "images", mode), tmp_path / "runs")
    assert code == 0, err
    run = only_run(tmp_path / "runs")
    meta = stored_config(run)
    assert meta["input_shape"] == [channels, 10, 10] and meta["num_classes"] == 2
    assert meta["config"]["data"]["dataset"] == f"folder:{tmp_path / 'images'}"
    assert results.Run(run).levels_done == [0, 1]


def _no_test_folder(root: Path) -> tuple[Path, str]:
    image_tree(root)
    for file in (root / "test").rglob("*.png"):
        file.unlink()
    for folder in sorted((root / "test").rglob("*"), reverse=True) + [root / "test"]:
        folder.rmdir()
    return root, "no test/ folder"


def _one_image_of_another_size(root: Path) -> tuple[Path, str]:
    image_tree(root)
    odd = root / "train" / "light" / "007.png"
    Image.fromarray(np.zeros((12, 10), np.uint8), "L").save(odd)
    return root, str(odd)


def _a_test_class_train_lacks(root: Path) -> tuple[Path, str]:
    image_tree(root)
    (root / "test" / "dark").rename(root / "test" / "grey")
    return root, "grey"


BAD_FOLDERS = {"no test/": _no_test_folder, "an image of another size": _one_image_of_another_size,
               "a test class train lacks": _a_test_class_train_lacks}


@pytest.mark.parametrize("case", BAD_FOLDERS)
def test_a_bad_folder_is_one_line_naming_the_problem_and_writes_nothing(case, tmp_path):
    root, named = BAD_FOLDERS[case](tmp_path / "images")
    runs = tmp_path / "runs"
    code, out, err = lth("run", "--dataset", f"folder:{root}", "--validation-size", "20", *OWN_DATA, *QUIET,
                         "--runs-dir", runs)
    assert_refused(code, out, err, named, runs)


# --- as a user sees it --------------------------------------------------------------------------------------------
def test_bad_own_data_and_models_in_a_real_process_are_just_the_line(tmp_path):
    """No warning, traceback or usage block around the one line, from a network that fails its probe batch and from
    a folder with an odd image."""
    root, odd = _one_image_of_another_size(tmp_path / "images")
    args = list(TORCHVISION)
    args[args.index("3x32x32")] = "1x28x28"
    for argv, named in ((args, "resnet18 (torchvision)"),
                        (["--dataset", f"folder:{root}", "--validation-size", "20", *OWN_DATA], odd)):
        done = run_lth("run", *argv, *QUIET, "--runs-dir", str(tmp_path / "runs"))
        assert done.returncode == 2
        assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("lth run: error: "), done.stderr
        assert named in done.stderr
        assert not (tmp_path / "runs").exists()


# --- export-ticket ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory) -> Path:
    """preset synthetic (lenet_300_100 with every control), levels 0 and 1, 20 iterations."""
    runs = tmp_path_factory.mktemp("lenet_runs")
    code, _, err = lth("run", "--preset", "synthetic", "--iterations", "20", "--eval-every", "10", "--levels", "1",
                       *QUIET, "--runs-dir", runs)
    assert code == 0, err
    return only_run(runs)


def export(run: Path, out: Path, *args) -> tuple[int, str, str]:
    return lth("export-ticket", run.name, out, *args, "--runs-dir", run.parent)


@pytest.fixture(scope="module")
def exported(lenet_run, tmp_path_factory) -> dict[str, Path]:
    """Level 1's ticket as torch and as safetensors, level 0's dense ticket, and level 1's reinit control."""
    folder = tmp_path_factory.mktemp("exported")
    files = {"ticket": folder / "ticket.pt", "safetensors": folder / "ticket.safetensors",
             "dense": folder / "dense.pt", "reinit": folder / "reinit.pt"}
    for key, extra in (("ticket", ["--level", "1"]), ("safetensors", ["--level", "1"]),
                       ("dense", ["--level", "0"]), ("reinit", ["--level", "1", "--arm", "reinit"])):
        code, out, err = export(lenet_run, files[key], *extra)
        assert code == 0 and err == "", err
        assert f"wrote {files[key]}" in out
    return files


def test_an_exported_ticket_is_in_prunes_form_with_the_runs_mask(lenet_run, exported):
    state = torch.load(exported["ticket"], weights_only=True)
    assert set(state) == {f"{layer}.{name}" for layer in LENET for name in ("weight_orig", "weight_mask", "bias")}
    stored = results.Run(lenet_run).masks(1)[("ticket", 0, 0)]
    for layer in LENET:
        mask = state[f"{layer}.weight_mask"]
        assert mask.dtype == torch.float32 and mask.shape == state[f"{layer}.weight_orig"].shape
        assert torch.equal(mask, torch.from_numpy(stored[layer].astype(np.float32)))
    meta = json.loads(exported["ticket"].with_name("ticket.pt.json").read_text())
    assert (meta["level"], meta["arm"], meta["trial"], meta["format"]) == (1, "ticket", 0, "torch")
    kept = sum(int(state[f"{layer}.weight_mask"].sum()) for layer in LENET)
    assert meta["weights_kept"] == kept and 0.75 < meta["remaining"] < 0.85  # one level at 20% (output 10%)


def test_safetensors_holds_the_same_tensors_as_torch(exported):
    from safetensors.torch import load_file

    pt = torch.load(exported["ticket"], weights_only=True)
    st = load_file(str(exported["safetensors"]))
    assert set(st) == set(pt) and all(torch.equal(st[k], pt[k]) for k in pt)
    meta = json.loads(exported["safetensors"].with_name("ticket.safetensors.json").read_text())
    assert (meta["level"], meta["arm"], meta["format"]) == (1, "ticket", "safetensors")


def test_the_ticket_starts_from_theta0_and_the_reinit_control_from_its_own_draw(exported):
    """Without rewinding, level 1's ticket starts from the dense network's θ0 (with level 1's mask); the reinit
    control has the same mask but other starting weights."""
    ticket, dense, reinit = (torch.load(exported[k], weights_only=True) for k in ("ticket", "dense", "reinit"))
    for layer in LENET:
        assert torch.equal(ticket[f"{layer}.weight_orig"], dense[f"{layer}.weight_orig"])
        assert bool(dense[f"{layer}.weight_mask"].all())
        assert torch.equal(reinit[f"{layer}.weight_mask"], ticket[f"{layer}.weight_mask"])
        assert not torch.equal(reinit[f"{layer}.weight_orig"], ticket[f"{layer}.weight_orig"])
    meta = json.loads(exported["reinit"].with_name("reinit.pt.json").read_text())
    assert (meta["level"], meta["arm"]) == (1, "reinit")


def test_a_torchvision_ticket_exports_with_its_batch_norm_state(torchvision_run, tmp_path):
    out = tmp_path / "resnet.pt"
    code, _, err = export(torchvision_run, out, "--level", "1")
    assert code == 0, err
    state = torch.load(out, weights_only=True)
    assert state["conv1.weight_mask"].shape == state["conv1.weight_orig"].shape == (64, 3, 7, 7)
    assert state["fc.weight_mask"].shape == (10, 512) and "bn1.running_mean" in state and "fc.bias" in state
    assert "conv1.weight" not in state


BAD_EXPORTS = {
    "a level the run lacks": (["--level", "5"], "--level=5"),
    "an arm the run lacks": (["--level", "1", "--arm", "bogus"], "--arm='bogus'"),
    "a trial the run lacks": (["--level", "1", "--trial", "3"], "--trial=3"),
    "a control copy the run never drew": (["--level", "1", "--arm", "reinit", "--copy", "2"], "--copy=2"),
    "OUT in a missing folder": (["--level", "1"], "{tmp}/nowhere"),
}


@pytest.mark.parametrize("case", BAD_EXPORTS)
def test_a_bad_export_is_one_line_exit_2_and_writes_nothing(case, lenet_run, tmp_path):
    extra, named = BAD_EXPORTS[case]
    out = tmp_path / ("nowhere/ticket.pt" if "missing folder" in case else "ticket.pt")
    code, stdout, err = export(lenet_run, out, *extra)
    assert code == flags.EXIT_BAD_INPUT and stdout == ""
    assert len(err.splitlines()) == 1 and err.startswith("lth export-ticket: error: "), err
    assert named.replace("{tmp}", str(tmp_path)) in err, err
    assert list(tmp_path.iterdir()) == []
