"""The command line: `xpnet train` and `xpnet info`, JSON output, configs and errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xpnet
from xpnet.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_train_json_plot_save(tmp_path, capsys):
    plot, model = tmp_path / "loss.png", tmp_path / "m.npz"
    code = main(
        [
            "train",
            "--dataset",
            "iris",
            "--epochs",
            "30",
            "--hidden",
            "16",
            "--lr",
            "0.01",
            "--json",
            "--plot",
            str(plot),
            "--save",
            str(model),
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("test_accuracy", "val_accuracy", "epochs", "train_seconds", "backend", "device"):
        assert key in result
    assert result["epochs"] == 30 and result["backend"] == "numpy" and result["test_accuracy"] > 0.8
    assert plot.exists()
    net = xpnet.load(model)
    assert net.layers == [4, 16, 3]


def test_train_config_file_and_flag_precedence(tmp_path, capsys):
    config = tmp_path / "best.json"
    config.write_text(json.dumps({"hidden": [8, 8], "epochs": 3, "optimizer": "sgd", "lr": 0.1}))
    assert main(["train", "--dataset", "wine", "--config", str(config), "--epochs", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["layers"] == [13, 8, 8, 3] and result["epochs"] == 2


def test_train_reports_bad_values(capsys):
    assert main(["train", "--dataset", "iris", "--dropout", "1.5", "--epochs", "1"]) == 2
    assert "dropout=1.5" in capsys.readouterr().err


def test_info_json(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["backends"]["numpy"]["status"] == "available"
    assert (
        "install" in info["backends"]["cupy"]["status"] or info["backends"]["cupy"]["status"] == "available"
    )


def test_console_script_default_train_help():
    out = subprocess.run(
        [sys.executable, "-m", "xpnet.cli", "train", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert "examples:" in out.stdout and "--batch-norm" in out.stdout


def test_default_train_reaches_97_percent(capsys):
    """The README's main job: `xpnet train` with no arguments on digits."""
    assert main(["train", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["dataset"] == "digits" and result["test_accuracy"] >= 0.97
    assert np.isfinite(result["train_seconds"])


def test_readme_test_command_is_what_ci_runs():
    """.ci/run is README's second set-up command, one step per line, with ruff check and format before pytest."""
    setup = (ROOT / "README.md").read_text().split("## Set-up", 1)[1].split("\n## ", 1)[0]
    *install, tests = re.findall(r"```bash\n(.+?)\n```", setup, re.S)[1].split(" && ")
    ci = (ROOT / ".ci" / "run").read_text()
    steps = [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert "set -euo pipefail" in ci  # any failing step fails CI
    assert steps == [*install, ".venv/bin/ruff check .", ".venv/bin/ruff format --check .", tests]


def test_output_paths_checked_before_training(tmp_path, capsys):
    keep = tmp_path / "keep.npz"
    rc = main(["train", "--save", str(keep), "--plot", str(tmp_path / "nonexist" / "x.png"), "--epochs", "1"])
    err = capsys.readouterr()
    assert rc == 2 and "does not exist" in err.err and "--plot" in err.err
    assert "MLP on" not in err.out  # refused before the network was built or trained
    rc = main(["train", "--checkpoint", str(tmp_path), "--epochs", "1"])
    assert rc == 2 and "is a directory" in capsys.readouterr().err


def test_diverged_run_one_line_nonzero_exit_no_runtime_warning(capfd):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a NumPy RuntimeWarning would fail the run
        rc = main(["train", "--optimizer", "sgd", "--lr", "100", "--epochs", "5", "--json"])
    out, err = capfd.readouterr()
    assert rc == 3
    result = json.loads(out)
    assert result["diverged"] is True and result["diverged_epoch"] == 1
    assert err.strip().count("\n") == 0 and "training diverged at epoch 1" in err
    assert "RuntimeWarning" not in err


def test_train_on_a_csv_regression_and_flag_errors(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    lines = [f"{a:.6f},{b:.6f},{2 * a - b + 0.5:.6f}" for a, b in X]
    (tmp_path / "r.csv").write_text("a,b,out\n" + "\n".join(lines) + "\n")
    rc = main(
        [
            "train",
            "--data",
            str(tmp_path / "r.csv"),
            "--epochs",
            "40",
            "--json",
            "--save",
            str(tmp_path / "r.npz"),
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert rc == 0 and result["task"] == "regression" and result["test_loss"] < 0.2
    net = xpnet.load(tmp_path / "r.npz")
    assert net.output == "identity" and net.preprocessor.task == "regression"
    assert (
        main(["predict", str(tmp_path / "r.npz"), str(tmp_path / "r.csv"), "--out", str(tmp_path / "p.csv")])
        == 0
    )
    from_cli = np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1)
    table = xpnet.data.load_file(tmp_path / "r.csv")
    np.testing.assert_allclose(from_cli, net.predict(table.X)[:, 0], rtol=1e-6)
    assert np.mean((from_cli - table.y) ** 2) < 0.2
    assert main(["train", "--target", "out"]) == 2
    assert "--target and --task apply to --data FILE" in capsys.readouterr().err


def test_blas_threads_limited_for_small_numpy_networks():
    from xpnet.train_cli import train_threads

    small, big = xpnet.MLP([64, 128, 10], dropout=0.0), xpnet.MLP([1024, 1024, 10], dropout=0.0)
    assert train_threads(None, small) == 1 and train_threads(None, big) is None
    assert train_threads(0, small) is None and train_threads(3, small) == 3
    with pytest.raises(ValueError, match="--threads must be >= 0"):
        train_threads(-1, small)
