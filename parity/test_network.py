"""Whole networks, dropout and batch norm against a PyTorch twin built from the same weights."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet

torch = pytest.importorskip("torch", reason="the parity suite compares with PyTorch: pip install torch")

# (layers, hidden activation, output, loss, init): several depths and widths, every output
NETWORKS = [
    ([5, 3], "relu", "identity", "mse", "glorot_uniform"),
    ([6, 8, 3], "tanh", "softmax", "categorical_crossentropy", "glorot_normal"),
    ([7, 5, 1], "sigmoid", "sigmoid", "log_loss", "random"),
    ([6, 16, 8, 4], "relu", "sigmoid", "log_loss", "he_normal"),
    ([4, 32, 32, 32, 2], "leaky_relu", "softmax", "log_loss", "he_uniform"),
    ([3, 64, 3], "sigmoid", "sigmoid", "mse", "glorot_uniform"),
    ([8, 12, 12, 6], "tanh", "sigmoid", "categorical_crossentropy", "glorot_normal"),
    ([10, 20, 20, 20, 20, 5], "relu", "softmax", "categorical_crossentropy", "he_normal"),
    ([4, 9, 2], "leaky_relu", "softmax", "mse", "he_uniform"),
]


def _data(n_in, n_out, loss, output, n=13, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in))
    if loss == "mse" and output == "identity":
        Y = rng.standard_normal((n, n_out))
    elif loss == "log_loss":
        Y = (rng.random((n, n_out)) < 0.5).astype(float)
    else:
        Y = np.eye(n_out)[rng.integers(0, n_out, n)]
    return X, Y


def _compare_grads(check, component, grads, expected, pair, rtol=1e-10):
    assert set(grads) == set(expected)
    for key, g in grads.items():
        check(component, pair.host(g), expected[key], rtol=rtol, atol=1e-13, msg=key)


@pytest.mark.parametrize(
    "layers,activation,output,loss,init",
    NETWORKS,
    ids=["-".join(map(str, c[0])) + f"-{c[1]}-{c[2]}+{c[3]}" for c in NETWORKS],
)
def test_network_forward_backward(layers, activation, output, loss, init, pair, check, torch_ref):
    net = xpnet.MLP(
        layers,
        activation=activation,
        output=output,
        init=init,
        backend=pair.backend,
        dtype="float64",
        seed=len(layers),
        dropout=0.0,
    )
    X, Y = _data(layers[0], layers[-1], loss, output)
    value, grads = net.value_and_grad(X, Y, loss=loss)

    model = torch_ref.MLP(net, pair.device)
    out = model(pair.tensor(X))
    ref = torch_ref.losses[(loss, output)](model.logits(pair.tensor(X)), pair.tensor(Y))
    ref.backward()
    check("network forward", pair.host(net.forward(X)), pair.host(out))
    check("network loss", value, ref.item())
    _compare_grads(check, "network gradients", grads, model.grads(), pair)


DROPOUT_NET = dict(layers=[6, 10, 8, 3], activation="relu", output="softmax", init="he_normal", dropout=0.3)


def _masks(shapes, p, seed):
    rng = np.random.default_rng(seed)
    return [(rng.random(s) >= p).astype(np.float64) for s in shapes]


def test_dropout_fixed_mask_matches_inverted_dropout_formula(pair, check, torch_ref):
    net = xpnet.MLP(**DROPOUT_NET, backend=pair.backend, dtype="float64", seed=4)
    X, Y = _data(6, 3, "categorical_crossentropy", "softmax", n=16)
    masks = _masks([(16, 10), (16, 8)], 0.3, seed=7)
    value, grads = net.value_and_grad(X, Y, loss="categorical_crossentropy", masks=masks)
    out = net.forward(X, training=True, masks=masks)

    model = torch_ref.MLP(net, pair.device).train()
    tmasks = [pair.tensor(m) for m in masks]  # torch twin: x * mask / (1 - p)
    ref = torch.nn.functional.cross_entropy(model.logits(pair.tensor(X), tmasks, "masks"), pair.tensor(Y))
    ref.backward()
    check("dropout forward (fixed mask)", pair.host(out), pair.host(model(pair.tensor(X), tmasks, "masks")))
    check("dropout loss (fixed mask)", value, ref.item())
    _compare_grads(check, "dropout gradients (fixed mask)", grads, model.grads(), pair)


def test_dropout_masks_drawn_by_torch_match_torch_dropout(pair, check, torch_ref):
    """Masks taken from torch's own F.dropout: xpnet with those masks equals torch's dropout layer."""
    net = xpnet.MLP(**DROPOUT_NET, backend=pair.backend, dtype="float64", seed=5)
    X, Y = _data(6, 3, "categorical_crossentropy", "softmax", n=16)
    model = torch_ref.MLP(net, pair.device).train()
    torch.manual_seed(123)
    masks = [
        torch.nn.functional.dropout(torch.ones(s, device=pair.device, dtype=torch.float64), 0.3) != 0
        for s in [(16, 10), (16, 8)]
    ]
    masks = [m.double().cpu().numpy() for m in masks]
    torch.manual_seed(123)  # the same draws again, now inside the forward pass
    ref = torch.nn.functional.cross_entropy(model.logits(pair.tensor(X), dropout="torch"), pair.tensor(Y))
    ref.backward()
    value, grads = net.value_and_grad(X, Y, loss="categorical_crossentropy", masks=masks)
    check("dropout loss (torch F.dropout)", value, ref.item())
    _compare_grads(check, "dropout gradients (torch F.dropout)", grads, model.grads(), pair)


def test_dropout_is_identity_in_evaluation(pair, check, torch_ref):
    net = xpnet.MLP(**DROPOUT_NET, backend=pair.backend, dtype="float64", seed=6)
    X, _ = _data(6, 3, "categorical_crossentropy", "softmax")
    model = torch_ref.MLP(net, pair.device).eval()
    check("dropout evaluation forward", pair.host(net.forward(X)), pair.host(model(pair.tensor(X))))
    np.testing.assert_array_equal(net.predict_proba(X), net.predict_proba(X))  # no fresh masks
    check("dropout evaluation predict_proba", net.predict_proba(X), pair.host(model(pair.tensor(X))))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_random_masks_keep_rate_and_scale(p, pair):
    """Keep rate 1-p within 5 sigma (as torch's F.dropout), kept units scaled by exactly 1/(1-p)."""
    net = xpnet.MLP([4, 500, 2], dropout=p, backend=pair.backend, dtype="float64", seed=1)
    hidden = pair.backend.asarray(np.ones((100, 500)), "float64")  # the dropout layer's input shape
    draws = []
    for _ in range(2):  # two passes: the masks are fresh draws each time, from the network's generator
        _, mask = pair.backend.dropout(hidden, p, rng=net.rng)
        draws.append(pair.host(mask))
    assert not np.array_equal(draws[0], draws[1])
    for mask in draws:
        values = np.unique(mask)
        np.testing.assert_allclose(values, [0.0, 1.0 / (1.0 - p)], rtol=1e-15)
        n = mask.size
        sigma = np.sqrt(p * (1 - p) / n)
        kept = np.mean(mask != 0)
        assert abs(kept - (1 - p)) < 5 * sigma, (kept, 1 - p)
        assert abs(mask.mean() - 1.0) < 5 * sigma / (1 - p)  # E[mask / (1-p)] = 1: unbiased
    torch.manual_seed(0)
    t = torch.nn.functional.dropout(torch.ones(100, 500, dtype=torch.float64), p).numpy()
    np.testing.assert_allclose(np.unique(t), values, rtol=1e-15)
    assert abs(np.mean(t != 0) - np.mean(draws[0] != 0)) < 10 * sigma


BN_NET = dict(
    layers=[6, 10, 8, 3], activation="relu", output="softmax", init="he_normal", batch_norm=True, dropout=0.0
)


def _bn_net(pair, seed=3):
    """A batch-norm net with non-trivial affine terms and running statistics."""
    net = xpnet.MLP(**BN_NET, backend=pair.backend, dtype="float64", seed=seed)
    rng = np.random.default_rng(seed)
    state = {k: pair.host(v) for k, v in net.state_dict().items()}
    for i in range(2):
        width = BN_NET["layers"][i + 1]
        state[f"bn{i}.weight"] = 1.0 + 0.3 * rng.standard_normal(width)
        state[f"bn{i}.bias"] = 0.2 * rng.standard_normal(width)
        state[f"bn{i}.running_mean"] = rng.standard_normal(width)
        state[f"bn{i}.running_var"] = 0.5 + rng.random(width)
    net.load_state_dict(state)
    return net


def test_batch_norm_training_forward_backward(pair, check, torch_ref):
    net = _bn_net(pair)
    X, Y = _data(6, 3, "categorical_crossentropy", "softmax", n=20)
    value, grads = net.value_and_grad(X, Y, loss="categorical_crossentropy")
    model = torch_ref.MLP(net, pair.device).train()
    ref = torch.nn.functional.cross_entropy(model.logits(pair.tensor(X)), pair.tensor(Y))
    ref.backward()
    check("batch norm training loss", value, ref.item())
    _compare_grads(check, "batch norm training gradients", grads, model.grads(), pair, rtol=1e-9)
    out = net.forward(X, training=True)
    model.bns[0].momentum = model.bns[1].momentum = 0.0  # this extra pass must not move torch's stats
    check("batch norm training forward", pair.host(out), pair.host(model(pair.tensor(X))))


def test_batch_norm_evaluation_forward_backward(pair, check, torch_ref):

    net = _bn_net(pair)
    X, _ = _data(6, 3, "categorical_crossentropy", "softmax", n=20)
    model = torch_ref.MLP(net, pair.device).eval()
    check("batch norm evaluation forward", pair.host(net.forward(X)), pair.host(model(pair.tensor(X))))

    # the layer's evaluation-mode backward against BatchNorm1d.eval() autograd
    b, _xp = pair.backend, pair.backend.xp
    rng = np.random.default_rng(9)
    z_np, dout_np = rng.standard_normal((7, 10)) * 2 + 1, rng.standard_normal((7, 10))
    sd = net.state_dict()
    out, saved, _ = b.batch_norm(
        b.asarray(z_np, "float64"),
        sd["bn0.weight"],
        sd["bn0.bias"],
        sd["bn0.running_mean"],
        sd["bn0.running_var"],
        training=False,
    )
    dz, dgamma, dbeta = b.batch_norm_backward(saved, sd["bn0.weight"], b.asarray(dout_np, "float64"), False)
    bn = model.bns[0]
    zt = pair.tensor(z_np, requires_grad=True)
    bn(zt).backward(pair.tensor(dout_np))
    check("batch norm evaluation forward", pair.host(out), pair.host(bn(zt)))
    check("batch norm evaluation gradients", pair.host(dz), pair.host(zt.grad))
    check("batch norm evaluation gradients", pair.host(dgamma), pair.host(bn.weight.grad))
    check("batch norm evaluation gradients", pair.host(dbeta), pair.host(bn.bias.grad))


def test_batch_norm_running_statistics_follow_torch_over_training(pair, check, torch_ref):
    """Three full-batch SGD epochs: parameters and running mean/var (unbiased, momentum 0.1) match."""
    net = _bn_net(pair, seed=8)
    X, Y = _data(6, 3, "categorical_crossentropy", "softmax", n=24, seed=2)
    model = torch_ref.MLP(net, pair.device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model.logits(pair.tensor(X)), pair.tensor(Y)).backward()
        opt.step()
    xpnet.Trainer(net, optimizer=xpnet.optim.SGD(lr=0.1), batch_size=None, shuffle=False).fit(X, Y, epochs=3)
    expected = model.state()
    for key, value in net.state_dict().items():
        check("batch norm after 3 SGD epochs", pair.host(value), expected[key], rtol=1e-10, msg=key)
