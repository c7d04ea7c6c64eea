"""Bad input never gives a wrong answer (issue 15, items 1, 2, 5, 6), tried with generated cases.

Each class is tried on every CPU backend (NumPy, array-api-strict on a non-default device, torch on
the CPU): the result is a ``ValueError``/``TypeError`` naming the argument, raised before any
state changes (the parameters, the optimizer's state and the estimators' attributes are compared
before and after), or a correct answer.

- numbers: NaN, inf and values beyond float32's range, in NumPy float64/float32 arrays, lists and
  the backend's own arrays, are refused after the cast to the network's dtype;
- divergence: a restore brings back finite parameters whose loss is the lowest seen, and that loss
  is the one reported;
- refusals: a refused resume, a misconfigured trainer, a failed refit or first ``partial_fit``
  change nothing;
- types: truthy strings are not booleans, complex/timedelta data are not numbers, NumPy scalars
  are numbers, and messages name the argument.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

import xpnet
from xpnet import optim
from xpnet.io import atomic_savez, read_npz
from xpnet.schedules import make_schedule
from xpnet.sklearn import XPNetClassifier, XPNetRegressor
from xpnet.testing import backend_skip_reason
from xpnet.validation import to_host

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CPU_BACKENDS = [
    pytest.param(("numpy", None), id="numpy"),
    pytest.param(("array_api_strict", "device1"), id="array_api_strict"),
    pytest.param(("torch", "cpu"), id="torch"),
]
FEW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
BAD_NUMBERS = [math.nan, math.inf, -math.inf, 1e39, -3.5e38, 1e300]  # all NaN/inf in float32
# and finite in float32 yet too large for the network's products: the outputs overflow
X_NUMBERS = [*BAD_NUMBERS, 3e38, -1e30]
X0 = np.random.default_rng(0).standard_normal((12, 4))
Y0 = np.arange(12) % 3


@pytest.fixture(params=CPU_BACKENDS, scope="module")
def backend(request) -> xpnet.Backend:
    name, device = request.param
    reason = backend_skip_reason(name, device)
    if reason:
        pytest.skip(reason)
    return xpnet.get_backend(name, device=device)


def host_state(net: xpnet.MLP) -> dict[str, np.ndarray]:
    return {k: np.array(net.backend.to_numpy(v)) for k, v in net.state_dict(copy=False).items()}


def optimizer_state(opt) -> dict:
    """The optimizer's rate, step count, hyperparameters and state arrays (host copies)."""
    state = {
        f"{key}/{name}": np.array(to_host(v))
        for key, entries in opt.state.items()
        for name, v in entries.items()
    }
    return {"lr": opt.lr, "steps": opt.steps, "hyper": opt.hyperparameters(), "state": state}


