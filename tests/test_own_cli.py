"""Networks and data sets by form on the command line (--model torchvision:NAME, --dataset npz:PATH / folder:PATH)
and lth export-ticket: each works, and each bad input is one line on stderr, exit 2, nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from lth import cli
from lth.core import paths
from lth.runs import ticket_file

SMALL = ["--levels", "1", "--iterations", "6", "--eval-every", "3", "--batch-size", "10", "--trials", "1",
         "--quiet", "--device", "cpu"]


def call(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def refused(argv: list[str], capsys, folder, *words: str) -> str:
    """The command exits 2 with one line naming `words`, and `folder` holds no run."""
    code, _, err = call(argv, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert all(w in err for w in words), err
    assert not folder.exists() or not any(folder.iterdir()), list(folder.iterdir())
    return err


def images_npz(path, n_train=120, n_test=40, shape=(12, 12), classes=3, **changes):
    """Pixels 0-255 with a class's bright band, uint8, and integer labels; `changes` replace arrays."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        y = rng.integers(0, classes, n)
        x = rng.integers(0, 80, (n, *shape)).astype(np.uint8)
        for i, c in enumerate(y):
            x[i, 4 * c:4 * c + 4] = 250
        arrays |= {f"x_{split}": x, f"y_{split}": y}
    np.savez(path, **(arrays | changes))
    return path


def image_tree(root, size=(10, 10), mode="L", per_class=(30, 8)):
    for split, n in zip(("train", "test"), per_class):
        for c in ("cat", "dog"):
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                pixels = np.full((*size, 3) if mode == "RGB" else size, 40 if c == "cat" else 200, np.uint8)
                Image.fromarray(pixels, mode).save(root / split / c / f"{i}.png")
    return root


# --- torchvision networks -------------------------------------------------------------------------------------
def test_a_torchvision_network_trains_with_the_data_sets_classes(tmp_path, capsys):
    runs = tmp_path / "runs"
    code, out, err = call(["run", "--dataset", "synthetic", "--synthetic-shape", "3x32x32", "--synthetic-train",
                           "120", "--synthetic-test", "40", "--validation-size", "40",
                           "--model", "torchvision:resnet18", *SMALL, "--runs-dir", str(runs)], capsys)
    assert code == 0, err
    run = next(runs.iterdir())
    meta = json.loads(paths.config_file(run).read_text())
    assert meta["num_classes"] == 10 and meta["config"]["model"]["model"] == "torchvision:resnet18"
    names = [name for name, _, _ in meta["network"]["layers"]]
    assert names[0] == "conv1" and names[-1] == "fc" and meta["network"]["layers"][-1][1] == "output"
    code, out, _ = call(["show", str(run)], capsys)
    assert code == 0 and "resnet18 (torchvision)" in out


def test_a_torchvision_network_that_is_not_there_or_does_not_fit_is_refused(tmp_path, capsys):
    runs = tmp_path / "runs"
    base = ["run", "--preset", "synthetic", *SMALL, "--runs-dir", str(runs)]
    refused([*base, "--model", "torchvision:nosuchnet"], capsys, runs, "torchvision:nosuchnet", "resnet18")
    refused([*base, "--model", "torchvision:resnet18"], capsys, runs, "resnet18", "(1, 28, 28)")  # wants 3 channels
    refused([*base, "--model", "keras:resnet"], capsys, runs, "--model", "torchvision:NAME")


# --- npz: and folder: data sets --------------------------------------------------------------------------------
def test_an_npz_of_images_is_a_data_set(tmp_path, capsys):
    runs = tmp_path / "runs"
    data = images_npz(tmp_path / "mine.npz")
    code, _, err = call(["run", "--dataset", f"npz:{data}", "--validation-size", "30", *SMALL, "--runs-dir",
                         str(runs)], capsys)
    assert code == 0, err
    meta = json.loads(paths.config_file(next(runs.iterdir())).read_text())
    assert meta["input_shape"] == [1, 12, 12] and meta["num_classes"] == 3


