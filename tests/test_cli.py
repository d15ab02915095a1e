"""The command line: run/show/ls work; every bad input is one line on stderr, exit 2, nothing written."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import run_lth, write_fake_mnist

from lth import cli
from lth.core import config
from lth.runs import results

TINY = ["--preset", "synthetic", "--iterations", "40", "--eval-every", "20", "--levels", "1", "--quiet",
        "--device", "cpu"]


def call(argv: list[str], capsys) -> tuple[int, str, str]:
    """lth.cli.main in this process: (exit code, stdout, stderr); argparse's exits count as exit codes."""
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_run_then_show_then_ls(tmp_path, capsys):
    runs = tmp_path / "runs"
    code, out, _ = call(["run", *TINY, "--runs-dir", str(runs)], capsys)
    run_id = config.preset("synthetic").override(iterations=40, eval_every=20, levels=1).run_id
    assert code == 0 and f"run {run_id} finished" in out
    assert results.Run(runs / run_id).levels_done == [0, 1]

    code, out, err = call(["show", "--runs-dir", str(runs)], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert "state: done, units done: 2/2" in out
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["level", "%", "remaining"])
    rows = [line.split() for line in lines[header + 1:]]
    assert [[int(row[0]), float(row[1])] for row in rows] == [[0, 100.0], [1, 80.04]]
    assert "ticket acc %" in lines[header] and "random_prune es-iter" in lines[header]

    code, again, _ = call(["show", run_id[:6], "--runs-dir", str(runs)], capsys)
    assert code == 0 and again == out  # by run-id prefix: the same table

    code, out, _ = call(["ls", "--runs-dir", str(runs)], capsys)
    assert code == 0
    (row,) = [line for line in out.splitlines() if run_id in line]
    assert "done" in row and "lenet_300_100" in row and "synthetic" in row


