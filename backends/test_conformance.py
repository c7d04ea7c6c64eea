"""The same scenarios on every backend: same numbers as NumPy float64, dtype and device kept."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

import xpnet

# (hidden activation, output, loss, extras): every output and loss, batch norm and dropout
SCENARIOS = {
    "relu-softmax-cce": ("relu", "softmax", "categorical_crossentropy", {}),
    "tanh-sigmoid-log_loss": ("tanh", "sigmoid", "log_loss", {}),
    "leaky_relu-identity-mse": ("leaky_relu", "identity", "mse", {}),
    "sigmoid-batchnorm-softmax-log_loss": ("sigmoid", "softmax", "log_loss", {"batch_norm": True}),
    "relu-dropout-softmax-cce": ("relu", "softmax", "categorical_crossentropy", {"dropout": 0.25}),
}
LAYERS = [5, 8, 6, 3]
# The reference every backend is compared with: NumPy float64 running the plain reference ops
# (xpnet.ops.Ops), not the NumPy backend's overrides, so the NumPy backend is checked too.
REFERENCE = xpnet.backend.Backend()


def _data(loss, output, n=24, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, LAYERS[0]))
    if loss == "mse" and output == "identity":
        return X, rng.standard_normal((n, LAYERS[-1]))
    if loss == "log_loss":
        return X, (rng.random((n, LAYERS[-1])) < 0.4).astype(np.float64)
    return X, rng.integers(0, LAYERS[-1], n)


def _net(backend, dtype, activation="relu", output="softmax", seed=3, **extras):
    return xpnet.MLP(
        LAYERS,
        activation=activation,
        output=output,
        init="glorot_normal",
        backend=backend,
        dtype=dtype,
        seed=seed,
        **extras,
    )


def _id(backend) -> str:
    """A short label for the summary table: numpy, array_api_strict, torch-cpu, cupy, torch-cuda."""
    name = backend.name
    if name == "torch":
        name += "-cuda" if "cuda" in str(backend.device) else "-cpu"
    return name


def _host(net, arrays: dict) -> dict:
    return {k: net.backend.to_numpy(v) for k, v in arrays.items()}


@pytest.mark.parametrize("init", ["he_normal", "glorot_uniform", "random"])
def test_same_seed_same_initial_parameters_as_numpy(backend, dtype, init):
    net = xpnet.MLP(LAYERS, init=init, batch_norm=True, backend=backend, dtype=dtype, seed=11, dropout=0.0)
    ref = xpnet.MLP(LAYERS, init=init, batch_norm=True, backend="numpy", dtype=dtype, seed=11, dropout=0.0)
    got, expected = _host(net, net.state_dict()), _host(ref, ref.state_dict())
    assert list(got) == list(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)  # bit for bit
        assert got[key].dtype == np.dtype(dtype)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_forward_backward_match_numpy_float64(scenario, backend, dtype, tol, check):
    activation, output, loss, extras = SCENARIOS[scenario]
    X, Y = _data(loss, output)
    net = _net(backend, dtype, activation, output, **extras)
    ref = _net(REFERENCE, "float64", activation, output, **extras)
    masks = None
    if extras.get("dropout"):  # fixed masks: each backend's own RNG would draw different ones
        rng = np.random.default_rng(5)
        masks = [(rng.random((len(X), w)) >= 0.25).astype(np.float64) for w in LAYERS[1:-1]]
    value, grads = net.value_and_grad(X, Y, loss=loss, masks=masks)
    ref_value, ref_grads = ref.value_and_grad(X, Y, loss=loss, masks=masks)
    rtol, atol = tol(backend, dtype, "pass")
    tag = f"{_id(backend)} {dtype}"
    check(f"forward {tag}", net.predict_proba(X), ref.predict_proba(X), rtol, atol)
    check(f"loss {tag}", value, ref_value, rtol, atol)
    for key, g in _host(net, grads).items():
        check(f"gradients {tag}", g, ref.backend.to_numpy(ref_grads[key]), rtol, atol, msg=key)


# (optimizer factory, batch size, clip, extras): full batch and in-order mini-batches, dropout 0.
# Batch norm is trained with SGD, not Adam: the bias before batch norm has zero gradient, and Adam
# rescales its rounding noise (1e-9 in float32) to lr-sized steps, which the running means pick up;
# and at lr 0.01: at 0.05 this small net's trajectory amplifies float32 rounding to ~3e-3 by epoch 50.
TRAINING = {
    "full-batch-momentum-global_norm": (
        lambda: xpnet.optim.SGD(lr=0.1, momentum=0.9),
        None,
        ("global_norm", 2.0),
        {},
    ),
    "minibatch-adam": (lambda: xpnet.optim.Adam(lr=0.01), 16, None, {}),
    "minibatch-nesterov-batchnorm-value": (
        lambda: xpnet.optim.SGD(lr=0.01, momentum=0.9, nesterov=True),
        20,
        ("value", 0.5),
        {"batch_norm": True},
    ),
}


@pytest.mark.parametrize("setup", list(TRAINING))
def test_fifty_epochs_match_numpy_float64(setup, backend, dtype, tol, check):
    make_opt, batch_size, clip, extras = TRAINING[setup]
    X, y = _data("categorical_crossentropy", "softmax", n=64, seed=1)
    Xv, yv = _data("categorical_crossentropy", "softmax", n=32, seed=2)
    runs = []
    for b, dt in ((backend, dtype), (REFERENCE, "float64")):
        net = _net(b, dt, "tanh", "softmax", **extras)
        # shuffle=False: batches follow the data order, so every backend sees the same batches
        trainer = xpnet.Trainer(net, optimizer=make_opt(), batch_size=batch_size, shuffle=False, clip=clip)
        runs.append((net, trainer.fit(X, y, validation_data=(Xv, yv), epochs=50)))
    (net, hist), (ref, ref_hist) = runs
    rtol, atol = tol(backend, dtype, "train")
    tag = f"{_id(backend)} {dtype}"
    assert ref_hist.train_loss[-1] < 0.8 * ref_hist.train_loss[0]
    check(f"50-epoch train loss {tag}", hist.train_loss, ref_hist.train_loss, rtol, atol)
    check(f"50-epoch val loss {tag}", hist.val_loss, ref_hist.val_loss, rtol, atol)
    check(f"50-epoch predictions {tag}", net.predict_proba(Xv), ref.predict_proba(Xv), rtol, atol)
    expected = _host(ref, ref.state_dict())
    for key, value in _host(net, net.state_dict()).items():
        check(f"50-epoch parameters {tag}", value, expected[key], rtol, atol, msg=key)


def _trained(backend, dtype, epochs=3):
    """A batch-norm, dropout net after a few Adam epochs: every kind of state exists."""
    X, y = _data("categorical_crossentropy", "softmax", n=40, seed=4)
    net = _net(backend, dtype, "relu", "softmax", batch_norm=True, dropout=0.2)
    opt = xpnet.optim.Adam(lr=0.01, amsgrad=True)
    trainer = xpnet.Trainer(net, optimizer=opt, batch_size=16, shuffle=True, clip=("norm", 1.0), seed=1)
    history = trainer.fit(X, y, validation_data=(X, y), epochs=epochs)
    return net, opt, history, X, y


def _every_array(net, opt, X, y):
    """Parameters, buffers, gradients, outputs and optimizer state, by a descriptive name."""
    out = {f"param {k}": v for k, v in net.params.items()}
    out.update({f"buffer {k}": v for k, v in net.buffers.items()})
    _, grads = net.value_and_grad(X, y)
    out.update({f"grad {k}": v for k, v in grads.items()})
    out["forward eval"] = net.forward(X)
    out["forward train"] = net.forward(X, training=True)
    for key, entries in opt.state.items():
        out.update({f"optimizer {key} {name}": v for name, v in entries.items()})
    return out


def test_dtype_is_kept_end_to_end(backend, dtype):
    net, opt, history, X, y = _trained(backend, dtype)
    want = backend.dtype(dtype)
    arrays = _every_array(net, opt, X, y)
    assert any(k.startswith("optimizer") and "max_exp_avg_sq" in k for k in arrays)
    for name, value in arrays.items():
        assert value.dtype == want, f"{name} is {value.dtype}, expected {dtype} (no silent up/down-cast)"
    assert net.predict_proba(X).dtype == np.dtype(dtype)
    assert all(isinstance(v, float) and np.isfinite(v) for v in history.train_loss + history.grad_norm)


def test_arrays_stay_on_the_backend_device(backend):
    net, opt, _, X, y = _trained(backend, "float32")
    for name, value in _every_array(net, opt, X, y).items():
        assert array_api_compat.array_namespace(value) is not None
        assert array_api_compat.device(value) == backend.device, f"{name} on {array_api_compat.device(value)}"
    assert type(net.forward(X)) is type(net.params["dense0.weight"])


def test_predictions_come_back_as_numpy(backend, tol, check):
    net, _, _, X, _ = _trained(backend, "float64")
    proba, labels = net.predict_proba(X), net.predict(X)
    assert type(proba) is np.ndarray and proba.shape == (len(X), LAYERS[-1])
    assert type(labels) is np.ndarray and labels.shape == (len(X),) and labels.dtype.kind == "i"
    np.testing.assert_array_equal(labels, proba.argmax(axis=1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    # arrays already on the device are accepted as input too, with the same answer
    check(
        f"predict_proba device input {_id(backend)}",
        net.predict_proba(backend.asarray(X, "float64")),
        proba,
        *tol(backend, "float64"),
    )


def test_saved_on_one_backend_loads_on_another(backend, other_backend, tmp_path, tol, check):
    net, _, _, X, _ = _trained(backend, "float64", epochs=2)
    path = tmp_path / "model.npz"
    net.save(path)
    loaded = xpnet.load(path, backend=other_backend.name, device=other_backend.device)
    assert loaded.backend.name == other_backend.name and loaded.config() == net.config()
    state, expected = _host(loaded, loaded.state_dict()), _host(net, net.state_dict())
    assert list(state) == list(expected)
    for key, value in loaded.state_dict().items():
        np.testing.assert_array_equal(state[key], expected[key], err_msg=key)  # bit for bit
        assert array_api_compat.device(value) == other_backend.device, key
    # the same weights on two backends: predictions differ by matmul rounding only (looser device wins)
    rtol, atol = (
        max(pair) for pair in zip(tol(backend, "float64"), tol(other_backend, "float64"), strict=True)
    )
    check(
        f"save {_id(backend)} -> load {_id(other_backend)}",
        loaded.predict_proba(X),
        net.predict_proba(X),
        rtol,
        atol,
    )


def test_device_rng_draws_on_the_device(backend, dtype):
    rng = backend.rng(7)
    want = backend.dtype(dtype)
    u = rng.uniform((200, 50), want)
    mask = rng.bernoulli(0.7, (200, 50), want)
    perm = rng.permutation(1000)
    for value in (u, mask, perm):
        assert array_api_compat.device(value) == backend.device
    assert u.dtype == want and mask.dtype == want
    hu, hm, hp = backend.to_numpy(u), backend.to_numpy(mask), backend.to_numpy(perm)
    assert 0.0 <= hu.min() and hu.max() < 1.0
    assert set(np.unique(hm)) <= {0.0, 1.0} and abs(hm.mean() - 0.7) < 5 * np.sqrt(0.21 / hm.size)
    np.testing.assert_array_equal(np.sort(hp), np.arange(1000))
    np.testing.assert_array_equal(backend.to_numpy(backend.rng(7).uniform((200, 50), want)), hu)  # seeded


def test_dropout_and_shuffle_train_on_every_backend(backend):
    """Random masks and shuffles come from the backend's own RNG: reproducible per seed, and training works."""
    losses = []
    for _ in range(2):
        net, _, history, _, _ = _trained(backend, "float32", epochs=15)
        losses.append(history.train_loss)
    assert losses[0] == losses[1]
    assert losses[0][-1] < losses[0][0]
