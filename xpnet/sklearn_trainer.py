"""The xpnet-Trainer path of the scikit-learn estimators (``XPNetClassifier(optimizer=...)``...).

When an xpnet extra is switched on (``optimizer``, ``dropout``, ``batch_norm``, ``clip``,
``weight_decay``, ``init``, an xpnet ``learning_rate`` schedule), :mod:`xpnet.sklearn`'s
estimators delegate to these: dropout, batch norm, gradient clipping and torch-style
optimizers over one :class:`xpnet.Trainer`. Input is validated on the
host with ``sklearn.utils.validation``; each ``fit`` moves the data to the device once and
trains with one :class:`xpnet.Trainer`; results are always NumPy arrays.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .config import RunConfig
from .network import MLP
from .sklearn_params import batch_size_for, estimator_config, refuse_non_real, transactional
from .training import Trainer
from .validation import cast_finite, check_finite_outputs

PREDICT_BLOCK = 256  # rows per forward pass at prediction time (see ``_forward``)
_FLOATS = (np.float64, np.float32)

__all__ = ["TrainerClassifier", "TrainerRegressor"]


class _XPNetBase(BaseEstimator):
    """Parameters, validation and the training loop shared by both estimators."""

    _loss: str = "mse"
    _y_numeric: bool = False

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] | int = (100,),
        activation: str = "relu",
        *,
        init: str = "he_normal",
        dropout: float = 0.2,
        batch_norm: bool = False,
        optimizer: str = "adam",
        learning_rate_init: float = 2e-3,
        learning_rate: str = "constant",
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        batch_size: int | str | None = "auto",
        max_iter: int = 200,
        shuffle: bool = True,
        tol: float = 1e-4,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        clip: tuple[str, float] | None = None,
        backend: str = "numpy",
        device: Any = None,
        dtype: str = "float32",
        random_state: Any = None,
        warm_start: bool = False,
        verbose: bool = False,
    ):
        # scikit-learn convention: store parameters untouched; validation happens in fit.
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.init = init
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.optimizer = optimizer
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.clip = clip
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # Each estimator defines _output() (output activation), _loss, _encode_y(y, first, classes) (targets for
    # the Trainer; the target attributes on a first fit), _validation_score(history, y_val) (per epoch).

    def _new_model(self, n_features: int, n_outputs: int, config: RunConfig, seed: int) -> MLP:
        return config.replace(output=self._output(), seed=seed).build_network(n_features, n_outputs)

    def _new_trainer(self, n: int, config: RunConfig, seed: int, optimizer=None) -> Trainer:
        """A trainer for ``model_``; ``optimizer`` (with its state) carries over from earlier fits."""
        config = config.replace(
            loss=self._loss, seed=seed, batch_size=batch_size_for(self.batch_size, n) or 0
        )
        return config.build_trainer(self.model_, optimizer)

    @transactional  # a refused (or failed) call leaves the estimator as it was
    def _fit(self, X, y, incremental: bool, classes=None):
        config = estimator_config(self)  # bad parameters fail here, named as the estimator's
        first = not (incremental or self.warm_start) or not hasattr(self, "model_")
        if incremental and first and classes is None and self._needs_classes():
            raise ValueError(
                "classes must be passed on the first call to partial_fit (all labels y may hold)"
            )
        refuse_non_real(X)
        X, y = validate_data(
            self, X, y, reset=first, dtype=_FLOATS, multi_output=True, y_numeric=self._y_numeric
        )
        y_enc = self._encode_y(y, first=first, classes=classes)
        rs = check_random_state(self.random_state)
        if first:
            seed = int(rs.randint(np.iinfo(np.int32).max))
            self.model_ = self._new_model(X.shape[1], self._n_network_outputs(), config, seed)
            self._optimizer = None
            self.loss_curve_ = []
            self.n_iter_ = 0
            self.t_ = 0
            self.best_loss_ = math.inf
            self.validation_scores_ = None
        seed = int(rs.randint(np.iinfo(np.int32).max))
        if incremental:
            self._partial_epoch(X, y_enc, config, seed)
            return self
        trainer = self._new_trainer(X.shape[0], config, seed, optimizer=getattr(self, "_optimizer", None))
        validation_data, y_val = None, None
        if self.early_stopping:
            stratify = y_enc if self._stratify() else None
            X, X_val, y_enc, y_val = train_test_split(
                X, y_enc, test_size=self.validation_fraction, random_state=rs, stratify=stratify
            )
            validation_data = (X_val, y_val)
        history = trainer.fit(
            X, y_enc, validation_data=validation_data, progress=bool(self.verbose), **config.fit_kwargs()
        )
        self._record(history, X.shape[0], trainer)
        if validation_data is not None:
            self.validation_scores_ = self._validation_score(history, y_val)
            self.best_validation_score_ = float(np.nanmax(self.validation_scores_))
        if history.stopped_epoch is None and len(history) == int(self.max_iter):
            warnings.warn(
                f"{type(self).__name__}: reached max_iter={self.max_iter} epochs and the "
                "optimization has not converged yet",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _partial_epoch(self, X, y_enc, config: RunConfig, seed: int) -> None:
        """One epoch that keeps the optimizer (and its state) of the previous calls."""
        trainer = getattr(self, "_trainer", None)
        if trainer is None or trainer.net is not self.model_:
            trainer = self._new_trainer(X.shape[0], config, seed, optimizer=getattr(self, "_optimizer", None))
        trainer.batch_size = batch_size_for(self.batch_size, X.shape[0])
        history = trainer.fit(X, y_enc, epochs=1)
        self._record(history, X.shape[0], trainer)

    def _record(self, history, n: int, trainer: Trainer) -> None:
        self._trainer = trainer
        self._optimizer = trainer.optimizer
        self.loss_curve_ = list(self.loss_curve_) + list(history.train_loss)
        self.n_iter_ += len(history)
        self.t_ += n * len(history)
        finite = [v for v in history.train_loss if math.isfinite(v)]
        if finite:
            self.best_loss_ = min(self.best_loss_, min(finite))
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else math.nan
        self.loss_ = self.loss_ if history.restored_loss is None else history.restored_loss  # after a restore

    def _needs_classes(self) -> bool:
        return False

    def _stratify(self) -> bool:
        return False

    def _n_network_outputs(self) -> int:
        return self.n_outputs_

    def _forward(self, X) -> np.ndarray:
        """Evaluation-mode network outputs for ``X``, as float64 NumPy ``(n, n_outputs)``.

        Rows go through the network in zero-padded blocks of a fixed ``PREDICT_BLOCK`` rows,
        so every matrix product has the same shape whatever ``len(X)``: a row's prediction
        then does not depend on which other rows share the call (float32 BLAS otherwise
        changes the last bits with the batch size), and memory stays bounded.
        """
        check_is_fitted(self)
        refuse_non_real(X)
        X = validate_data(self, X, reset=False, dtype=_FLOATS)
        net, xp, block = self.model_, self.model_.xp, PREDICT_BLOCK
        n = X.shape[0]
        padded = np.zeros((-(-n // block) * block, X.shape[1]), dtype=net.dtype)
        padded[:n] = cast_finite(X, net.dtype, "X")  # finite after the cast (1e39 overflows float32)
        Xd = net.backend.asarray(padded, dtype=net.dtype)  # one host->device transfer
        outs = [net.eval_logits_outputs(Xd[i : i + block, :])[1] for i in range(0, padded.shape[0], block)]
        out = outs[0] if len(outs) == 1 else xp.concat(outs, axis=0)
        return np.asarray(check_finite_outputs(net.backend.to_numpy(out)[:n]), dtype=np.float64)

    def __getstate__(self):
        # Optimizer/trainer state lives on the device and holds device generators, which
        # not every backend can pickle; a pickled estimator keeps the network (as host
        # arrays) and predicts identically, and a later partial_fit starts a fresh optimizer.
        state = dict(super().__getstate__())
        state.pop("_trainer", None)
        state.pop("_optimizer", None)
        model = state.pop("model_", None)
        if model is not None:
            state["_model_state"] = {
                "config": model.config(),
                "backend": model.backend.name,
                "device": self.device,
                "params": {k: model.backend.to_numpy(v) for k, v in model.state_dict(copy=False).items()},
            }
        return state

    def __setstate__(self, state):
        saved = state.pop("_model_state", None)
        super().__setstate__(state)
        if saved is not None:
            cfg = dict(saved["config"])
            layers = cfg.pop("layers")
            self.model_ = MLP(layers, backend=saved["backend"], device=saved["device"], **cfg)
            self.model_.load_state_dict(saved["params"])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags


class TrainerClassifier(ClassifierMixin, _XPNetBase):
    """A multilayer-perceptron classifier trained by xpnet (``MLPClassifier``'s parameters).

    Multiclass targets train a softmax output with categorical cross-entropy; binary
    targets a single sigmoid unit with log loss (``predict_proba`` still returns two
    columns); multilabel indicator matrices one sigmoid unit per label. ``optimizer`` is an
    xpnet optimizer name (``sgd``, ``momentum``, ``nesterov``, ``adam``, ``adamw``,
    ``rmsprop``), ``weight_decay`` torch's L2 term, ``clip`` e.g. ``("global_norm", 1.0)``,
    ``learning_rate`` a schedule (``constant``, ``step``, ``exponential``, ``cosine``,
    ``plateau``). Training stops when the training loss (validation loss with
    ``early_stopping``) has not improved by ``tol`` for ``n_iter_no_change`` epochs.

    Fitted attributes: ``classes_``, ``n_features_in_``, ``n_outputs_``, ``model_`` (the
    :class:`xpnet.MLP`), ``loss_curve_``, ``loss_``, ``best_loss_``, ``n_iter_``, ``t_``,
    ``validation_scores_`` (accuracy per epoch, with ``early_stopping``).
    """

    def _output(self) -> str:
        return "softmax" if self._kind == "multiclass" else "sigmoid"

    @property
    def _loss(self) -> str:
        return "categorical_crossentropy" if self._kind == "multiclass" else "log_loss"

    def _needs_classes(self) -> bool:
        return True

    def _stratify(self) -> bool:
        return self._kind != "multilabel"

    def _encode_y(self, y, first: bool, classes=None):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        target = type_of_target(y)
        multilabel = target.startswith("multilabel")
        if first:  # checked first, then set
            if multilabel:
                kind = "multilabel"
                found = np.arange(y.shape[1]) if classes is None else np.asarray(classes)
                if found.shape != (y.shape[1],):
                    raise ValueError(f"classes must list the {y.shape[1]} label columns of y")
            else:
                found = np.unique(y) if classes is None else np.unique(np.asarray(classes))
                if found.shape[0] < 2:
                    raise ValueError(
                        f"y has only one class ({found[0]!r}); a classifier needs at least 2 classes"
                    )
                kind = "binary" if found.shape[0] == 2 else "multiclass"
            self._kind, self.classes_ = kind, found
            self.n_outputs_ = 1 if kind == "binary" else found.shape[0]
            self.out_activation_ = self._output()
        if multilabel != (self._kind == "multilabel"):
            raise ValueError(f"y is {target} but the classifier was fitted on {self._kind} targets")
        if multilabel:
            if y.shape[1] != self.classes_.shape[0]:
                raise ValueError(
                    f"y has {y.shape[1]} label columns; the classifier has {self.classes_.shape[0]}"
                )
            return y.astype(np.float64)
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, self.classes_.shape[0] - 1)
        unknown = self.classes_[index] != y
        if np.any(unknown):
            raise ValueError(
                f"y holds labels not in classes {self.classes_.tolist()}: {np.unique(y[unknown]).tolist()[:5]}"
            )
        return index

    def _validation_score(self, history, y_val) -> list[float]:
        if self._kind != "multilabel":
            return list(history.val_accuracy)
        return [math.nan] * len(history)  # the Trainer's accuracy is not subset accuracy

    def fit(self, X, y) -> TrainerClassifier:
        """Train from scratch (or from the current weights with ``warm_start``); returns self."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None) -> TrainerClassifier:
        """One epoch over ``(X, y)``; ``classes`` (every label) is required on the first call."""
        return self._fit(X, y, incremental=True, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` (``(n, n_labels)`` for multilabel), float64."""
        out = self._forward(X)
        if self._kind == "binary":
            p = out[:, 0]
            return np.column_stack([1.0 - p, p])
        return out

    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """Predicted labels from ``classes_`` (an indicator matrix for multilabel)."""
        proba = self.predict_proba(X)
        if self._kind == "multilabel":
            return (proba >= 0.5).astype(self.classes_.dtype if self.classes_.dtype.kind in "iub" else int)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class TrainerRegressor(RegressorMixin, _XPNetBase):
    """A multilayer-perceptron regressor trained by xpnet (``MLPRegressor``'s parameters).

    Identity outputs trained with mean squared error; one output per target column
    (multi-output regression). See :class:`XPNetClassifier` for the parameters. With
    ``early_stopping``, ``validation_scores_`` holds the validation R² per epoch
    (variance-weighted over outputs, i.e. ``1 - MSE / mean variance``).
    """

    _loss = "mse"
    _y_numeric = True

    def _output(self) -> str:
        return "identity"

    def _encode_y(self, y, first: bool, classes=None):
        y = np.asarray(y, dtype=np.float64)
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        if first:
            self.n_outputs_ = y2.shape[1]
            self.out_activation_ = "identity"
        elif y2.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y2.shape[1]} outputs; the regressor was fitted with {self.n_outputs_}")
        return y2

    def _validation_score(self, history, y_val) -> list[float]:
        var = float(np.mean(np.var(y_val, axis=0)))
        if var == 0.0:
            return [math.nan] * len(history)
        return [1.0 - v / var for v in history.val_loss]

    def fit(self, X, y) -> TrainerRegressor:
        """Train from scratch (or from the current weights with ``warm_start``); returns self."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y) -> TrainerRegressor:
        """One epoch over ``(X, y)``, keeping the optimizer state of earlier calls."""
        return self._fit(X, y, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predictions ``(n,)`` for one output, ``(n, n_outputs)`` otherwise, float64."""
        out = self._forward(X)
        return out[:, 0] if self.n_outputs_ == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
