"""log_every prints in plain Python (no logging set up); the CLI's log lines go through tqdm.write."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import numpy as np, xpnet
X = np.random.default_rng(0).normal(size=(40, 3)); y = (X[:, 0] > 0).astype(int)
xpnet.Trainer(xpnet.MLP([3, 4, 2])).fit(X, y, epochs=20, log_every=10)
"""


def test_log_every_prints_without_logging_configured():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, cwd=ROOT)
    lines = [line for line in out.stderr.splitlines() if line.startswith("epoch")]
    assert [line.split()[1] for line in lines] == ["1/20", "10/20", "20/20"], out.stderr


def test_cli_logs_through_tqdm_handler(monkeypatch):
    from xpnet.callbacks import TqdmHandler
    from xpnet.cli import main

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # basicConfig only acts on an unconfigured root
    assert main(["-q", "train", "--dataset", "iris", "--epochs", "1", "--json"]) == 0
    assert any(isinstance(h, TqdmHandler) for h in root.handlers)
