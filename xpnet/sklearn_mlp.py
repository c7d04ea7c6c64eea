"""scikit-learn's multilayer-perceptron algorithm, step for step, over the Array API.

:class:`SklearnMLPMixin` is the training engine of :class:`xpnet.XPNetClassifier` and
:class:`xpnet.XPNetRegressor` when no xpnet extra is switched on: the same Glorot-uniform
draws from ``random_state``, the same forward pass, losses (log-loss summed over labels, half
squared error, half Poisson deviance), ``alpha`` L2 term on the weights only divided by the
batch's (weighted) size, the same SGD (momentum, Nesterov, ``invscaling``/``adaptive``
rates) and Adam updates, the same epoch loop, stopping rule (``tol``, ``n_iter_no_change``),
early-stopping split and L-BFGS through :func:`scipy.optimize.minimize`. Only the arrays
differ: they live on the estimator's backend (NumPy, CuPy, torch), so ``backend="cupy"``
runs scikit-learn's algorithm on a GPU. Fitted ``coefs_``/``intercepts_`` are NumPy arrays;
on NumPy they are the very arrays updated in place, as in scikit-learn.
"""

from __future__ import annotations

import warnings
from itertools import chain

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import gen_batches, shuffle
from sklearn.utils.optimize import _check_optimize_result

from .backend import get_backend
from .sklearn_optim import make_optimizer

__all__ = ["SklearnMLPMixin"]


def _activate(xp, name: str, z):
    if name == "relu":
        return xp.maximum(z, xp.zeros_like(z)) if xp is not np else np.maximum(z, 0, out=z)
    if name == "tanh":
        return xp.tanh(z)
    if name == "logistic":
        return expit(z) if xp is np else 1.0 / (1.0 + xp.exp(-z))
    if name == "softmax":
        e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
        return e / xp.sum(e, axis=1, keepdims=True)
    if name == "exp":
        return xp.exp(z)
    return z  # identity


def _derivative(xp, name: str, a, delta):
    """``delta`` times the activation's derivative, written with its output ``a``."""
    if name == "relu":
        if xp is np:
            delta[a == 0] = 0
            return delta
        return xp.where(a == 0, xp.zeros_like(delta), delta)
    if name == "tanh":
        return delta * (1 - a * a)
    if name == "logistic":
        return delta * a * (1 - a)
    return delta


def _xlogy(xp, x, y):
    return xp.where(x == 0, xp.zeros_like(y), x * xp.log(y))


def _average(xp, v, sw):
    """``np.average(v, weights=sw, axis=0)``."""
    if sw is None:
        return xp.mean(v, axis=0)
    return xp.sum(v * sw[:, None], axis=0) / xp.sum(sw)


def _data_loss(xp, name: str, y, p, sw):
    """scikit-learn's LOSS_FUNCTIONS, as a 0-d device array."""
    if name == "squared_error":
        return 0.5 * xp.mean(_average(xp, (y - p) ** 2, sw))
    if name == "poisson":
        return xp.sum(_average(xp, _xlogy(xp, y, y / p) - y + p, sw))
    eps = float(np.finfo(np.float32 if p.dtype == xp.float32 else np.float64).eps)
    p = xp.clip(p, eps, 1 - eps)
    if name == "binary_log_loss":
        v = _xlogy(xp, y, p) + _xlogy(xp, 1 - y, 1 - p)
    else:
        if p.shape[1] == 1:
            p, y = xp.concat([1 - p, p], axis=1), xp.concat([1 - y, y], axis=1)
        v = _xlogy(xp, y, p)
    return -xp.sum(_average(xp, v, sw))


