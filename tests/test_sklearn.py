"""The scikit-learn estimators: sklearn's own estimator checks, targets, partial_fit, backends.

scikit-learn's own MLP test module runs against them in tests/test_sklearn_compat.py; the
tests here cover xpnet's side: the Trainer path the extras switch on (``XPNET`` below is the
tuned set that was the estimators' default before they became drop-ins), backends, pickling.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks
from threadpoolctl import threadpool_limits

import xpnet
from xpnet.sklearn import XPNetClassifier, XPNetRegressor

# xpnet's tuned settings (the defaults before the estimators followed MLPClassifier's): an xpnet
# optimizer switches training to the xpnet Trainer path.
XPNET = dict(optimizer="adam", init="he_normal", dropout=0.2, learning_rate_init=2e-3, dtype="float32")

# Short runs with the options the defaults leave off (batch norm, clipping, other
# optimizers, full batch), so sklearn's checks exercise every code path in seconds.
CHECKED = [
    XPNetClassifier(max_iter=30),
    XPNetRegressor(max_iter=50, learning_rate_init=0.01),
    XPNetClassifier(solver="sgd", learning_rate="adaptive", learning_rate_init=0.1, max_iter=50),
    XPNetRegressor(solver="lbfgs", max_iter=50),
    XPNetClassifier(**XPNET, max_iter=30),
    XPNetClassifier(
        hidden_layer_sizes=(16, 8),
        batch_norm=True,
        dropout=0.1,
        optimizer="nesterov",
        learning_rate_init=0.05,
        clip=("global_norm", 5.0),
        batch_size=16,
        max_iter=30,
    ),
    XPNetRegressor(
        hidden_layer_sizes=(32,),
        activation="tanh",
        init="glorot_uniform",
        dropout=0.0,
        optimizer="adamw",
        weight_decay=1e-3,
        batch_size=None,
        dtype="float64",
        max_iter=50,
        learning_rate_init=0.01,
    ),
]


_NO_SAMPLE_WEIGHTS = "the xpnet Trainer path has no per-sample weights (it takes only equal ones)"


def _expected_failed_checks(estimator) -> dict[str, str]:
    """scikit-learn's path: none. A failure here is a bug to fix, not to declare; the only
    declared ones are the Trainer path's sample-weight checks (it refuses unequal weights)."""
    if not estimator._uses_trainer():
        return {}
    names = (
        "check_sample_weight_equivalence_on_dense_data",
        "check_sample_weight_equivalence_on_sparse_data",
        "check_sample_weights_not_overwritten",
        "check_classifiers_one_label_sample_weights",
    )
    return dict.fromkeys(names, _NO_SAMPLE_WEIGHTS)


@parametrize_with_checks(CHECKED, expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short runs on purpose
        check(estimator)


@pytest.mark.parametrize("estimator", [XPNetClassifier(), XPNetRegressor()], ids=["classifier", "regressor"])
def test_check_estimator_with_defaults_reports_no_failure(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        results = check_estimator(estimator, on_fail=None)
    statuses = {r["status"] for r in results}
    failed = [
        (r["check_name"], repr(r["exception"])) for r in results if r["status"] not in ("passed", "skipped")
    ]
    assert not failed, failed
    assert "passed" in statuses and len(results) > 40


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)


def test_digits_defaults_reach_97_percent_in_a_pipeline(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    with threadpool_limits(limits=1, user_api="blas"):  # threads only contend at this size on shared CI cores
        model = make_pipeline(StandardScaler(), XPNetClassifier(**XPNET, random_state=0)).fit(
            X_train, y_train
        )
    clf = model[-1]
    assert model.score(X_test, y_test) >= 0.97
    assert clf.n_iter_ < clf.max_iter  # stopped by the tol rule, not by the epoch budget
    assert len(clf.loss_curve_) == clf.n_iter_ and clf.loss_curve_[-1] < 0.2 * clf.loss_curve_[0]
    assert isinstance(clf.model_, xpnet.MLP) and clf.model_.layers == [64, 100, 10]
    assert clf.n_features_in_ == 64 and list(clf.classes_) == list(range(10))


@pytest.fixture
def binary():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((120, 5))
    y = np.where(X[:, 0] + 0.5 * X[:, 1] > 0, "yes", "no")
    return X, y


def test_binary_uses_one_sigmoid_unit_and_returns_two_probability_columns(binary):
    X, y = binary
    clf = XPNetClassifier(**XPNET, hidden_layer_sizes=(16,), max_iter=150, random_state=0).fit(X, y)
    assert list(clf.classes_) == ["no", "yes"]
    assert clf.model_.layers == [5, 16, 1] and clf.model_.output == "sigmoid"
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(clf.predict(X), clf.classes_[(proba[:, 1] > 0.5).astype(int)])
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba)
    # The score check runs on scikit-learn's path (the default): since b01bede the Trainer
    # path's dropout streams leave this 120-row run at 0.875.
    clf = XPNetClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=150, random_state=0)
    clf.fit(X, y)
    assert clf.out_activation_ == "logistic" and [c.shape for c in clf.coefs_] == [(5, 16), (16, 1)]
    assert clf.predict_proba(X).shape == (120, 2) and clf.score(X, y) > 0.9


