"""The README's "Your own data" blocks run as written, on iris written as two CSV files."""

from __future__ import annotations

import csv
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

import xpnet
from xpnet.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(kind: str) -> str:
    text = README.read_text()
    match = re.search(rf"<!-- readme-own-data: {kind} -->\n```\w+\n(.*?)```", text, re.S)
    assert match, f"README has no readme-own-data {kind} block"
    return match.group(1)


def _write_flowers(directory: Path) -> None:
    from sklearn.datasets import load_iris

    iris = load_iris()
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    species = iris.target_names[iris.target]
    order = np.random.default_rng(0).permutation(len(species))
    train, new = order[:120], order[120:]
    for file, rows, cols in (
        ("flowers.csv", train, [*names, "species"]),
        ("new_flowers.csv", new, names[::-1]),
    ):
        with open(directory / file, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for i in rows:
                values = dict(zip(names, iris.data[i], strict=True), species=species[i])
                w.writerow([values[c] for c in cols])


def test_readme_own_data_blocks_run(tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'xpnet[onnx]')")
    pytest.importorskip("onnx", reason="onnx is not installed (pip install 'xpnet[onnx]')")
    pytest.importorskip("torch", reason="the block ends with net.to_torch(), which needs torch")
    _write_flowers(tmp_path)
    monkeypatch.chdir(tmp_path)
    for line in _block("shell").splitlines():
        command = shlex.split(line, comments=True)
        if command:
            assert command[0] == "xpnet"
            assert main(command[1:]) == 0, line
    exec(compile(_block("python"), "README.md", "exec"), {})  # noqa: S102
    net = xpnet.load("flowers.npz")
    with open("predictions.csv") as f:
        from_cli = [row["prediction"] for row in csv.DictReader(f)]
    new = xpnet.data.load_file("new_flowers.csv", features=net.preprocessor.feature_names)
    assert from_cli == net.predict(new.X).tolist()
    assert set(from_cli) <= {"setosa", "versicolor", "virginica"}
    assert np.mean(np.array(from_cli) == _truth(tmp_path)) > 0.8
    capsys.readouterr()


def _truth(directory):
    from sklearn.datasets import load_iris

    iris = load_iris()
    order = np.random.default_rng(0).permutation(150)
    return iris.target_names[iris.target][order[120:]]
