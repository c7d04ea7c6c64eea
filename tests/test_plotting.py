"""Loss curves: smoothing math and a PNG on disk."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet
from xpnet.plotting import ema


def test_ema_is_bias_corrected():
    assert ema([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])
    out = ema([1.0, 0.0], 0.5)
    assert out == pytest.approx([1.0, (0.25) / 0.75])
    with pytest.raises(ValueError, match="smooth"):
        ema([1.0], 1.0)


def test_loss_curves_png(tmp_path, blobs):
    X, y = blobs
    history = xpnet.Trainer(xpnet.MLP([4, 8, 3], dropout=0.0), optimizer="sgd", batch_size=None).fit(
        X, y, validation_data=(X, y), epochs=5
    )
    path = tmp_path / "loss.png"
    xpnet.plotting.loss_curves(history, smooth=0.8, path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    assert np.isfinite(history.train_loss).all()