def test_multiclass_softmax_with_string_labels(blobs):
    X, y = blobs
    labels = np.array(["cat", "dog", "emu"])[y]
    clf = XPNetClassifier(**XPNET, hidden_layer_sizes=(8,), batch_size=16, max_iter=100, random_state=0)
    clf.fit(X, labels)
    assert clf.model_.output == "softmax" and clf.n_outputs_ == 3
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(clf.predict(X)) <= {"cat", "dog", "emu"} and clf.score(X, labels) > 0.95


def test_multilabel_indicator_targets(blobs):
    X, y = blobs
    Y = np.stack([y == 0, y != 1, X[:, 0] > 0], axis=1).astype(int)
    clf = XPNetClassifier(**XPNET, hidden_layer_sizes=(16,), max_iter=150, random_state=0).fit(X, Y)
    assert clf.model_.output == "sigmoid" and clf.model_.n_outputs == 3
    pred = clf.predict(X)
    assert pred.shape == Y.shape and set(np.unique(pred)) <= {0, 1}
    assert (pred == Y).mean() > 0.9
    assert clf.predict_proba(X).shape == (150, 3)


def test_regressor_single_and_multi_output():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    Y = np.stack([X[:, 0] - 2 * X[:, 1], np.sin(X[:, 2])], axis=1)
    reg = XPNetRegressor(**{**XPNET, "dropout": 0.0}, hidden_layer_sizes=(32,), batch_size=32, random_state=0)
    reg.fit(X, Y)
    assert reg.model_.output == "identity" and reg.n_outputs_ == 2
    pred = reg.predict(X)
    assert pred.shape == (200, 2) and pred.dtype == np.float64
    assert reg.score(X, Y) > 0.9
    single = clone(reg).fit(X, Y[:, 0])
    assert single.predict(X).shape == (200,) and single.score(X, Y[:, 0]) > 0.9


def test_partial_fit_twice_equals_two_epochs_of_fit(blobs):
    X, y = blobs
    params = dict(**XPNET, hidden_layer_sizes=(8,), batch_size=32, random_state=0, max_iter=2)
    inc = XPNetClassifier(**params)
    inc.partial_fit(X, y, classes=[0, 1, 2])
    optimizer = inc._trainer_est._optimizer
    inc.partial_fit(X, y)
    assert (
        inc._trainer_est._optimizer is optimizer and optimizer.steps == 2 * 5
    )  # state kept: 5 batches/epoch
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        full = XPNetClassifier(**params).fit(X, y)
    # n_iter_ counts the epochs of the last call, as scikit-learn's does (1 per partial_fit)
    assert inc.n_iter_ == 1 and full.n_iter_ == 2 and inc.t_ == 2 * len(X)
    np.testing.assert_array_equal(inc.loss_curve_, full.loss_curve_)
    for key, value in full.model_.state_dict().items():
        np.testing.assert_array_equal(inc.model_.state_dict()[key], value)