def assert_same(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    for key in before:
        a, b = before[key], after[key]
        if isinstance(a, dict):
            assert_same(a, b)
        elif isinstance(a, np.ndarray):
            assert np.array_equal(a, b, equal_nan=True), key
        else:
            assert a == b, key


def trained(backend, dtype="float32", epochs=2, **net_kwargs):
    """A small classifier and its trainer after ``epochs`` epochs (so the optimizer has state)."""
    net = xpnet.MLP([4, 6, 3], backend=backend, dtype=dtype, seed=1, **{"dropout": 0.0, **net_kwargs})
    trainer = xpnet.Trainer(net, optimizer=optim.Adam(lr=1e-2), batch_size=5, seed=2)
    trainer.fit(X0, Y0, epochs=epochs)
    return net, trainer


def refused(call, kind, name: str):
    """``call()`` raises ``kind`` and its message names ``name``."""
    with pytest.raises(kind) as info:
        call()
    assert name in str(info.value), str(info.value)
    return info.value


# --- 1. numbers: checked after the cast to the network's dtype ------------------------------------
@FEW
@example(dtype="float32", container="float64", bad=1e39, row=0, col=0)  # overflows in the cast
@example(dtype="float32", container="native", bad=math.nan, row=1, col=2)  # already the network's array
@example(dtype="float32", container="float32", bad=3e38, row=2, col=1)  # finite; the products overflow
@given(
    dtype=st.sampled_from(["float32", "float64"]),
    container=st.sampled_from(["float64", "float32", "native", "list"]),
    bad=st.sampled_from(X_NUMBERS),
    row=st.integers(0, 11),
    col=st.integers(0, 3),
)
def test_bad_numbers_in_X_are_refused_after_the_cast(backend, dtype, container, bad, row, col):
    net, trainer = trained(backend, dtype, epochs=1)
    X = X0.copy()
    X[row, col] = bad
    with np.errstate(over="ignore", invalid="ignore"):
        host = {"float32": X.astype(np.float32), "native": X.astype(dtype)}.get(container, X)
    given_X = backend.asarray(host, dtype=dtype) if container == "native" else host
    given_X = given_X.tolist() if container == "list" else given_X
    with np.errstate(over="ignore"):
        bad_in_dtype = not np.isfinite(np.asarray(host, dtype=dtype)[row, col])
    params, opt = host_state(net), optimizer_state(trainer.optimizer)
    if bad_in_dtype:  # NaN, inf, or a value the cast to the network's dtype makes inf
        for call, name in (
            (lambda: net.predict(given_X), "X"),
            (lambda: net.predict_proba(given_X), "X"),
            (lambda: net.value_and_grad(given_X, Y0), "X"),
            (lambda: trainer.evaluate(given_X, Y0), "X"),
            (lambda: trainer.fit(given_X, Y0, epochs=1), "X"),
            (lambda: trainer.fit(X0, Y0, validation_data=(given_X, Y0), epochs=1), "validation_data[0]"),
        ):
            refused(call, ValueError, name)
    else:  # a finite value: a correct answer, or a refusal naming X when the outputs overflow
        try:
            proba = net.predict_proba(given_X)
        except ValueError as exc:
            assert "X" in str(exc)
        else:
            assert np.all(np.isfinite(proba)) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
            assert np.array_equal(net.predict(given_X), proba.argmax(axis=1))
    assert_same(params, host_state(net))
    assert_same(opt, optimizer_state(trainer.optimizer))


@FEW
@example(scale=3e38, row=2, softmax=False)  # every feature near float32's limit: the products overflow
@given(scale=st.sampled_from([3e38, 1e38, 1e30, 1e10]), row=st.integers(0, 11), softmax=st.booleans())
def test_finite_inputs_whose_products_overflow_are_refused_or_answered(backend, scale, row, softmax):
    """Finite float32 inputs may still overflow inside the network: the outputs are checked too."""
    net = xpnet.MLP(
        [4, 16, 3 if softmax else 1],
        output="softmax" if softmax else "identity",
        backend=backend,
        dropout=0.0,
    )
    X = X0.astype(np.float32)
    X[row, :] = scale
    with np.errstate(all="ignore"):
        try:
            out = net.predict_proba(X)
        except ValueError as exc:
            assert "X" in str(exc) and "outputs" in str(exc)
            return
    assert np.all(np.isfinite(out))  # never NaN/inf predictions handed back


@FEW
@example(bad=1e39, row=0, dtype="float64")  # finite in float64, inf in the network's float32
@given(
    bad=st.sampled_from(BAD_NUMBERS), row=st.integers(0, 11), dtype=st.sampled_from(["float32", "float64"])
)
def test_bad_regression_targets_are_refused_after_the_cast(backend, bad, row, dtype):
    """Every value of BAD_NUMBERS is NaN/inf in float32; a float32 network refuses them all."""
    net = xpnet.MLP([4, 5, 1], output="identity", dropout=0.0, backend=backend, seed=0)
    trainer = xpnet.Trainer(net, loss="mse", optimizer=optim.SGD(lr=1e-3), batch_size=None)
    y = X0[:, 0].copy()
    y[row] = bad
    with np.errstate(over="ignore"):
        given_y = backend.asarray(y.astype(dtype))  # the backend's own array, as given
    params = host_state(net)
    refused(lambda: trainer.fit(X0, given_y, epochs=1), ValueError, "y")
    refused(
        lambda: trainer.fit(X0, X0[:, 1], validation_data=(X0, given_y), epochs=1), ValueError, "validation"
    )
    assert_same(params, host_state(net))


@settings(max_examples=10, deadline=None)
@given(
    bad=st.sampled_from(BAD_NUMBERS),
    row=st.integers(0, 39),
    trainer_path=st.booleans(),
    where=st.sampled_from(["X", "y", "predict"]),
)
def test_estimators_check_after_the_cast_to_their_dtype(bad, row, trainer_path, where):
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((40, 3)), rng.standard_normal(40)
    extra = {"optimizer": "adam"} if trainer_path else {}
    est = XPNetRegressor(hidden_layer_sizes=(5,), max_iter=3, dtype="float32", random_state=0, **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    before = {k: v for k, v in vars(est).items() if k.endswith("_")}
    expected = est.predict(X)
    Xb, yb = X.copy(), y.copy()
    (yb if where == "y" else Xb[:, 0])[row] = bad
    if where == "predict":
        refused(lambda: est.predict(Xb), ValueError, "X")
    else:
        refused(lambda: est.fit(Xb, yb), ValueError, where)
    assert {k for k in vars(est) if k.endswith("_")} == before.keys()
    assert np.array_equal(est.predict(X), expected)  # the fitted model is intact


def test_xpnet_predict_refuses_values_that_overflow_float32(tmp_path, capsys):
    from xpnet.cli import main

    net, _ = trained(xpnet.get_backend("numpy"))
    net.save(tmp_path / "m.npz")
    X = X0.copy()
    X[3, 1] = 1e39
    np.save(tmp_path / "x.npy", X)
    assert main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err
    assert "float32" in err and "X" in err and "Traceback" not in err


# --- 2. divergence: a restore brings back the best finite parameters, and reports their loss ----
@settings(max_examples=8, deadline=None)
@example(lr=0.1, seed=3, width=16, opt="momentum")  # diverges at epoch 15; the best epoch is 5
@example(lr=0.2, seed=3, width=16, opt="sgd")  # diverges at epoch 12; the best epoch is 3
@given(
    lr=st.floats(0.08, 1.0),
    seed=st.integers(0, 5),
    width=st.sampled_from([4, 16]),
    opt=st.sampled_from(["sgd", "momentum"]),
)
def test_divergence_restores_the_best_finite_parameters_with_their_loss(backend, lr, seed, width, opt):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((30, 5))
    y = X @ rng.standard_normal(5) * 4
    net = xpnet.MLP([5, width, 1], output="identity", dropout=0.0, backend=backend, seed=seed)
    trainer = xpnet.Trainer(net, loss="mse", optimizer=optim.make_optimizer(opt, lr), batch_size=None)
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        history = trainer.fit(X, y, epochs=25)
    assert all(np.all(np.isfinite(v)) for v in host_state(net).values())  # never NaN weights
    if not history.diverged:
        return
    assert any(issubclass(w.category, xpnet.DivergenceWarning) for w in caught)
    finite = [v for v in history.train_loss if math.isfinite(v)]
    now = trainer.evaluate(X, y)[0]
    assert now == pytest.approx(history.restored_loss, rel=1e-5)  # the reported loss is the model's
    assert history.restored_loss <= min(finite) * (1 + 1e-5)  # the best epoch's, not a diverged one's
    assert history.train_loss[history.best_epoch] == pytest.approx(now, rel=1e-4)  # full batch: exact


class _PoisonAfter(xpnet.callbacks.Callback):
    """After epoch ``epoch``, one hidden unit's weights become -inf: on positive inputs the unit is dead
    (relu(-inf) = 0), so the loss stays finite while the parameters are not."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_epoch_end(self, trainer, history, stopping):
        if history.epoch[-1] == self.epoch:
            trainer.net.params["dense0.weight"][:, 0] = -math.inf


@pytest.mark.parametrize("restore_best", [False, True])
def test_a_snapshot_is_never_taken_of_non_finite_parameters(backend, restore_best):
    X = np.abs(X0) + 0.5
    net = xpnet.MLP([4, 6, 1], output="identity", dropout=0.0, backend=backend, seed=0)
    trainer = xpnet.Trainer(net, loss="mse", optimizer=optim.SGD(lr=1e-2), batch_size=None)
    stopping = xpnet.EarlyStopping(patience=50, restore_best=restore_best)
    with pytest.warns(xpnet.DivergenceWarning, match="restored the parameters of epoch 2"):
        history = trainer.fit(X, X[:, 0], epochs=8, early_stopping=stopping, callbacks=[_PoisonAfter(3)])
    assert history.best_epoch == 2 and history.diverged_epoch == 4
    assert all(np.all(np.isfinite(v)) for v in host_state(net).values())


@pytest.mark.parametrize("trainer_path", [False, True], ids=["sklearn_path", "trainer_path"])
def test_estimator_sgd_at_rate_one_keeps_its_best_model(trainer_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 6))
    y = X @ rng.uniform(1, 3, 6) * 20 + 50
    kwargs = {"optimizer": "sgd"} if trainer_path else {"solver": "sgd", "momentum": 0.0}
    est = XPNetRegressor(learning_rate_init=1.0, max_iter=30, random_state=0, **kwargs)
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        try:
            est.fit(X, y)
        except ValueError as exc:  # scikit-learn's algorithm refuses non-finite weights, changing nothing
            assert "non-finite" in str(exc)
            refused(lambda: est.predict(X), NotFittedError, "")
            return
    mse = float(np.mean((est.predict(X) - y) ** 2))
    assert np.isfinite(mse)
    if any(issubclass(w.category, xpnet.DivergenceWarning) for w in caught):  # restored (full batch: 60 rows)
        assert est.loss_ == pytest.approx(mse, rel=1e-4)  # the restored model's loss is the one reported
        assert mse <= min(v for v in est.loss_curve_ if math.isfinite(v)) * (1 + 1e-4)
    else:
        assert trainer_path is False, "lr=1.0 plain SGD on this data diverges; the test needs that"


# --- 5. refuse before changing state ------------------------------------------------------------
TAMPER = {  # each one fails late in loading, after the network (and the optimizer) would be loaded
    "epochs": lambda meta: meta.update(epoch=99),
    "net_rng": lambda meta: meta["rng"]["net"].update(counter=-1),
    "trainer_rng": lambda meta: meta["rng"]["trainer"].update(counter=-5),
    "history": lambda meta: meta.update(history={"epoch": [1], "nonsense": 1}),
    "best": lambda meta: meta["best"].update(value="x"),
    "optim_steps": lambda meta: meta["optimizer"].update(steps="many"),
}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tamper=st.sampled_from(sorted(TAMPER)), fewer_epochs=st.booleans())
def test_refused_resume_changes_nothing(backend, tmp_path_factory, tamper, fewer_epochs):
    path = tmp_path_factory.mktemp("ckpt") / "run.npz"
    net, trainer = trained(backend, epochs=1)
    trainer.fit(X0, Y0, epochs=6, checkpoint=path)
    if not fewer_epochs:
        arrays, meta = read_npz(path)
        TAMPER[tamper](meta)
        atomic_savez(path, arrays, meta)
    other, again = trained(backend, epochs=3)  # a different state, which a refusal must keep
    params, opt = host_state(other), optimizer_state(again.optimizer)
    rngs = (again.rng.get_state(), other.rng.get_state())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((ValueError, TypeError)):
            again.fit(X0, Y0, epochs=3 if fewer_epochs else 20, resume_from=path)
    assert_same(params, host_state(other))
    assert_same(opt, optimizer_state(again.optimizer))
    assert (again.rng.get_state(), other.rng.get_state()) == rngs


@settings(max_examples=10, deadline=None)
@given(
    schedule=st.one_of(
        st.sampled_from(["cosine", "step", "plateau", ""]), st.integers(), st.floats(), st.just(object())
    )
)
def test_a_misconfigured_schedule_is_refused_at_construction(schedule):
    net = xpnet.MLP([4, 5, 3], seed=0, dropout=0.0)
    refused(
        lambda: xpnet.Trainer(net, schedule=schedule, optimizer="sgd", batch_size=None), TypeError, "schedule"
    )
    mine, other = optim.SGD(lr=0.1), optim.SGD(lr=0.1)
    foreign = make_schedule("cosine", other, epochs=10)
    refused(
        lambda: xpnet.Trainer(net, optimizer=mine, schedule=foreign, batch_size=None), ValueError, "schedule"
    )
    assert xpnet.Trainer(
        net, optimizer=mine, schedule=make_schedule("cosine", mine, epochs=10), batch_size=None
    ).schedule


def _fitted_attributes(est) -> dict:
    return {
        k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in vars(est).items() if k.endswith("_")
    }


@settings(max_examples=8, deadline=None)
@example(trainer_path=True, n_features=4, label=2, partial=False)  # one class, and other features
@example(trainer_path=False, n_features=3, label=7, partial=True)  # a label outside classes_
@given(
    trainer_path=st.booleans(),
    n_features=st.sampled_from([3, 4]),
    label=st.sampled_from([0, 2, 7]),
    partial=st.booleans(),
)
def test_a_refused_refit_keeps_the_fitted_classifier(trainer_path, n_features, label, partial):
    extra = {"optimizer": "adam"} if trainer_path else {}
    est = XPNetClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0, **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X0[:, :3], Y0)
    before, predicted = _fitted_attributes(est), est.predict_proba(X0[:, :3])
    coefs = [c.copy() for c in est.coefs_]
    X_new = np.random.default_rng(label).standard_normal((12, n_features))
    if partial:  # a label outside classes_
        y_new = np.full(12, 7)
        call = lambda: est.partial_fit(X_new, y_new)  # noqa: E731
    else:  # one class
        call = lambda: est.fit(X_new, np.full(12, label))  # noqa: E731
    try:
        call()
    except ValueError:
        pass
    else:  # scikit-learn's algorithm fits one class as MLPClassifier does: then it predicts that class
        assert not partial and not trainer_path
        assert np.array_equal(est.classes_, [label]) and np.all(est.predict(X_new) == label)
        return
    after = _fitted_attributes(est)
    assert after.keys() == before.keys()
    assert np.array_equal(after["classes_"], before["classes_"]) and after["n_features_in_"] == 3
    assert all(np.array_equal(a, b) for a, b in zip(est.coefs_, coefs, strict=True))
    assert np.array_equal(est.predict_proba(X0[:, :3]), predicted)


@settings(max_examples=10, deadline=None)
@given(
    trainer_path=st.booleans(),
    why=st.sampled_from(["nan", "no_classes", "label_outside", "complex", "flag"]),
)
def test_a_refused_first_partial_fit_leaves_the_classifier_unfitted(trainer_path, why):
    extra = {"optimizer": "adam"} if trainer_path else {}
    est = XPNetClassifier(hidden_layer_sizes=(5,), random_state=0, **extra)
    X, y, kwargs = X0.copy(), Y0.copy(), {"classes": [0, 1, 2]}
    if why == "nan":
        X[2, 2] = np.nan
    elif why == "no_classes":
        kwargs = {}
    elif why == "label_outside":
        y[0] = 9
    elif why == "complex":
        X = X.astype(complex)
    else:
        est.set_params(shuffle="no")
    with pytest.raises((ValueError, TypeError)):
        est.partial_fit(X, y, **kwargs)
    with pytest.raises(NotFittedError):
        est.predict(X0)


# --- 6. types: booleans are booleans, numbers are real, messages name the argument ---------------
NOT_BOOLS = st.sampled_from(["no", "false", "False", "0", "", "yes", 0, 1, 1.0, None, [], [0]])


@settings(max_examples=15, deadline=None)
@given(value=NOT_BOOLS, field=st.sampled_from(["batch_norm", "shuffle", "track_grad_norm", "restore_best"]))
def test_truthy_values_are_not_booleans(value, field):
    if field == "batch_norm":
        refused(lambda: xpnet.MLP([4, 5, 3], batch_norm=value, dropout=0.0), TypeError, field)
    elif field == "restore_best":
        refused(lambda: xpnet.EarlyStopping(restore_best=value, patience=10), TypeError, field)
    else:
        refused(lambda: xpnet.Trainer(xpnet.MLP([4, 5, 3], dropout=0.0), **{field: value}), TypeError, field)
    refused(lambda: xpnet.RunConfig.from_dict({field: value}), TypeError, field)
    for truth in (True, False, np.bool_(True)):
        assert xpnet.RunConfig.from_dict({field: truth})


@settings(max_examples=12, deadline=None)
@given(
    value=NOT_BOOLS,
    flag=st.sampled_from(["batch_norm", "shuffle", "early_stopping", "warm_start"]),
    cls=st.sampled_from([XPNetClassifier, XPNetRegressor]),
)
def test_the_estimators_flags_refuse_truthy_strings(value, flag, cls):
    from xpnet.sklearn_trainer import TrainerClassifier

    X, y = X0, Y0 if cls is XPNetClassifier else X0[:, 0]
    for est in (cls(max_iter=2, **{flag: value}), TrainerClassifier(max_iter=2, **{flag: value})):
        with pytest.raises((TypeError, ValueError)) as info:
            est.fit(X, Y0 if isinstance(est, TrainerClassifier) else y)
        assert flag in str(info.value)
        with pytest.raises(NotFittedError):
            est.predict(X)


def test_config_file_with_a_string_bool_is_refused(tmp_path, capsys):
    from xpnet.cli import main

    config = tmp_path / "run.json"
    config.write_text('{"batch_norm": "false", "epochs": 1}')
    assert main(["train", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "batch_norm must be True or False" in err and "Traceback" not in err


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["complex64", "complex128", "timedelta64[s]", "datetime64[D]", "U3", "object"]))
def test_non_real_X_is_refused_naming_X(backend, kind):
    net, trainer = trained(backend, epochs=1)
    params = host_state(net)
    X = X0.astype(kind) if kind != "object" else np.array([[None] * 4] * 12, dtype=object)
    for call in (
        lambda: net.predict(X),
        lambda: trainer.fit(X, Y0, epochs=1),
        lambda: trainer.evaluate(X, Y0),
    ):
        refused(call, TypeError, "X")
    refused(lambda: trainer.fit(X0, Y0.astype(kind) if kind != "object" else X, epochs=1), TypeError, "y")
    assert_same(params, host_state(net))
    if kind in ("complex128", "timedelta64[s]"):
        refused(lambda: XPNetClassifier(max_iter=2).fit(X, Y0), (TypeError, ValueError), "X")


@settings(max_examples=12, deadline=None)
@given(
    rate=st.sampled_from([np.float32(0.2), np.float64(0.1), np.float16(0.5), 0.25, 0, np.int64(0)]),
)
def test_real_number_types_are_numbers(rate):
    net = xpnet.MLP([4, 5, 3], dropout=rate)
    assert net.dropout == pytest.approx(float(rate))
    assert xpnet.RunConfig(dropout=rate).dropout == pytest.approx(float(rate))
    assert XPNetClassifier(dropout=rate, max_iter=2, hidden_layer_sizes=(4,)).fit(X0, Y0).predict(
        X0
    ).shape == (12,)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: xpnet.MLP([4, 5, 3], seed=-1, dropout=0.0), "seed"),
        (lambda: xpnet.MLP([4, 5, 3], seed=2.5, dropout=0.0), "seed"),
        (
            lambda: xpnet.Trainer(
                xpnet.MLP([4, 5, 3], dropout=0.0), seed=-1, optimizer="sgd", batch_size=None
            ),
            "seed",
        ),
        (lambda: xpnet.RunConfig(seed=-1), "seed"),
        (
            lambda: xpnet.Trainer(xpnet.MLP([4, 5, 3], dropout=0.0), optimizer="sgd", batch_size=None).fit(
                X0, None
            ),
            "y",
        ),
        (
            lambda: xpnet.Trainer(xpnet.MLP([4, 5, 3], dropout=0.0), optimizer="sgd", batch_size=None).fit(
                None, Y0
            ),
            "X",
        ),
        (lambda: xpnet.MLP([4, 5, 3], dropout=0.0).value_and_grad(X0, None), "y"),
        (lambda: xpnet.MLP([4, 5, 3], dropout=0.0).predict(None), "X"),
        (
            lambda: xpnet.Trainer(xpnet.MLP([4, 5, 3], dropout=0.0), optimizer="sgd", batch_size=None).fit(
                X0, Y0[:5]
            ),
            "y",
        ),
        (
            lambda: xpnet.Trainer(xpnet.MLP([4, 5, 3], dropout=0.0), optimizer="sgd", batch_size=None).fit(
                X0, 3
            ),
            "y",
        ),
        (lambda: xpnet.MLP([4, 5, 3], dropout="0.2"), "dropout"),
        (lambda: xpnet.MLP([4, 5, 3], dropout=np.float32(1.0)), "dropout"),
        (
            lambda: xpnet.Trainer(xpnet.MLP([4, 5, 3], dropout=0.0), optimizer="sgd", batch_size=None).fit(
                X0, Y0, log_every="5"
            ),
            "log_every",
        ),
        (
            lambda: xpnet.Trainer(xpnet.MLP([4, 5, 3], dropout=0.0), optimizer="sgd", batch_size=None).fit(
                X0, Y0, progress="no"
            ),
            "progress",
        ),
        (lambda: XPNetClassifier(optimizer="adam", max_iter=2).fit(X0, None), "y"),
    ],
)
def test_messages_name_the_argument(call, name):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    assert name in str(info.value), str(info.value)