def test_ls_and_show_on_an_empty_runs_dir(tmp_path, capsys):
    code, out, _ = call(["ls", "--runs-dir", str(tmp_path)], capsys)
    assert code == 0 and "no runs" in out
    code, out, err = call(["show", "--runs-dir", str(tmp_path)], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "no runs" in err


def test_show_unknown_run_exits_2(finished_run, capsys):
    code, _, err = call(["show", "zzzz", "--runs-dir", str(finished_run.runs_dir)], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "'zzzz'" in err


def _wrong_keys_dir(tmp_path):
    write_fake_mnist(tmp_path / "bad_npz", x_train=None, images=np.zeros((600, 28, 28), np.uint8))
    return tmp_path / "bad_npz"


BAD_INPUTS = {
    "unknown preset": (["--preset", "lenet-imagenet"], "--preset"),
    "unknown dataset": (["--preset", "synthetic", "--dataset", "foo"], "--dataset"),
    "unknown model": (["--preset", "synthetic", "--model", "resnet50"], "--model"),
    "rate above 1": (["--preset", "synthetic", "--rate-fc", "1.5"], "--rate-fc"),
    "negative levels": (["--preset", "synthetic", "--levels", "-1"], "--levels"),
    "levels not a number": (["--preset", "synthetic", "--levels", "abc"], "--levels"),
    "zero trials": (["--preset", "synthetic", "--trials", "0"], "--trials"),
    "rewind past the end": (["--preset", "synthetic", "--rewind-iteration", "300"], "--rewind-iteration"),
    "unknown device": (["--preset", "synthetic", "--device", "tpu"], "--device"),
    "zero trials together": (["--preset", "synthetic", "--trials-together", "0"], "--trials-together"),
    "batch larger than the data": (["--preset", "synthetic", "--batch-size", "5000"], "--batch-size"),
    "missing data": (["--preset", "lenet-mnist", "--no-download", "--data-dir", "{tmp}/no_data"], "{tmp}/no_data"),
    "npz with wrong keys": (["--preset", "lenet-mnist", "--no-download", "--data-dir", "{tmp}/bad_npz"],
                            "{tmp}/bad_npz/mnist.npz"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, tmp_path, capsys):
    _wrong_keys_dir(tmp_path)
    args, named = BAD_INPUTS[case]
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    runs = tmp_path / "runs"
    code, out, err = call(["run", *args, "--quiet", "--runs-dir", str(runs)], capsys)
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert named.replace("{tmp}", str(tmp_path)) in err
    assert not runs.exists() or not any(runs.iterdir()), "a bad input left files in the runs dir"


@pytest.mark.parametrize("case", ["levels not a number", "missing data", "npz with wrong keys"])
def test_bad_input_in_a_real_process(case, tmp_path):
    """As a user sees it: no warning, traceback or usage block around the one line."""
    _wrong_keys_dir(tmp_path)
    args, named = BAD_INPUTS[case]
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    done = run_lth("run", *args, "--quiet", "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("lth run: error: ")
    assert named.replace("{tmp}", str(tmp_path)) in done.stderr
    assert not (tmp_path / "runs").exists()


def test_every_config_field_is_a_flag():
    args = cli.build_parser().parse_args(["run", "--lr", "0.01", "--no-one-shot", "--strategy", "global"])
    assert set(config.FIELD_SECTION) <= set(vars(args))
    assert (args.lr, args.one_shot, args.strategy, args.levels) == (0.01, False, "global", None)  # None: the preset's


# --- folder flags that name a file: one line naming the flag, exit 2, nothing written -------------
FOLDER_CASES = {
    "run --runs-dir": (["run", "--preset", "synthetic", "--quiet", "--runs-dir", "{file}"], "--runs-dir={file}"),
    "run --runs-dir under a file": (["run", "--preset", "synthetic", "--quiet", "--runs-dir", "{file}/runs"],
                                    "--runs-dir={file}/runs"),
    "ls": (["ls", "--runs-dir", "{file}"], "--runs-dir={file}"),
    "show": (["show", "--runs-dir", "{file}"], "--runs-dir={file}"),
    "export": (["export", "--runs-dir", "{file}", "--out", "{tmp}/out", "--formats", "csv"], "--runs-dir={file}"),
    "export --out": (["export", "--runs-dir", "{tmp}/runs", "--out", "{file}", "--formats", "csv"], "--out={file}"),
    "check-paper": (["check-paper", "--runs-dir", "{file}"], "--runs-dir={file}"),
    "gates": (["gates", "abc", "--runs-dir", "{file}"], "--runs-dir={file}"),
    "run --data-dir": (["run", "--preset", "synthetic", "--quiet", "--runs-dir", "{tmp}/runs", "--data-dir", "{file}"],
                       "--data-dir={file}"),
    "gates --data-dir": (["gates", "abc", "--runs-dir", "{tmp}/runs", "--data-dir", "{file}"], "--data-dir={file}"),
}


def _file_in(tmp_path):
    file = tmp_path / "F"
    file.write_text("not a folder\n")
    return file


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("case", FOLDER_CASES)
def test_folder_flag_naming_a_file_is_one_line_exit_2_and_writes_nothing(case, tmp_path, capsys):
    file, (args, named) = _file_in(tmp_path), FOLDER_CASES[case]

    def fill(arg: str) -> str:
        return arg.replace("{file}", str(file)).replace("{tmp}", str(tmp_path))

    code, out, err = call([fill(a) for a in args], capsys)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1, err
    assert f"{fill(named)} is not allowed: a folder ({file} is a file)" in err, err
    assert _listing(tmp_path) == ["F"] and file.read_text() == "not a folder\n"


def test_runs_dir_from_the_environment_naming_a_file_names_the_variable(tmp_path, capsys, monkeypatch):
    file = _file_in(tmp_path)
    monkeypatch.setenv("LTH_RUNS_DIR", str(file))
    code, _, err = call(["ls"], capsys)
    assert code == 2 and err == f"lth ls: error: $LTH_RUNS_DIR={file} is not allowed: a folder ({file} is a file)\n"


def test_runs_dir_naming_a_file_in_a_real_process(tmp_path):
    """The reported case as a user runs it: no NotADirectoryError traceback, just the line."""
    file = _file_in(tmp_path)
    done = run_lth("run", "--preset", "synthetic", "--quiet", "--runs-dir", str(file))
    assert done.returncode == 2
    assert done.stderr == f"lth run: error: --runs-dir={file} is not allowed: a folder ({file} is a file)\n"
    assert _listing(tmp_path) == ["F"] and file.read_text() == "not a folder\n"