def test_partial_fit_needs_classes_first_and_rejects_unknown_labels(blobs):
    X, y = blobs
    clf = XPNetClassifier(**XPNET)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])  # a batch need not hold every class
    assert list(clf.classes_) == [0, 1, 2] and clf.n_iter_ == 1
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, y + 5)
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :2], y)


def test_early_stopping_records_validation_scores_and_restores_the_best(blobs):
    X, y = blobs
    clf = XPNetClassifier(
        **XPNET,
        hidden_layer_sizes=(8,),
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=5,
        batch_size=16,
        max_iter=300,
        random_state=0,
    ).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_ < 300
    assert clf.best_validation_score_ == max(clf.validation_scores_) > 0.9
    rng = np.random.default_rng(0)
    Xr = rng.standard_normal((200, 2))
    reg = XPNetRegressor(**XPNET, early_stopping=True, batch_size=32, max_iter=300, random_state=0).fit(
        Xr, Xr[:, 0] * Xr[:, 1]
    )
    assert len(reg.validation_scores_) == reg.n_iter_ and reg.best_validation_score_ > 0.5


def test_no_early_stopping_means_no_validation_scores(blobs):
    X, y = blobs
    with pytest.warns(ConvergenceWarning):
        clf = XPNetClassifier(**XPNET, max_iter=5).fit(X, y)
    assert clf.validation_scores_ is None and clf.n_iter_ == 5


def test_warm_start_continues_from_the_fitted_weights(blobs):
    X, y = blobs
    clf = XPNetClassifier(**XPNET, hidden_layer_sizes=(8,), max_iter=3, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        model = clf.model_
        clf.fit(X, y)
    # n_iter_ counts each fit's epochs (scikit-learn's rule); loss_curve_ goes on growing
    assert clf.model_ is model and clf.n_iter_ == 3 and len(clf.loss_curve_) == 6
    # The loss check runs on scikit-learn's path: since b01bede (Philox dropout streams) the
    # Trainer path's dropout draws make this 3-epoch curve noisy (its loss goes up here).
    clf = XPNetClassifier(hidden_layer_sizes=(8,), max_iter=3, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        coefs = clf.coefs_[0]
        clf.fit(X, y)
    assert clf.coefs_[0] is coefs and clf.n_iter_ == 3 and len(clf.loss_curve_) == 6
    assert clf.loss_curve_[3] < clf.loss_curve_[0]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"activation": "swish"}, "activation"),
        ({"init": "orthogonal"}, "init"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"learning_rate": "sideways"}, "learning_rate"),  # invscaling is scikit-learn's, now valid
        ({"backend": "jax"}, "backend"),
        ({"dropout": 1.0}, "dropout"),
        ({"hidden_layer_sizes": (10, 0)}, "hidden_layer_sizes"),
        ({"learning_rate_init": -0.1}, "learning_rate_init"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_iter": 0}, "max_iter"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"clip": ("sideways", 1.0)}, "clip"),
    ],
)
def test_bad_parameters_fail_at_fit_naming_the_parameter(blobs, params, match):
    X, y = blobs
    clf = XPNetClassifier(**params)  # construction never validates (sklearn convention)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)
    assert not hasattr(clf, "model_") and not hasattr(clf, "coefs_")


def test_learning_rate_schedule_decays_the_step_size(blobs):
    X, y = blobs
    lrs = {}
    for schedule in ("constant", "exponential"):
        clf = XPNetClassifier(
            **{**XPNET, "learning_rate_init": 0.01}, learning_rate=schedule, max_iter=20, tol=0.0
        )
        with pytest.warns(ConvergenceWarning):
            clf.fit(X, y)
        lrs[schedule] = clf._trainer_est._optimizer.lr
    assert lrs["constant"] == 0.01
    assert lrs["exponential"] < 0.05 * 0.01  # decays to about 1% of the base rate over max_iter


def test_dtype_must_be_a_float_type(blobs):
    with pytest.raises(TypeError, match="dtype"):
        XPNetClassifier(dtype="int32").fit(*blobs)
    with pytest.raises(TypeError, match="dtype"):
        XPNetClassifier(**{**XPNET, "dtype": "int32"}).fit(*blobs)


