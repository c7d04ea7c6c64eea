"""Exact gradients: central finite differences (float64) and PyTorch autograd, every pairing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import xpnet
from xpnet.activations import HIDDEN
from xpnet.losses import VALID_OUTPUTS

PAIRS = [(loss, out) for loss, outs in VALID_OUTPUTS.items() for out in outs]
CASES = list(itertools.product(HIDDEN, PAIRS))


def _problem(output, loss, n_out=3, n=7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    if loss == "mse" and output == "identity":
        Y = rng.standard_normal((n, n_out))
    elif loss == "log_loss":
        Y = (rng.random((n, n_out)) > 0.5).astype(float)
    else:
        Y = np.eye(n_out)[rng.integers(0, n_out, n)]
    return X, Y


def _numeric_grads(net, X, Y, loss, masks, eps=1e-6):
    state = {k: net.backend.to_numpy(v).copy() for k, v in net.state_dict().items()}
    grads = {}
    for key in net.params:
        base = state[key]
        g = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            values = []
            for sign in (1.0, -1.0):
                trial = dict(state)
                trial[key] = base.copy()
                trial[key][idx] += sign * eps
                net.load_state_dict(trial)
                values.append(net.value_and_grad(X, Y, loss=loss, masks=masks)[0])
            g[idx] = (values[0] - values[1]) / (2 * eps)
        grads[key] = g
    net.load_state_dict(state)
    return grads


@pytest.mark.parametrize("dropout", [0.0, 0.4], ids=["no-dropout", "dropout"])
@pytest.mark.parametrize(
    "activation,pair", CASES, ids=[f"{a}-{o}-{loss_name}" for a, (loss_name, o) in CASES]
)
def test_finite_differences(activation, pair, dropout, backend):
    loss, output = pair
    net = xpnet.MLP(
        [4, 5, 3],
        activation=activation,
        output=output,
        init="glorot_normal",
        dropout=dropout,
        backend=backend,
        dtype="float64",
        seed=1,
    )
    # leaky_relu/relu kinks: shift biases so no pre-activation sits near 0
    X, Y = _problem(output, loss)
    masks = None
    if dropout:
        masks = [
            backend.asarray((np.random.default_rng(2).random((7, 5)) > dropout).astype(float), "float64")
        ]
    value, grads = net.value_and_grad(X, Y, loss=loss, masks=masks)
    assert np.isfinite(value)
    numeric = _numeric_grads(net, X, Y, loss, masks)
    for key, g in grads.items():
        analytic = backend.to_numpy(g)
        np.testing.assert_allclose(analytic, numeric[key], rtol=1e-5, atol=1e-8, err_msg=key)


def _torch_loss(torch, z, Y, output, loss):
    F = torch.nn.functional
    if output == "softmax":
        a = torch.softmax(z, dim=1)
    elif output == "sigmoid":
        a = torch.sigmoid(z)
    else:
        a = z
    if loss == "mse":
        return F.mse_loss(a, Y)
    if loss == "log_loss":
        return (
            F.binary_cross_entropy_with_logits(z, Y) if output == "sigmoid" else F.binary_cross_entropy(a, Y)
        )
    if output == "softmax":
        return F.cross_entropy(z, Y)  # probability targets: mean over samples of -sum y log p
    return -(Y * F.logsigmoid(z)).sum(dim=1).mean()


@pytest.mark.parametrize(
    "activation,pair", CASES, ids=[f"{a}-{o}-{loss_name}" for a, (loss_name, o) in CASES]
)
def test_matches_torch_autograd(activation, pair):
    torch = pytest.importorskip("torch")
    loss, output = pair
    net = xpnet.MLP(
        [4, 6, 5, 3],
        activation=activation,
        output=output,
        init="he_uniform",
        dtype="float64",
        seed=3,
        dropout=0.0,
    )
    X, Y = _problem(output, loss, n=11, seed=4)
    value, grads = net.value_and_grad(X, Y, loss=loss)

    state = {k: torch.tensor(v, requires_grad=True) for k, v in net.state_dict().items()}
    act = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": torch.nn.functional.leaky_relu,
    }[activation]
    h = torch.tensor(X)
    for i in range(2):
        h = act(h @ state[f"dense{i}.weight"] + state[f"dense{i}.bias"])
    z = h @ state["dense2.weight"] + state["dense2.bias"]
    ref = _torch_loss(torch, z, torch.tensor(Y), output, loss)
    ref.backward()
    assert value == pytest.approx(ref.item(), rel=1e-12)
    for key, g in grads.items():
        expected = state[key].grad.numpy()
        err = np.abs(g - expected).max() / max(np.abs(expected).max(), 1e-30)
        assert err < 1e-9, (key, err)


def test_identity_output_rejects_log_losses():
    net = xpnet.MLP([2, 3, 2], output="identity", dropout=0.0)
    with pytest.raises(ValueError, match="output='identity' is not allowed"):
        net.value_and_grad(np.ones((2, 2)), [0, 1], loss="log_loss")


def test_extreme_logits_stay_finite():
    net = xpnet.MLP([2, 2], output="softmax", dtype="float64", init="zeros", dropout=0.0)
    sd = net.state_dict()
    sd["dense0.weight"] = np.array([[1e4, -1e4], [0.0, 0.0]])
    net.load_state_dict(sd)
    for loss in ("categorical_crossentropy", "log_loss"):
        value, grads = net.value_and_grad(np.array([[1.0, 0.0], [-1.0, 0.0]]), [1, 1], loss=loss)
        assert np.isfinite(value) and value > 10
        assert all(np.all(np.isfinite(g)) for g in grads.values())
