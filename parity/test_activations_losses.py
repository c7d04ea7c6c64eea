"""Every activation and every loss, forward and backward, against torch.autograd (float64)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import xpnet
from xpnet.activations import HIDDEN, OUTPUT
from xpnet.losses import LOSSES

torch = pytest.importorskip("torch", reason="the parity suite compares with PyTorch: pip install torch")

# every pairing xpnet accepts; torch's counterpart of each lives in conftest (torch_ref.losses)
PAIRINGS = [
    ("categorical_crossentropy", "sigmoid"),
    ("categorical_crossentropy", "softmax"),
    ("log_loss", "sigmoid"),
    ("log_loss", "softmax"),
    ("mse", "identity"),
    ("mse", "sigmoid"),
    ("mse", "softmax"),
]
REJECTED = {("log_loss", "identity"), ("categorical_crossentropy", "identity")}


def _logits(n=9, k=4, scale=3.0, seed=0):
    z = scale * np.random.default_rng(seed).standard_normal((n, k))
    z[0, :] = [40.0, -40.0, 0.5, -35.0][:k]  # saturating entries: stability matters here
    return z


def _targets(loss, output, n, k, seed=1):
    rng = np.random.default_rng(seed)
    if loss == "mse" and output == "identity":
        return rng.standard_normal((n, k))
    if loss == "categorical_crossentropy":  # soft labels: rows of probabilities
        y = rng.random((n, k)) ** 3
        y[: n // 2] = np.eye(k)[rng.integers(0, k, n // 2)]
        return y / y.sum(axis=1, keepdims=True)
    if loss == "log_loss":
        return np.where(rng.random((n, k)) < 0.5, 0.0, 1.0) * 0.9 + 0.05 * (rng.random((n, k)) < 0.3)
    return np.eye(k)[rng.integers(0, k, n)]


ACTIVATIONS = [("hidden", name) for name in HIDDEN] + [("output", name) for name in OUTPUT]


@pytest.mark.parametrize("kind,name", ACTIVATIONS, ids=[f"{k}-{n}" for k, n in ACTIVATIONS])
def test_activation_forward_backward(kind, name, pair, check, torch_ref):
    _xp, b = pair.backend.xp, pair.backend
    z_np = _logits(n=11, k=4)
    da_np = np.random.default_rng(5).standard_normal(z_np.shape)
    z, da = b.asarray(z_np, "float64"), b.asarray(da_np, "float64")
    a, saved = b.activation(name, z)
    dz = b.activation_backward(name, saved, da)

    zt = pair.tensor(z_np, requires_grad=True)
    at = torch_ref.activation(name)(zt)
    at.backward(pair.tensor(da_np))
    check(f"activation {name} forward", pair.host(a), pair.host(at))
    check(f"activation {name} backward", pair.host(dz), pair.host(zt.grad))


@pytest.mark.parametrize("loss,output", PAIRINGS, ids=[f"{o}+{loss}" for loss, o in PAIRINGS])
def test_loss_value_and_logit_gradient(loss, output, pair, check, torch_ref):
    _xp, b = pair.backend.xp, pair.backend
    z_np = _logits(n=10, k=4, seed=2)
    y_np = _targets(loss, output, 10, 4)
    z, y = b.asarray(z_np, "float64"), b.asarray(y_np, "float64")
    a = b.activation(output, z)[0]
    value, dz = b.loss_value(loss, output, z, a, y), b.loss_grad(loss, output, z, a, y)

    zt = pair.tensor(z_np, requires_grad=True)
    ref = torch_ref.losses[(loss, output)](zt, pair.tensor(y_np))
    ref.backward()
    check(f"loss {output}+{loss} value", pair.host(value), pair.host(ref))
    check(f"loss {output}+{loss} dL/dz", pair.host(dz), pair.host(zt.grad))


def test_softmax_cce_equals_log_softmax_form(pair, check):
    """CrossEntropyLoss with probabilities is -mean(sum(y * log_softmax(z))); xpnet matches both."""
    _xp, b = pair.backend.xp, pair.backend
    z_np, y_np = _logits(seed=3), _targets("categorical_crossentropy", "softmax", 9, 4)
    z = b.asarray(z_np, "float64")
    value = b.loss_value(
        "categorical_crossentropy", "softmax", z, b.activation("softmax", z)[0], b.asarray(y_np, "float64")
    )
    zt, yt = pair.tensor(z_np), pair.tensor(y_np)
    check(
        "loss softmax+categorical_crossentropy value",
        pair.host(value),
        pair.host(-(yt * torch.log_softmax(zt, dim=1)).sum(dim=1).mean()),
    )


def test_rejected_pairings_are_exactly_the_identity_log_losses(torch_ref):
    allowed = set(torch_ref.losses)
    assert allowed == set(PAIRINGS)
    every = set(itertools.product(LOSSES, OUTPUT))
    assert every - allowed == REJECTED


@pytest.mark.parametrize("loss,output", sorted(REJECTED), ids=[f"{o}+{loss}" for loss, o in sorted(REJECTED)])
def test_rejected_pairing_raises_value_error(loss, output):
    net = xpnet.MLP([3, 4, 2], output=output, dtype="float64", dropout=0.0)
    X, y = np.ones((4, 3)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match=f"output='{output}' is not allowed"):
        net.value_and_grad(X, y, loss=loss)
    with pytest.raises(ValueError, match="loss="):
        xpnet.Trainer(net, loss=loss, optimizer="sgd", batch_size=None)


@pytest.mark.parametrize("loss,output", PAIRINGS, ids=[f"{o}+{loss}" for loss, o in PAIRINGS])
def test_allowed_pairing_accepted(loss, output):
    net = xpnet.MLP([3, 4, 2], output=output, dtype="float64", dropout=0.0)
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    value, grads = net.value_and_grad(np.ones((2, 3)), y, loss=loss)
    assert np.isfinite(value) and set(grads) == set(net.params)