def test_grid_search_over_width_and_dropout(blobs):
    X, y = blobs
    grid = {"hidden_layer_sizes": [(4,), (16,)], "dropout": [0.0, 0.2]}
    search = GridSearchCV(XPNetClassifier(**XPNET, batch_size=16, max_iter=40, random_state=0), grid, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["hidden_layer_sizes"] in grid["hidden_layer_sizes"]
    assert search.best_score_ > 0.9


def test_predictions_do_not_depend_on_the_batch(blobs):
    X, y = blobs
    X = np.concatenate([X] * 3)  # 450 rows: more than one prediction block
    clf = XPNetClassifier(**XPNET, hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(
        X, np.concatenate([y] * 3)
    )
    full = clf.predict_proba(X)
    pieces = np.concatenate([clf.predict_proba(X[i : i + 7]) for i in range(0, len(X), 7)])
    np.testing.assert_array_equal(pieces, full)


@pytest.mark.parametrize("trainer", [False, True], ids=["sklearn_path", "trainer_path"])
@pytest.mark.parametrize(("name", "device"), [("array_api_strict", "device1"), ("torch", "cpu")])
def test_other_backends_return_numpy_and_match_numpy(blobs, name, device, trainer):
    pytest.importorskip(name)
    X, y = blobs
    params = dict(hidden_layer_sizes=(8,), shuffle=False, dtype="float64", max_iter=5, random_state=0)
    if trainer:
        params.update(optimizer="adam", learning_rate_init=2e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = XPNetClassifier(**params).fit(X, y)
        other = XPNetClassifier(backend=name, device=device, **params).fit(X, y)
    if trainer:
        assert other.model_.backend.name == name
    else:
        assert type(other.coefs_[0]) is np.ndarray and other.coefs_[0].dtype == np.float64
    proba = other.predict_proba(X)
    assert type(proba) is np.ndarray and type(other.predict(X)) is np.ndarray
    np.testing.assert_allclose(proba, ref.predict_proba(X), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(other.loss_curve_, ref.loss_curve_, rtol=1e-9)


def test_pickle_keeps_predictions_on_a_non_numpy_backend(blobs):
    pytest.importorskip("torch")
    X, y = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = XPNetClassifier(**XPNET, hidden_layer_sizes=(8,), backend="torch", max_iter=5, random_state=0)
        clf.fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    assert again.model_.backend.name == "torch" and hasattr(clf, "model_")
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    again.partial_fit(X, y)  # a fresh optimizer, same network
    assert again.n_iter_ == 1 and len(again.loss_curve_) == len(clf.loss_curve_) + 1


def test_cupy_backend_on_gpu(blobs):
    if xpnet.available_backends()["cupy"] != "available":
        pytest.skip("needs CuPy and a CUDA GPU (pip install 'xpnet[cuda12]')")
    X, y = blobs
    clf = XPNetClassifier(hidden_layer_sizes=(16,), backend="cupy", max_iter=50, random_state=0).fit(X, y)
    assert type(clf.predict_proba(X)) is np.ndarray and clf.score(X, y) > 0.9


def test_tags_declare_multilabel_and_multioutput():
    assert XPNetClassifier().__sklearn_tags__().classifier_tags.multi_label
    tags = XPNetRegressor().__sklearn_tags__()
    assert tags.target_tags.multi_output and tags.target_tags.single_output
    assert not tags.input_tags.allow_nan


# --- scikit-learn's path: the same numbers as MLPClassifier/MLPRegressor ---------------------------


def _both(make_sklearn, make_xpnet, X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return make_sklearn(**params).fit(X, y), make_xpnet(**params).fit(X, y)


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="sgd"),  # Nesterov momentum, scikit-learn's default for sgd
        dict(solver="sgd", nesterovs_momentum=False, learning_rate="invscaling", learning_rate_init=0.5),
        dict(solver="adam", alpha=1e-2),
    ],
    ids=["sgd-nesterov", "sgd-invscaling", "adam"],
)
def test_loss_curve_matches_mlpclassifier_on_digits_for_20_epochs(params):
    """Same random_state -> the same Glorot draws, so both start from equal weights (checked
    below), then full batch, no shuffle, float64: loss_curve_ equal to 1e-6 relative."""
    from sklearn.neural_network import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    common = dict(
        hidden_layer_sizes=(64,), random_state=0, batch_size=len(X), shuffle=False, max_iter=20, tol=0
    )
    ref, ours = _both(MLPClassifier, XPNetClassifier, X, y, **common, **params)
    assert len(ours.loss_curve_) == len(ref.loss_curve_) == 20 and ours.n_iter_ == ref.n_iter_ == 20
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-6)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_, strict=True):
        assert a.dtype == b.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)
    first = {**common, **params, "max_iter": 1, "learning_rate_init": 1e-300}  # a ~zero step: the init
    ref0, ours0 = _both(MLPClassifier, XPNetClassifier, X, y, **first)
    for a, b in zip(ours0.coefs_, ref0.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.2, n_iter_no_change=2),
        dict(solver="adam", n_iter_no_change=3, tol=1e-3),
        dict(solver="adam", early_stopping=True, n_iter_no_change=3),
        dict(solver="lbfgs", max_iter=30),
    ],
    ids=["sgd-adaptive", "adam-tol", "early-stopping", "lbfgs"],
)
def test_stopping_epoch_and_attributes_match_mlpclassifier(params):
    from sklearn.neural_network import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X, y = X[:600] / 16.0, y[:600]
    ref, ours = _both(
        MLPClassifier, XPNetClassifier, X, y, hidden_layer_sizes=(32,), random_state=1, **params
    )
    assert ours.n_iter_ == ref.n_iter_ and ours.t_ == ref.t_ and ours.n_layers_ == ref.n_layers_ == 3
    assert ours.out_activation_ == ref.out_activation_ == "softmax"
    for name in ("loss_curve_", "validation_scores_"):
        if hasattr(ref, name) and getattr(ref, name) is not None:
            np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-6)
    for name in ("best_loss_", "best_validation_score_"):
        if hasattr(ref, name):
            assert (getattr(ours, name) is None) == (getattr(ref, name) is None)
    np.testing.assert_allclose(ours.loss_, ref.loss_, rtol=1e-6)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