@pytest.mark.parametrize("case, words", [
    ("missing", ["no such file"]),
    ("float", ["float32", "uint8"]),
    ("no_y_test", ["y_test"]),
    ("not_a_zip", ["not a readable .npz"]),
    ("negative_labels", ["y_train", "class numbers"]),
])
def test_a_bad_npz_is_refused_in_one_line(tmp_path, capsys, case, words):
    path = tmp_path / f"{case}.npz"
    if case == "float":
        images_npz(path, x_train=np.zeros((120, 12, 12), np.float32))
    elif case == "no_y_test":
        with np.load(images_npz(path)) as z:
            kept = {k: z[k] for k in z.files if k != "y_test"}
        np.savez(path, **kept)
    elif case == "not_a_zip":
        path.write_text("not an archive")
    elif case == "negative_labels":
        images_npz(path, y_train=np.full(120, -1))
    runs = tmp_path / "runs"
    refused(["run", "--dataset", f"npz:{path}", "--validation-size", "30", *SMALL, "--runs-dir", str(runs)],
            capsys, runs, str(path), *words)


def test_a_folder_of_images_per_class_is_a_data_set(tmp_path, capsys):
    for mode, channels in (("L", 1), ("RGB", 3)):
        runs = tmp_path / f"runs_{mode}"
        tree = image_tree(tmp_path / f"pets_{mode}", mode=mode)
        code, _, err = call(["run", "--dataset", f"folder:{tree}", "--validation-size", "20", *SMALL, "--runs-dir",
                             str(runs)], capsys)
        assert code == 0, err
        meta = json.loads(paths.config_file(next(runs.iterdir())).read_text())
        assert meta["input_shape"] == [channels, 10, 10] and meta["num_classes"] == 2


def test_a_bad_folder_is_refused_in_one_line(tmp_path, capsys):
    runs = tmp_path / "runs"
    tree = image_tree(tmp_path / "pets")
    odd = tree / "train" / "dog" / "3.png"
    Image.fromarray(np.zeros((12, 10), np.uint8), "L").save(odd)
    base = ["run", "--validation-size", "20", *SMALL, "--runs-dir", str(runs)]
    refused([*base, "--dataset", f"folder:{tree}"], capsys, runs, str(odd), "one size")
    (tmp_path / "lonely" / "train" / "cat").mkdir(parents=True)
    refused([*base, "--dataset", f"folder:{tmp_path / 'lonely'}"], capsys, runs, "no test/ folder")


# --- lth export-ticket -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    runs = tmp_path_factory.mktemp("export") / "runs"
    assert cli.main(["run", "--preset", "synthetic", "--levels", "2", "--iterations", "20", "--eval-every", "10",
                     "--quiet", "--runs-dir", str(runs)]) == 0
    return next(runs.iterdir())


def test_export_ticket_writes_both_formats_with_the_same_tensors(finished, tmp_path, capsys):
    code, out, err = call(["export-ticket", str(finished), str(tmp_path / "t.pt"), "--level", "2"], capsys)
    assert code == 0 and "t.pt (torch)" in out, err
    code, out, err = call(["export-ticket", str(finished), str(tmp_path / "t.safetensors"), "--level", "2"], capsys)
    assert code == 0 and "(safetensors)" in out, err
    from safetensors.torch import load_file

    pt, st = torch.load(tmp_path / "t.pt", weights_only=True), load_file(str(tmp_path / "t.safetensors"))
    assert set(pt) == set(st) == {f"{n}.weight_{part}" for n in ("fc1", "fc2", "output") for part in ("orig", "mask")
                                  } | {"fc1.bias", "fc2.bias", "output.bias"}
    assert all(torch.equal(pt[k], st[k]) for k in pt)
    meta = json.loads((tmp_path / "t.pt.json").read_text())
    assert meta["level"] == 2 and meta["arm"] == "ticket" and meta["format"] == "torch"
    assert ticket_file.read(tmp_path / "t.safetensors")["fc1.weight_mask"].sum() == meta["weights_kept"] - sum(
        int(pt[f"{n}.weight_mask"].sum()) for n in ("fc2", "output"))


@pytest.mark.parametrize("flags, words", [
    (["--level", "7"], ["--level=7", "0, 1, 2"]),
    (["--level", "1", "--arm", "bogus"], ["--arm='bogus'", "ticket"]),
    (["--level", "1", "--trial", "3"], ["--trial=3"]),
    (["--level", "1", "--copy", "2", "--arm", "reinit"], ["--copy=2"]),
])
def test_export_ticket_refuses_what_the_run_lacks(finished, tmp_path, capsys, flags, words):
    out = tmp_path / "out"
    out.mkdir()
    refused(["export-ticket", str(finished), str(out / "t.pt"), *flags], capsys, out, *words)


def test_export_ticket_into_a_missing_folder_is_refused(finished, tmp_path, capsys):
    refused(["export-ticket", str(finished), str(tmp_path / "nope" / "t.pt"), "--level", "1"], capsys,
            tmp_path / "nope", "is not a folder")
