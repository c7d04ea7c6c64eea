"""The multilayer perceptron: parameters, forward pass and exact backward pass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import layers as L
from .activations import HIDDEN, OUTPUT
from .backend import Backend, get_backend
from .initializers import INITIALIZERS, initialize
from .losses import check_pairing, output_loss_and_grad
from .validation import check_choice, check_dtype, check_features, encode_targets, to_host


class MLP:
    """A dense network ``dense -> [batch norm] -> activation -> [dropout]`` per hidden layer.

    ``layers`` lists every width, input first: ``[64, 128, 10]`` is 64 features, one hidden
    layer of 128 units and 10 outputs. Parameters are drawn on the host from ``seed`` and
    moved to ``backend``'s device once, so a seed gives the same network on every backend.
    """

    def __init__(
        self,
        layers: Sequence[int],
        activation: str = "relu",
        output: str = "softmax",
        init: str = "he_normal",
        dropout: float = 0.0,
        batch_norm: bool = False,
        backend: str | Backend = "numpy",
        dtype: Any = "float32",
        seed: int | None = 0,
        device: Any = None,
    ):
        self.layers = _check_layers(layers)
        self.activation = check_choice(activation, "activation", tuple(HIDDEN))
        self.output = check_choice(output, "output", tuple(OUTPUT))
        self.init = check_choice(init, "init", INITIALIZERS)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
            raise TypeError(f"dropout must be a number in [0, 1); got {dropout!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} is not allowed; it must be in [0, 1)")
        self.dropout = float(dropout)
        self.batch_norm = bool(batch_norm)
        self.dtype = check_dtype(dtype)
        self.seed = seed
        self.backend = get_backend(backend, device)
        self.xp = self.backend.xp
        self._dtype = self.backend.dtype(self.dtype)
        host = np.random.default_rng(seed)
        self.params: dict[str, Any] = {}
        self.buffers: dict[str, Any] = {}
        for i, (fan_in, fan_out) in enumerate(zip(self.layers[:-1], self.layers[1:], strict=True)):
            self.params[f"dense{i}.weight"] = self._put(initialize(self.init, fan_in, fan_out, host))
            self.params[f"dense{i}.bias"] = self._put(np.zeros(fan_out))
            if self.batch_norm and i < self.n_hidden:
                self.params[f"bn{i}.weight"] = self._put(np.ones(fan_out))
                self.params[f"bn{i}.bias"] = self._put(np.zeros(fan_out))
                self.buffers[f"bn{i}.running_mean"] = self._put(np.zeros(fan_out))
                self.buffers[f"bn{i}.running_var"] = self._put(np.ones(fan_out))
        self.rng = self.backend.rng(
            int(np.random.default_rng([0 if seed is None else seed, 1]).integers(2**31))
        )

    # --- structure -------------------------------------------------------------------
    @property
    def n_hidden(self) -> int:
        return len(self.layers) - 2

    @property
    def n_features(self) -> int:
        return self.layers[0]

    @property
    def n_outputs(self) -> int:
        return self.layers[-1]

    @property
    def n_params(self) -> int:
        """Number of trainable scalars (weights, biases and batch-norm affine terms)."""
        return sum(int(np.prod(p.shape)) for p in self.params.values())

    def config(self) -> dict:
        """The constructor arguments that rebuild this architecture (JSON-serializable)."""
        return {
            "layers": list(self.layers),
            "activation": self.activation,
            "output": self.output,
            "init": self.init,
            "dropout": self.dropout,
            "batch_norm": self.batch_norm,
            "dtype": self.dtype,
            "seed": self.seed,
        }

    def _put(self, host_array):
        return self.backend.asarray(np.asarray(host_array, dtype=self.dtype), dtype=self._dtype)

    # --- state ---------------------------------------------------------------------
    def state_dict(self, copy: bool = True) -> dict[str, Any]:
        """Parameters and buffers in layer order, keyed ``dense{i}.weight`` etc.

        With ``copy=True`` (default) the arrays are copies, so later in-place training
        updates cannot change a saved snapshot.
        """
        out = {}
        for i in range(len(self.layers) - 1):
            for key in (
                f"dense{i}.weight",
                f"dense{i}.bias",
                f"bn{i}.weight",
                f"bn{i}.bias",
                f"bn{i}.running_mean",
                f"bn{i}.running_var",
            ):
                value = self.params.get(key, self.buffers.get(key))
                if value is not None:
                    out[key] = self.xp.asarray(value, copy=True) if copy else value
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy ``state`` (arrays from any backend, or NumPy) into this network."""
        expected = self.state_dict(copy=False)
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        if missing or unexpected:
            raise ValueError(
                f"state dict does not match the network: missing {missing}, unexpected {unexpected}"
            )
        new = {}
        for key, current in expected.items():
            value = state[key]
            if type(value) is not type(current):
                value = self._put(to_host(value, key))
            if tuple(value.shape) != tuple(current.shape):
                raise ValueError(
                    f"state[{key!r}] has shape {tuple(value.shape)}; expected {tuple(current.shape)}"
                )
            new[key] = self.xp.asarray(value, dtype=self._dtype, device=self.backend.device, copy=True)
        for key, value in new.items():
            (self.params if key in self.params else self.buffers)[key] = value

    # --- forward and backward -------------------------------------------------------
    def _forward(self, X, training: bool, masks=None, update_stats: bool = False, apply_output: bool = True):
        """Logits ``z``, outputs ``a`` (None unless ``apply_output``) and the backward cache."""
        xp = self.xp
        act = HIDDEN[self.activation]
        inplace = self.backend.inplace  # NumPy fast path: fewer temporaries, same math
        fast = inplace and act.forward_inplace is not None
        h = X
        cache = []
        for i in range(self.n_hidden):
            W, b = self.params[f"dense{i}.weight"], self.params[f"dense{i}.bias"]
            z = L.dense_forward(xp, h, W, b, inplace)
            entry = {"x": h}
            pre = z
            if self.batch_norm:
                pre, bn_cache = L.batch_norm_forward(
                    xp,
                    z,
                    self.params[f"bn{i}.weight"],
                    self.params[f"bn{i}.bias"],
                    self.buffers[f"bn{i}.running_mean"],
                    self.buffers[f"bn{i}.running_var"],
                    training,
                )
                entry["bn"] = bn_cache
                if training and update_stats:
                    self.buffers[f"bn{i}.running_mean"] = bn_cache[2]
                    self.buffers[f"bn{i}.running_var"] = bn_cache[3]
            if fast:  # a overwrites pre (a fresh buffer); backward_inplace reads only a
                a = act.forward_inplace(xp, pre)
                entry["z"], entry["a"] = a, a
            else:
                a = act.forward(xp, pre)
                entry["z"], entry["a"] = pre, a
            if training and self.dropout > 0.0:
                if masks is None:
                    mask = self.rng.bernoulli(1.0 - self.dropout, a.shape, self._dtype)
                else:
                    mask = xp.asarray(masks[i], dtype=self._dtype, device=self.backend.device)
                mask = mask * (1.0 / (1.0 - self.dropout))
                entry["mask"] = mask
                a = L.dropout_forward(xp, a, mask)
            cache.append(entry)
            h = a
        last = self.n_hidden
        W, b = self.params[f"dense{last}.weight"], self.params[f"dense{last}.bias"]
        z = L.dense_forward(xp, h, W, b, inplace)
        cache.append({"x": h})
        return z, OUTPUT[self.output].forward(xp, z) if apply_output else None, cache

    def _backward(self, cache, dz, training: bool = True) -> dict[str, Any]:
        """Gradients keyed as ``params``, given ``dL/dz`` of the output logits."""
        xp = self.xp
        act = HIDDEN[self.activation]
        backward = act.backward_inplace if self.backend.inplace and act.backward_inplace else act.backward
        grads = {}
        last = self.n_hidden
        dh, grads[f"dense{last}.weight"], grads[f"dense{last}.bias"] = L.dense_backward(
            xp, cache[last]["x"], self.params[f"dense{last}.weight"], dz
        )
        for i in range(last - 1, -1, -1):
            entry = cache[i]
            if "mask" in entry:
                dh = L.dropout_backward(xp, dh, entry["mask"])
            dpre = backward(xp, entry["z"], entry["a"], dh)  # dh is a fresh array: safe to overwrite
            if self.batch_norm:
                dpre, grads[f"bn{i}.weight"], grads[f"bn{i}.bias"] = L.batch_norm_backward(
                    xp, dpre, self.params[f"bn{i}.weight"], entry["bn"], training
                )
            dh, grads[f"dense{i}.weight"], grads[f"dense{i}.bias"] = L.dense_backward(
                xp, entry["x"], self.params[f"dense{i}.weight"], dpre, need_dx=i > 0
            )
        return {key: grads[key] for key in self.params}

    def loss_and_grads(self, X, Y, loss: str, masks=None, update_stats: bool = False):
        """Training-mode ``(loss 0-d array, grads, outputs)`` for device arrays X, Y."""
        z, _, cache = self._forward(
            X, training=True, masks=masks, update_stats=update_stats, apply_output=False
        )
        a, value, dz = output_loss_and_grad(self.xp, loss, self.output, z, Y)
        return value, self._backward(cache, dz), a

    # --- public API ------------------------------------------------------------------
    def as_input(self, X):
        """Validate ``X`` and move it to the device (arrays already there are kept)."""
        if self._is_own_array(X):
            if X.ndim != 2 or X.shape[1] != self.n_features:
                raise ValueError(f"X has shape {tuple(X.shape)}; the network expects (n, {self.n_features})")
            return X
        return self._put(check_features(X, self.n_features))

    def as_targets(self, y, n_samples: int, loss: str):
        """Encode ``y`` (class indices or one-hot) and move it to the device."""
        return self._put(encode_targets(y, n_samples, self.n_outputs, loss))

    def _is_own_array(self, x) -> bool:
        try:
            return (
                self.xp.isdtype(x.dtype, "real floating")
                and x.dtype == self._dtype
                and (type(x) is type(self.params["dense0.bias"]))
            )
        except Exception:
            return False

    def forward(self, X, training: bool = False, masks=None):
        """Output activations (probabilities for softmax/sigmoid) as a backend array.

        ``training=True`` applies dropout (``masks``: optional 0/1 keep masks, one per
        hidden layer) and uses batch statistics for batch norm, without updating them.
        """
        return self._forward(self.as_input(X), training, masks)[1]

    def value_and_grad(self, X, Y, loss: str = "categorical_crossentropy", masks=None):
        """``(loss, grads)`` of a training-mode pass; no parameter or buffer changes.

        ``loss`` is a Python float, ``grads`` a dict keyed like :meth:`state_dict`.
        """
        check_pairing(loss, self.output)
        Xd = self.as_input(X)
        Yd = self.as_targets(Y, Xd.shape[0], loss)
        value, grads, _ = self.loss_and_grads(Xd, Yd, loss, masks=masks)
        return self.backend.item(value), grads

    def predict_proba(self, X) -> np.ndarray:
        """Evaluation-mode outputs as a NumPy array ``(n, n_outputs)``."""
        return self.backend.to_numpy(self.forward(X))

    def predict(self, X) -> np.ndarray:
        """Class indices (argmax, or threshold 0.5 for one sigmoid unit); raw outputs for identity."""
        out = self.forward(X)
        if self.output == "identity":
            return self.backend.to_numpy(out)
        if self.n_outputs == 1:
            return self.backend.to_numpy(self.xp.astype(out[:, 0] >= 0.5, self.xp.int64))
        return self.backend.to_numpy(self.xp.argmax(out, axis=1))

    def save(self, path) -> None:
        """Write architecture and parameters to an ``.npz`` file, atomically."""
        from .io import save

        save(self, path)

    def summary(self) -> str:
        """A table of layers, shapes and parameter counts."""
        rows = [f"MLP on {self.backend.name} ({self.backend.device}), dtype {self.dtype}"]
        for i, (fan_in, fan_out) in enumerate(zip(self.layers[:-1], self.layers[1:], strict=True)):
            hidden = i < self.n_hidden
            parts = [f"dense{i}: {fan_in} -> {fan_out}"]
            count = fan_in * fan_out + fan_out
            if hidden and self.batch_norm:
                parts.append("batch_norm")
                count += 2 * fan_out
            parts.append(self.activation if hidden else self.output)
            if hidden and self.dropout:
                parts.append(f"dropout {self.dropout:g}")
            rows.append(f"  {' -> '.join(parts):<60} {count:>10,} params")
        rows.append(f"  init {self.init}; total {self.n_params:,} trainable parameters")
        return "\n".join(rows)

    def __repr__(self) -> str:
        return (
            f"MLP(layers={self.layers}, activation={self.activation!r}, output={self.output!r}, "
            f"init={self.init!r}, dropout={self.dropout:g}, batch_norm={self.batch_norm}, "
            f"backend={self.backend.name!r}, dtype={self.dtype!r}, params={self.n_params})"
        )


def _check_layers(layers) -> list[int]:
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"layers must be a list of layer sizes like [64, 128, 10]; got {layers!r}")
    layers = list(layers)
    if len(layers) < 2:
        raise ValueError(f"layers={layers!r} needs at least two sizes (inputs and outputs)")
    for size in layers:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"layers={layers!r}: every size must be an integer >= 1")
    return [int(s) for s in layers]
