"""Device-resident training: at most one device->host transfer per epoch, none per batch.

The backend's ``to_numpy`` (which ``item`` goes through) is the one approved sync point in
library code, so counting its calls counts the transfers.
"""

from __future__ import annotations

import pytest

import xpnet


@pytest.fixture
def count_transfers(backend, monkeypatch):
    calls = []
    cls = type(backend)  # class-level, so every instance (e.g. input validation's) is counted
    original = cls.to_numpy  # item() goes through to_numpy

    def counted(self, x):
        calls.append("to_numpy")
        return original(self, x)

    monkeypatch.setattr(cls, "to_numpy", counted)
    return calls


@pytest.mark.parametrize("early_stopping", [None, xpnet.EarlyStopping(patience=50)])
def test_one_transfer_per_epoch(backend, blobs, count_transfers, early_stopping):
    X, y = blobs

    def transfers(epochs):
        net = xpnet.MLP([4, 16, 3], dropout=0.2, batch_norm=True, backend=backend, seed=0)
        trainer = xpnet.Trainer(
            net, optimizer=xpnet.optim.Adam(lr=1e-2), batch_size=10, clip=("global_norm", 1.0), seed=0
        )
        count_transfers.clear()
        history = trainer.fit(
            X, y, validation_data=(X[:40], y[:40]), epochs=epochs, early_stopping=early_stopping
        )
        assert len(history) == epochs  # 15 batches per epoch
        return len(count_transfers)

    short, long = transfers(2), transfers(6)
    assert long - short == 4  # exactly one device->host transfer per epoch, none per batch
    assert short - 2 <= 1  # plus at most one at the end (the finiteness check)