def test_multilabel_loss_is_summed_over_labels_and_regression_matches_mlpregressor():
    from sklearn.datasets import make_multilabel_classification, make_regression
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    X, Y = make_multilabel_classification(n_samples=200, n_classes=4, random_state=0)
    params = dict(solver="sgd", hidden_layer_sizes=(16,), max_iter=10, random_state=0, sample_weight=None)
    params.pop("sample_weight")
    ref, ours = _both(MLPClassifier, XPNetClassifier, X, Y, **params)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-6)
    Xr, yr = make_regression(n_samples=200, n_features=5, n_targets=2, random_state=0)
    ref, ours = _both(MLPRegressor, XPNetRegressor, Xr, yr, solver="adam", max_iter=15, random_state=0)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(ours.predict(Xr), ref.predict(Xr), rtol=1e-6)


def test_sample_weight_and_sparse_input_match_mlpclassifier(blobs):
    import scipy.sparse as sp
    from sklearn.neural_network import MLPClassifier

    X, y = blobs
    w = np.random.default_rng(0).uniform(0.1, 2.0, len(y))
    params = dict(solver="sgd", hidden_layer_sizes=(8,), max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = MLPClassifier(**params).fit(X, y, sample_weight=w)
        ours = XPNetClassifier(**params).fit(X, y, sample_weight=w)
        sparse = XPNetClassifier(**params).fit(sp.csr_matrix(X), y)
        dense = XPNetClassifier(**params).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-9)


def test_float32_input_trains_in_float32(blobs):
    X, y = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = XPNetClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(
            X.astype(np.float32), y
        )
        forced = XPNetClassifier(hidden_layer_sizes=(8,), max_iter=3, dtype="float32").fit(X, y)
    assert {c.dtype for c in clf.coefs_ + clf.intercepts_} == {np.dtype(np.float32)}
    assert (
        forced.coefs_[0].dtype == np.float32 and clf.predict_proba(X.astype(np.float32)).dtype == np.float32
    )
