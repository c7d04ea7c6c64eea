"""scikit-learn estimators: ``XPNetClassifier`` and ``XPNetRegressor``, drop-ins for ``MLPClassifier``/``MLPRegressor``.

Change the import and keep every argument and fitted attribute::

    from xpnet import XPNetClassifier as MLPClassifier   # was: from sklearn.neural_network import ...

With xpnet's extras at their defaults the estimators run scikit-learn's own algorithm
(:mod:`xpnet.sklearn_mlp`: same initial weights from ``random_state``, same losses,
``alpha``, solvers ``sgd``/``adam``/``lbfgs``, stopping rule, attributes), on any xpnet backend
(``backend="cupy"`` trains on a GPU). Switching an extra on (``optimizer``, ``dropout``,
``batch_norm``, ``clip``, ``weight_decay``, ``init``, an xpnet ``learning_rate`` schedule such
as ``"cosine"``) trains with an :class:`xpnet.Trainer` instead (:mod:`xpnet.sklearn_trainer`).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data

from .backend import BACKENDS
from .initializers import INITIALIZERS
from .optim import OPTIMIZERS
from .schedules import SCHEDULES
from .sklearn_ensemble import fit_members, member_outputs
from .sklearn_mlp import SklearnMLPMixin
from .sklearn_params import cast_checked, refuse_non_real, transactional
from .sklearn_trainer import TrainerClassifier, TrainerRegressor
from .validation import check_finite_outputs

__all__ = ["XPNetClassifier", "XPNetRegressor"]

_SKLEARN_SCHEDULES = {"constant", "invscaling", "adaptive"}
# xpnet's extras: each default leaves scikit-learn's algorithm untouched.
_EXTRAS: dict[str, Any] = {
    "backend": "numpy",
    "device": None,
    "dtype": None,
    "optimizer": None,
    "dropout": 0.0,
    "batch_norm": False,
    "clip": None,
    "weight_decay": 0.0,
    "init": None,
    "n_ensemble": 1,  # K > 1: K members (seeds random_state, +1, ...), outputs averaged (xpnet.sklearn_ensemble)
}
_EXTRA_CONSTRAINTS = {
    "backend": [StrOptions(set(BACKENDS))],
    "device": "no_validation",
    "dtype": "no_validation",  # a TypeError naming dtype, in _fit
    "optimizer": [None, StrOptions(set(OPTIMIZERS))],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "batch_norm": ["boolean"],
    "clip": "no_validation",  # checked by xpnet.clipping.check_clip on the Trainer path
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "init": [None, StrOptions(set(INITIALIZERS))],
    "n_ensemble": [Interval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions(_SKLEARN_SCHEDULES | set(SCHEDULES))],
    "batch_size": [None, *MLPClassifier._parameter_constraints["batch_size"]],  # None: full batch (xpnet)
}
_TRAINER_ATTRS = (
    "classes_", "n_outputs_", "out_activation_", "loss_curve_", "loss_", "best_loss_", "n_iter_", "t_",
    "validation_scores_", "best_validation_score_",
)  # fmt: skip


class _XPNetBase(SklearnMLPMixin, BaseEstimator):
    """What both estimators share: the extras, the two training paths, fitting and scoring."""

    def _store_init_args(self, args: dict[str, Any]) -> None:
        """scikit-learn's convention: every ``__init__`` argument stored untouched, under its name."""
        for name, value in args.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    def _uses_trainer(self) -> bool:
        """Whether an xpnet extra that scikit-learn's algorithm lacks is switched on."""
        return (
            self.optimizer is not None
            or self.dropout != 0.0
            or bool(self.batch_norm)
            or self.clip is not None
            or self.weight_decay != 0.0
            or self.init is not None
            or self.learning_rate not in _SKLEARN_SCHEDULES
        )

    def _check_solver(self) -> bool:
        if self.solver not in ("sgd", "adam") and self.optimizer is None:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is not stochastic."
            )
        return True

    def _fit(self, X, y, sample_weight=None, incremental=False, classes=None):
        if self.n_ensemble != 1:
            return fit_members(self, X, y, sample_weight, incremental, classes)
        if self.dtype not in (None, "float32", "float64"):
            raise TypeError(f"dtype={self.dtype!r}: choose None (follow X), 'float32' or 'float64'")
        if self._uses_trainer():
            return self._trainer_fit(X, y, sample_weight, incremental, classes)
        self._trainer_fitted = False
        first = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        refuse_non_real(X)
        X, y = self._validate_input(X, y, incremental, reset=first)
        X = cast_checked(X, self.dtype or X.dtype, "X")  # finite after the cast (1e39 overflows float32)
        y = y if self._is_classifier() else cast_checked(y, X.dtype, "y")
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        y = y.reshape((-1, 1)) if y.ndim == 1 else y
        self._random_state = check_random_state(self.random_state)
        return self._engine_fit(X, y, sample_weight, incremental)

    # --- the xpnet Trainer path ---------------------------------------------------------
    def _trainer_params(self, dtype) -> dict[str, Any]:
        solver_opt = (
            "adam" if self.solver == "adam" else ("nesterov" if self.nesterovs_momentum else "momentum")
        )
        activation = {"logistic": "sigmoid"}.get(self.activation, self.activation)
        return dict(
            hidden_layer_sizes=self.hidden_layer_sizes, activation=activation,
            init=self.init or "glorot_uniform", dropout=self.dropout, batch_norm=self.batch_norm,
            optimizer=self.optimizer or solver_opt, learning_rate_init=self.learning_rate_init,
            learning_rate="constant" if self.learning_rate in _SKLEARN_SCHEDULES else self.learning_rate,
            momentum=self.momentum, weight_decay=self.weight_decay, batch_size=self.batch_size,
            max_iter=self.max_iter, shuffle=self.shuffle, tol=self.tol, n_iter_no_change=self.n_iter_no_change,
            early_stopping=self.early_stopping, validation_fraction=self.validation_fraction, clip=self.clip,
            backend=self.backend, device=self.device, dtype=self.dtype or str(dtype),
            random_state=self.random_state, warm_start=self.warm_start, verbose=self.verbose,
        )  # fmt: skip

    def _trainer_fit(self, X, y, sample_weight, incremental: bool, classes):
        est = getattr(self, "_trainer_est", None)
        first = not hasattr(est, "model_") or (not self.warm_start and not incremental)
        refuse_non_real(X)
        X, y = validate_data(
            self,
            X,
            y,
            reset=first,
            accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32),
            multi_output=True,
        )
        X = X.toarray() if sp.issparse(X) else X
        if sample_weight is not None:
            sw = _check_sample_weight(sample_weight, X)
            if not np.any(sw):
                raise ValueError("sample_weight: all weights are zero; nothing to fit")
            if not np.all(sw == sw[0]):  # equal weights are no weights; others the Trainer cannot honour
                raise ValueError(
                    "sample_weight: the xpnet Trainer path (optimizer=, dropout=, ...) takes only equal "
                    "weights (zero weights included); fit without xpnet extras for weighted samples"
                )
        params = self._trainer_params(X.dtype)
        est = self._trainer_class(**params) if first else est.set_params(**params)
        before = 0 if first else est.n_iter_
        est.partial_fit(X, y, classes=classes) if incremental and classes is not None else (
            est.partial_fit(X, y) if incremental else est.fit(X, y)
        )
        self._trainer_est, self._trainer_fitted = est, True
        for name in _TRAINER_ATTRS:
            if hasattr(est, name):
                setattr(self, name, getattr(est, name))
        self.n_iter_ = est.n_iter_ - before  # per call, as scikit-learn counts
        layers = est.model_.config()["layers"]
        self.n_layers_ = len(layers)
        state = {k: est.model_.backend.to_numpy(v) for k, v in est.model_.state_dict(copy=False).items()}
        self.coefs_ = [state[f"dense{i}.weight"] for i in range(len(layers) - 1)]
        self.intercepts_ = [state[f"dense{i}.bias"] for i in range(len(layers) - 1)]
        if first and self._is_classifier():
            kind = est._kind
            self._label_binarizer = LabelBinarizer().fit(y if kind == "multilabel" else est.classes_)
        return self

    @property
    def model_(self):
        """The :class:`xpnet.MLP` trained on the Trainer path (absent on scikit-learn's path)."""
        est = self.__dict__.get("_trainer_est")
        if est is None or not hasattr(est, "model_"):
            raise AttributeError("model_ exists once an estimator with xpnet extras is fitted")
        return est.model_

    def _outputs(self, X) -> np.ndarray:
        """Validated ``X`` through the fitted network: output activations, NumPy ``(n, n_outputs)``."""
        check_is_fitted(self)
        if self.n_ensemble != 1 and "members_" in self.__dict__:
            return member_outputs(self, X)
        refuse_non_real(X)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False, dtype=(np.float64, np.float32))
        if getattr(self, "_trainer_fitted", False):
            return self._trainer_est._forward(X.toarray() if sp.issparse(X) else X)
        return check_finite_outputs(self._forward_pass_fast(cast_checked(X, self.dtype or X.dtype, "X")))

    def _score_arrays(self, X_val, y_val, sample_weight) -> float:
        """The validation score of early stopping (``X_val`` already on the device)."""
        backend, xp = self._engine_backend()
        coefs, intercepts = self._device_params(backend)
        out = backend.to_numpy(self._forward_pass_xp(xp, X_val, coefs, intercepts, keep=False))
        y_pred = self._predict_from_outputs(out)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return float(self._score_function(y_val, y_pred, sample_weight=sample_weight))

    @_fit_context(prefer_skip_nested_validation=True)
    @transactional  # validate everything, then change state: a refused fit leaves the estimator as it was
    def fit(self, X, y, sample_weight=None):
        """Fit to ``(X, y)`` (from the current weights with ``warm_start``); returns self."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class XPNetClassifier(ClassifierMixin, _XPNetBase):
    """``MLPClassifier`` with xpnet backends: same parameters, defaults, attributes and results.

    See ``sklearn.neural_network.MLPClassifier`` for every scikit-learn parameter and
    attribute. xpnet's extras: ``backend`` ("numpy", "cupy", "torch", "array_api_strict"),
    ``device``, ``dtype`` (None follows ``X``), and, each switching training to an
    :class:`xpnet.Trainer`: ``optimizer`` (an xpnet optimizer name, replacing ``solver``),
    ``dropout``, ``batch_norm``, ``clip`` (e.g. ``("global_norm", 1.0)``), ``weight_decay``,
    ``init`` (an xpnet initializer) and xpnet schedules for ``learning_rate``; ``n_ensemble=K``
    fits K members (seeds ``random_state``, +1, ...) and averages their probabilities.
    """

    _parameter_constraints = {**MLPClassifier._parameter_constraints, **_EXTRA_CONSTRAINTS}
    _trainer_class = TrainerClassifier
    _score_function = staticmethod(accuracy_score)
    loss = "log_loss"

    def __init__(
        self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
        batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
        max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
        momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
        beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
        backend="numpy", device=None, dtype=None, optimizer=None, dropout=0.0, batch_norm=False,
        clip=None, weight_decay=0.0, init=None, n_ensemble=1,
    ):  # fmt: skip
        self._store_init_args(locals())

    def _output_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _is_classifier(self) -> bool:
        return True

    def _decode_validation(self, y_val):
        return self._label_binarizer.inverse_transform(y_val)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the previous "
                        f"call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        return X, self._label_binarizer.transform(y).astype(bool)

    def _predict_from_outputs(self, out):
        if self.n_outputs_ == 1:
            out = out.ravel()
        return self._label_binarizer.inverse_transform(out)

    def predict(self, X):
        """Predicted classes (an indicator matrix for multilabel targets)."""
        return self._predict_from_outputs(self._outputs(X))

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    @transactional
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``(X, y)``; ``classes`` (every label) is required on the first call."""
        if self._uses_trainer():
            return self._fit(X, y, sample_weight, incremental=True, classes=classes)
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        return np.log(self.predict_proba(X))

    def predict_proba(self, X):
        """Class probabilities ``(n, n_classes)`` (``(n, n_labels)`` for multilabel)."""
        out = self._outputs(X)
        if self.n_outputs_ == 1:
            out = out.ravel()
        if out.ndim == 1:
            return np.vstack([1 - out, out]).T
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class XPNetRegressor(RegressorMixin, _XPNetBase):
    """``MLPRegressor`` with xpnet backends: same parameters, defaults, attributes and results.

    See ``sklearn.neural_network.MLPRegressor`` and :class:`XPNetClassifier` for xpnet's extras.
    """

    _parameter_constraints = {**MLPRegressor._parameter_constraints, **_EXTRA_CONSTRAINTS}
    _trainer_class = TrainerRegressor
    _score_function = staticmethod(r2_score)

    def __init__(
        self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
        alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
        power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
        warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
        validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
        max_fun=15000, backend="numpy", device=None, dtype=None, optimizer=None, dropout=0.0,
        batch_norm=False, clip=None, weight_decay=0.0, init=None, n_ensemble=1,
    ):  # fmt: skip
        self._store_init_args(locals())

    def _output_activation(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _is_classifier(self) -> bool:
        return False

    def _decode_validation(self, y_val):
        return y_val

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], multi_output=True, y_numeric=True,
            dtype=(np.float64, np.float32), reset=reset,
        )  # fmt: skip
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _predict_from_outputs(self, out):
        return out.ravel() if out.shape[1] == 1 else out

    def predict(self, X):
        """Predictions ``(n,)`` for one output, ``(n, n_outputs)`` otherwise."""
        return self._predict_from_outputs(self._outputs(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    @available_if(lambda est: est._check_solver)  # not called: scikit-learn's regressor allows lbfgs here
    @_fit_context(prefer_skip_nested_validation=True)
    @transactional
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)``, keeping the optimizer state of earlier calls."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