class SklearnMLPMixin:
    """scikit-learn's ``BaseMultilayerPerceptron`` training, on an xpnet backend.

    The estimator supplies the parameters, ``loss`` ("log_loss", "squared_error" or
    "poisson"), ``_validate_input`` and ``_score_arrays`` (the validation score).
    """

    # --- backend -------------------------------------------------------------------
    def _engine_backend(self):
        backend = get_backend(self.backend, self.device)
        return backend, backend.xp

    def _to_device(self, backend, X, dtype=None):
        if backend.name == "numpy":
            return X if sp.issparse(X) else np.asarray(X, dtype=dtype)
        if sp.issparse(X):
            X = X.toarray()
        return backend.asarray(np.ascontiguousarray(X), dtype=None if dtype is None else str(np.dtype(dtype)))

    def _device_params(self, backend):
        to = lambda a: self._to_device(backend, a)  # noqa: E731
        return [to(c) for c in self.coefs_], [to(b) for b in self.intercepts_]

    def _set_params_from(self, backend, coefs, intercepts) -> None:
        if backend.name != "numpy":
            coefs = [backend.to_numpy(c) for c in coefs]
            intercepts = [backend.to_numpy(b) for b in intercepts]
        self.coefs_, self.intercepts_ = list(coefs), list(intercepts)

    # --- forward / backward --------------------------------------------------------
    def _forward_pass_xp(self, xp, X, coefs, intercepts, keep: bool):
        activations = [X]
        a = X
        last = len(coefs) - 1
        for i, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
            z = a @ W
            z += b
            a = _activate(xp, self.out_activation_ if i == last else self.activation, z)
            if keep:
                activations.append(a)
        return activations if keep else a

    def _loss_name(self) -> str:
        if self.loss == "log_loss" and self.out_activation_ == "logistic":
            return "binary_log_loss"
        return self.loss

    def _backprop_xp(self, xp, X, y, sw, coefs, intercepts):
        """Loss (0-d array) and gradients of scikit-learn's ``_backprop``."""
        acts = self._forward_pass_xp(xp, X, coefs, intercepts, keep=True)
        loss = _data_loss(xp, self._loss_name(), y, acts[-1], sw)
        sw_sum = X.shape[0] if sw is None else xp.sum(sw)
        values = sum(xp.sum(W * W) for W in coefs)
        loss = loss + (0.5 * self.alpha) * values / sw_sum
        delta = acts[-1] - y
        if sw is not None:
            delta = delta * sw[:, None]
        coef_grads, intercept_grads = [None] * len(coefs), [None] * len(coefs)
        for i in range(len(coefs) - 1, -1, -1):
            g = acts[i].T @ delta
            g += self.alpha * coefs[i]
            coef_grads[i] = g / sw_sum
            intercept_grads[i] = xp.sum(delta, axis=0) / sw_sum
            if i > 0:
                delta = _derivative(xp, self.activation, acts[i], delta @ coefs[i].T)
        return loss, coef_grads, intercept_grads

    # --- initialisation --------------------------------------------------------------
    def _initialize(self, y, layer_units, dtype) -> None:
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()
        self.coefs_, self.intercepts_ = [], []
        factor = 2.0 if self.activation == "logistic" else 6.0
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:], strict=True):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
            intercept = self._random_state.uniform(-bound, bound, fan_out)
            self.coefs_.append(coef.astype(dtype, copy=False))
            self.intercepts_.append(intercept.astype(dtype, copy=False))
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [b.copy() for b in self.intercepts_]
        if self.solver in ("sgd", "adam"):
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _engine_fit(self, X, y, sample_weight, incremental: bool):
        """scikit-learn's ``_fit`` from validated ``X``, encoded 2-D ``y`` and checked weights."""
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        self.n_outputs_ = y.shape[1]
        layer_units = [X.shape[1]] + sizes + [self.n_outputs_]
        if first_pass:
            self._initialize(y, layer_units, X.dtype)
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, y, sample_weight, layer_units)
        else:
            self._fit_stochastic(X, y, sample_weight, incremental)
        if not all(np.isfinite(w).all() for w in chain(self.coefs_, self.intercepts_)):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed."
            )
        return self

    # --- L-BFGS --------------------------------------------------------------------
    def _unpack(self, packed):
        coefs, intercepts, start = [], [], 0
        for W in self.coefs_:
            end = start + W.size
            coefs.append(np.reshape(packed[start:end], W.shape))
            start = end
        for b in self.intercepts_:
            intercepts.append(packed[start : start + b.size])
            start += b.size
        return coefs, intercepts

    def _loss_grad_lbfgs(self, packed, X, y, sample_weight, *_buffers):
        """Loss and flat gradient at ``packed`` (scikit-learn's signature; buffers unused)."""
        backend, xp = self._engine_backend()
        self.coefs_, self.intercepts_ = self._unpack(packed)
        coefs, intercepts = self._device_params(backend)
        Xd, yd = self._to_device(backend, X), self._to_device(backend, y, dtype=packed.dtype)
        sw = None if sample_weight is None else self._to_device(backend, sample_weight, dtype=packed.dtype)
        loss, cg, ig = self._backprop_xp(xp, Xd, yd, sw, coefs, intercepts)
        grad = np.hstack([np.ravel(backend.to_numpy(g)) for g in cg + ig])
        return float(backend.to_numpy(loss)), grad

    def _fit_lbfgs(self, X, y, sample_weight, layer_units) -> None:
        backend, xp = self._engine_backend()
        dtype = X.dtype
        Xd, yd = self._to_device(backend, X), self._to_device(backend, y, dtype=dtype)
        sw = None if sample_weight is None else self._to_device(backend, sample_weight, dtype=dtype)
        packed = np.hstack([np.ravel(a) for a in self.coefs_ + self.intercepts_])

        def loss_grad(theta):
            coefs, intercepts = self._unpack(np.asarray(theta, dtype=dtype))
            coefs = [self._to_device(backend, c) for c in coefs]
            intercepts = [self._to_device(backend, b) for b in intercepts]
            loss, cg, ig = self._backprop_xp(xp, Xd, yd, sw, coefs, intercepts)
            grad = np.hstack([np.ravel(backend.to_numpy(g)) for g in cg + ig])
            return float(backend.to_numpy(loss)), grad

        result = scipy.optimize.minimize(
            loss_grad,
            packed,
            method="L-BFGS-B",
            jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol},
        )
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = result.fun
        coefs, intercepts = self._unpack(np.asarray(result.x, dtype=dtype))
        self.coefs_, self.intercepts_ = coefs, intercepts

    # --- SGD / Adam ----------------------------------------------------------------
    def _split_validation(self, X, y, sample_weight):
        stratify = y if (self._is_classifier() and self.n_outputs_ == 1) else None
        arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
        parts = train_test_split(
            *arrays, random_state=self._random_state, test_size=self.validation_fraction, stratify=stratify
        )
        X_train, X_val, y_train, y_val = parts[:4]
        sw_train, sw_val = (None, None) if sample_weight is None else parts[4:]
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size of your dataset."
            )
        return X_train, y_train, sw_train, (X_val, self._decode_validation(y_val), sw_val)

    def _batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size is None:  # xpnet: full batch
            return n_samples
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                stacklevel=3,
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def _fit_stochastic(self, X, y, sample_weight, incremental: bool) -> None:
        backend, xp = self._engine_backend()
        coefs, intercepts = self._device_params(backend)
        self._set_params_from(backend, coefs, intercepts)  # NumPy: the arrays updated in place
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = make_optimizer(self, xp, coefs + intercepts)
        validation = None
        if self.early_stopping:
            X, y, sample_weight, validation = self._split_validation(X, y, sample_weight)
            validation = (self._to_device(backend, validation[0]),) + validation[1:]
        n_samples, batch_size = X.shape[0], self._batch_size(X.shape[0])
        Xd, yd = self._to_device(backend, X), self._to_device(backend, y, dtype=X.dtype)
        swd = None if sample_weight is None else self._to_device(backend, sample_weight, dtype=X.dtype)
        sample_idx = np.arange(n_samples, dtype=int)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    sample_idx = shuffle(sample_idx, random_state=self._random_state)
                loss = self._epoch(backend, xp, (Xd, yd, swd), sample_idx, batch_size, (coefs, intercepts))
                self.n_iter_ += 1
                self.loss_ = loss / n_samples
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self._epoch_end(backend, validation, (coefs, intercepts)) or incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                        "reached and the optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=2,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=2)
        self._set_params_from(backend, coefs, intercepts)
        if validation is not None:
            self.coefs_, self.intercepts_ = self._best_coefs, self._best_intercepts

    def _epoch_end(self, backend, validation, params) -> bool:
        """scikit-learn's end-of-epoch steps: verbose line, stopping rule, rate update; True to stop."""
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
        self._update_no_improvement_count(backend, validation, *params)
        self._optimizer.iteration_ends(self.t_)
        if self._no_improvement_count <= self.n_iter_no_change:
            return False
        what = "Validation score" if validation is not None else "Training loss"
        msg = f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} consecutive epochs."
        if self._optimizer.trigger_stopping(msg, self.verbose):
            return True
        self._no_improvement_count = 0
        return False

    def _epoch(self, backend, xp, data, sample_idx, batch_size: int, params) -> float:
        """One pass over the batches; returns the summed (batch loss x batch rows)."""
        Xd, yd, swd = data
        coefs, intercepts = params
        n_samples = sample_idx.shape[0]
        if self.shuffle:
            idx = sample_idx if backend.name == "numpy" else backend.asarray(sample_idx)
        accumulated = 0.0
        for batch in gen_batches(n_samples, batch_size):
            if self.shuffle:
                rows = idx[batch]
                X_b = Xd[rows] if backend.name == "numpy" else xp.take(Xd, rows, axis=0)
                y_b = yd[rows] if backend.name == "numpy" else xp.take(yd, rows, axis=0)
                sw_b = None if swd is None else (swd[rows] if backend.name == "numpy" else xp.take(swd, rows))
            else:
                X_b, y_b, sw_b = Xd[batch, ...], yd[batch, ...], None if swd is None else swd[batch]
            loss, cg, ig = self._backprop_xp(xp, X_b, y_b, sw_b, coefs, intercepts)
            accumulated = accumulated + loss * (batch.stop - batch.start)
            self._optimizer.update_params(coefs + intercepts, cg + ig)
        return float(backend.to_numpy(accumulated))

    def _update_no_improvement_count(self, backend, validation, coefs, intercepts) -> None:
        if validation is not None:
            self._set_params_from(backend, coefs, intercepts)
            score = self._score_arrays(*validation)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_coefs = [np.array(c, copy=True) for c in self.coefs_]
                self._best_intercepts = [np.array(b, copy=True) for b in self.intercepts_]
            return
        if self.loss_curve_[-1] > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if self.loss_curve_[-1] < self.best_loss_:
            self.best_loss_ = self.loss_curve_[-1]

    # --- prediction ----------------------------------------------------------------
    def _forward_pass_fast(self, X):
        """Network outputs for validated ``X`` as a NumPy array."""
        backend, xp = self._engine_backend()
        if backend.name == "numpy":
            return self._forward_pass_xp(np, X, self.coefs_, self.intercepts_, keep=False)
        coefs, intercepts = self._device_params(backend)
        out = self._forward_pass_xp(xp, self._to_device(backend, X), coefs, intercepts, keep=False)
        return backend.to_numpy(out)
