"""Batch norm equals torch.nn.BatchNorm1d: forward, backward and running statistics, train and eval."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet

try:  # optional: only the comparisons with torch need it (they skip without it)
    import torch
except ImportError:
    torch = None


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _torch_bn(gamma, beta, running_mean, running_var):
    pytest.importorskip("torch")
    bn = torch.nn.BatchNorm1d(gamma.shape[0], dtype=torch.float64)  # momentum 0.1, eps 1e-5
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(gamma))
        bn.bias.copy_(torch.tensor(beta))
        bn.running_mean.copy_(torch.tensor(running_mean))
        bn.running_var.copy_(torch.tensor(running_var))
    return bn


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("n", [2, 17])
def test_layer_matches_batchnorm1d(backend, training, n):
    rng = np.random.default_rng(n)
    z = 3.0 * rng.standard_normal((n, 6)) + rng.standard_normal(6)
    gamma, beta = rng.uniform(0.5, 2.0, 6), rng.standard_normal(6)
    rmean, rvar = rng.standard_normal(6), rng.uniform(0.5, 2.0, 6)
    dout = rng.standard_normal((n, 6))

    bn = _torch_bn(gamma, beta, rmean, rvar)
    bn.train(training)
    zt = torch.tensor(z, requires_grad=True)
    out_t = bn(zt)
    out_t.backward(torch.tensor(dout))

    put = lambda a: backend.asarray(a, dtype="float64")  # noqa: E731
    out, saved, stats = backend.batch_norm(put(z), put(gamma), put(beta), put(rmean), put(rvar), training)
    dz, dgamma, dbeta = backend.batch_norm_backward(saved, put(gamma), put(dout), training)

    def close(a, b):
        np.testing.assert_allclose(backend.to_numpy(a), b.detach().numpy(), rtol=1e-10, atol=1e-12)

    close(out, out_t)
    close(dz, zt.grad)
    close(dgamma, bn.weight.grad)
    close(dbeta, bn.bias.grad)
    if training:  # batch statistics are returned, not applied: batch_norm_update is the explicit step
        new_mean, new_var = backend.batch_norm_update(put(rmean), put(rvar), stats)
        close(new_mean, bn.running_mean)
        close(new_var, bn.running_var)  # from the unbiased batch variance
    else:
        assert stats is None


def _torch_mlp(net):
    """torch.nn layers holding ``net``'s numbers: Linear -> BatchNorm1d -> ReLU per hidden layer."""
    pytest.importorskip("torch")
    state = {k: torch.tensor(net.backend.to_numpy(v)) for k, v in net.state_dict().items()}
    mods = []
    for i in range(net.n_hidden + 1):
        lin = torch.nn.Linear(net.layers[i], net.layers[i + 1], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(state[f"dense{i}.weight"].T)
            lin.bias.copy_(state[f"dense{i}.bias"])
        mods.append(lin)
        if i < net.n_hidden:
            bn = _torch_bn(
                *(state[f"bn{i}.{k}"].numpy() for k in ("weight", "bias", "running_mean", "running_var"))
            )
            mods += [bn, torch.nn.ReLU()]
    return torch.nn.Sequential(*mods)


def test_mlp_training_matches_torch_including_running_stats(backend):
    """Mini-batch SGD through the Trainer equals torch's loop: weights, BN affine terms, running stats."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((48, 5))
    y = rng.integers(0, 3, 48)
    net = xpnet.MLP([5, 8, 6, 3], batch_norm=True, dtype="float64", backend=backend, seed=2, dropout=0.0)
    model = _torch_mlp(net)
    trainer = xpnet.Trainer(
        net, optimizer=xpnet.optim.SGD(lr=0.1, momentum=0.9), batch_size=16, shuffle=False
    )
    trainer.fit(X, y, epochs=4)

    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    model.train()
    for _ in range(4):
        for start in range(0, 48, 16):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(
                model(Xt[start : start + 16]), yt[start : start + 16]
            ).backward()
            opt.step()

    ours = {k: backend.to_numpy(v) for k, v in net.state_dict().items()}
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    bns = [m for m in model if isinstance(m, torch.nn.BatchNorm1d)]
    for i, lin in enumerate(linears):
        np.testing.assert_allclose(
            ours[f"dense{i}.weight"], lin.weight.detach().numpy().T, rtol=0, atol=1e-10
        )
        np.testing.assert_allclose(ours[f"dense{i}.bias"], lin.bias.detach().numpy(), rtol=0, atol=1e-10)
    for i, bn in enumerate(bns):
        for name in ("weight", "bias", "running_mean", "running_var"):
            np.testing.assert_allclose(
                ours[f"bn{i}.{name}"], getattr(bn, name).detach().numpy(), rtol=0, atol=1e-10
            )
    assert not np.allclose(ours["bn0.running_var"], 1.0)  # the statistics really moved

    model.eval()
    with torch.no_grad():
        expected = torch.softmax(model(Xt), dim=1).numpy()
    np.testing.assert_allclose(net.predict_proba(X), expected, rtol=0, atol=1e-10)


def test_value_and_grad_matches_autograd_and_changes_nothing(backend):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 5))
    y = rng.integers(0, 3, 20)
    net = xpnet.MLP([5, 8, 3], batch_norm=True, dtype="float64", backend=backend, seed=0, dropout=0.0)
    before = {k: backend.to_numpy(v).copy() for k, v in net.state_dict().items()}
    model = _torch_mlp(net)
    loss, grads = net.value_and_grad(X, y)
    model.train()
    ref = torch.nn.functional.cross_entropy(model(torch.tensor(X)), torch.tensor(y))
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    lin, bn = model[0], model[1]
    np.testing.assert_allclose(
        backend.to_numpy(grads["dense0.weight"]), lin.weight.grad.numpy().T, atol=1e-12
    )
    np.testing.assert_allclose(backend.to_numpy(grads["bn0.weight"]), bn.weight.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(grads["bn0.bias"]), bn.bias.grad.numpy(), atol=1e-12)
    for key, value in net.state_dict().items():  # running stats untouched by value_and_grad
        assert np.array_equal(backend.to_numpy(value), before[key])


def test_state_dict_keys_save_load_and_early_stopping_carry_bn(backend, tmp_path, blobs):
    X, y = blobs
    net = xpnet.MLP([4, 8, 3], batch_norm=True, backend=backend, seed=0, dropout=0.0)
    assert [k for k in net.state_dict() if k.startswith("bn")] == [
        "bn0.weight",
        "bn0.bias",
        "bn0.running_mean",
        "bn0.running_var",
    ]
    history = xpnet.Trainer(net, batch_size=16, seed=0, optimizer=xpnet.optim.SGD(lr=0.5)).fit(
        X, y, validation_data=(X[:30], y[:30]), epochs=30, early_stopping=xpnet.EarlyStopping(patience=3)
    )
    assert history.best_epoch is not None
    net.save(tmp_path / "bn.npz")
    loaded = xpnet.load(tmp_path / "bn.npz", backend=backend.name, device=backend.device)
    for key, value in net.state_dict().items():
        assert np.array_equal(backend.to_numpy(value), loaded.backend.to_numpy(loaded.state_dict()[key])), key
    np.testing.assert_array_equal(net.predict(X), loaded.predict(X))
