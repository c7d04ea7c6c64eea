"""The multilayer perceptron: a list of layers, its parameters, and exact forward/backward passes."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

from .activations import HIDDEN, OUTPUT
from .backend import Backend, get_backend
from .initializers import INITIALIZERS, host_generator, initial_arrays
from .io import read_model, save_model
from .layers import BatchNorm, Dense, Pass, build_layers
from .losses import check_pairing
from .preprocess import Preprocessor
from .validation import (
    check_bool,
    check_choice,
    check_dropout,
    check_dtype,
    check_finite_outputs,
    check_input,
    check_layer_sizes,
    check_seed,
    encode_targets,
    real_array,
    to_host,
)


class Aux(NamedTuple):
    """What a training pass gives besides loss and gradients."""

    outputs: Any  # the output activations
    batch_stats: dict[str, Any]  # per batch-norm layer, for MLP.update_batch_stats


class MLP:
    """A dense network ``dense -> [batch norm] -> activation -> [dropout]`` per hidden layer.

    ``layers`` lists every width, input first: ``[64, 128, 10]`` is 64 features, one hidden
    layer of 128 units and 10 outputs. Parameters are drawn on the host from ``seed`` and
    moved to ``backend``'s device once, so a seed gives the same network on every backend.
    The defaults are ``xpnet train``'s (:class:`~xpnet.RunConfig` reads them from here).
    """

    def __init__(
        self,
        layers: Sequence[int],
        activation: str = "relu",
        output: str = "softmax",
        init: str = "he_normal",
        dropout: float = 0.2,
        batch_norm: bool = False,
        backend: str | Backend = "numpy",
        dtype: Any = "float32",
        seed: int | None = 0,
        device: Any = None,
    ):
        self.layers = check_layer_sizes(layers)
        self.activation = check_choice(activation, "activation", HIDDEN)
        self.output = check_choice(output, "output", OUTPUT)
        self.init = check_choice(init, "init", INITIALIZERS)
        self.dropout = check_dropout(dropout)
        self.batch_norm = check_bool(batch_norm, "batch_norm")
        self.dtype = check_dtype(dtype)
        self.seed = None if seed is None else check_seed(seed)
        self.backend = get_backend(backend, device)
        self.xp = self.backend.xp
        self._dtype = self.backend.dtype(self.dtype)
        self.modules = build_layers(self.layers, self.activation, self.dropout, self.batch_norm)
        host = host_generator(seed)
        self.params: dict[str, Any] = {}
        self.buffers: dict[str, Any] = {}
        for layer in self.modules:  # layer order fixes the draw order, hence the weights
            self.params.update(self._put_all(initial_arrays(layer.parameters(), self.init, host)))
            self.buffers.update(self._put_all(initial_arrays(layer.running_buffers(), self.init, host)))
        self.rng = self.backend.rng(0 if seed is None else seed, stream=1)  # dropout masks: key (seed, 1)
        self.step_buffers = self.backend.buffers()
        # set by xpnet.load (or by hand): predict/predict_proba then take raw features and
        # predict returns class labels; run_config is the RunConfig dict that trained the model
        self.preprocessor: Preprocessor | None = None
        self.run_config: dict | None = None

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
        return sum(math.prod(p.shape) for p in self.params.values())

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
        return self.backend.asarray(host_array, dtype=self._dtype)

    def _put_all(self, host: dict[str, Any]) -> dict[str, Any]:
        return {key: self._put(value) for key, value in host.items()}

    # --- state ---------------------------------------------------------------------
    def state_dict(self, copy: bool = True) -> dict[str, Any]:
        """Parameters and buffers in layer order, keyed ``dense{i}.weight`` etc.

        With ``copy=True`` (default) the arrays are copies, so later in-place training
        updates cannot change a saved snapshot.
        """
        out = {}
        for layer in self.modules:
            for key in (*layer.parameters(), *layer.running_buffers()):
                value = self.params[key] if key in self.params else self.buffers[key]
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
    def _pass(self, training: bool, keep_masks=None, step_buffers: bool = False) -> Pass:
        if keep_masks is not None:
            keep_masks = [
                self.xp.asarray(m, dtype=self._dtype, device=self.backend.device) for m in keep_masks
            ]
        buffers = self.step_buffers if step_buffers else None
        return Pass(self.backend, self.params, self.buffers, training, self.rng, keep_masks, buffers)

    def logits(self, X, ctx: Pass):
        """The output layer's logits for device array ``X``, and the saved values for :meth:`backward`."""
        h, tape = X, []
        for layer in self.modules:
            h, saved = layer.forward(ctx, h)
            tape.append(saved)
        return h, tape

    def backward(self, ctx: Pass, tape: list, dz) -> dict[str, Any]:
        """Gradients keyed as ``params``, given ``dL/dz`` of the output logits."""
        grads: dict[str, Any] = {}
        for layer, saved in zip(reversed(self.modules), reversed(tape), strict=True):
            dz, layer_grads = layer.backward(ctx, saved, dz)
            grads.update(layer_grads)
        return {key: grads[key] for key in self.params}

    def loss_and_grads(self, X, Y, loss: str, masks=None, step_buffers: bool = False):
        """Training-mode ``(loss 0-d array, grads, Aux)`` for device arrays ``X``, ``Y``.

        Changes nothing: apply ``Aux.batch_stats`` with :meth:`update_batch_stats`. With
        ``step_buffers`` the arrays live in buffers the next call reuses (the trainer's fast path).
        """
        ctx = self._pass(True, masks, step_buffers)
        z, tape = self.logits(X, ctx)
        a, value, dz = self.backend.output_loss(loss, self.output, z, Y)
        return value, self.backward(ctx, tape, dz), Aux(a, ctx.batch_stats)

    def update_batch_stats(self, batch_stats: dict[str, Any]) -> None:
        """Fold a training pass's batch statistics into the batch-norm running statistics."""
        for layer in self.modules:
            if isinstance(layer, BatchNorm) and layer.name in batch_stats:
                layer.update(self.backend, self.buffers, batch_stats[layer.name])

    def eval_logits_outputs(self, X):
        """Evaluation-mode ``(logits, outputs)`` for device array ``X``."""
        z, _ = self.logits(X, self._pass(False))
        return z, self.backend.activation(self.output, z)[0]

    # --- public API ------------------------------------------------------------------
    def as_input(self, X, name: str = "X"):
        """``X`` checked (finite after the cast to this network's dtype) and on the device."""
        return check_input(X, self.backend, self.dtype, self.n_features, name)

    def as_targets(self, y, n_samples: int, loss: str, name: str = "y"):
        """Encode ``y`` (class indices or one-hot), check it in this network's dtype, move it to the device."""
        return self._put(encode_targets(y, n_samples, self.n_outputs, loss, name, dtype=self.dtype))

    def forward(self, X, training: bool = False, masks=None):
        """Output activations (probabilities for softmax/sigmoid) as a backend array.

        ``training=True`` applies dropout (``masks``: optional 0/1 keep masks, one per
        hidden layer) and uses batch statistics for batch norm, without updating them.
        """
        z, _ = self.logits(self.as_input(X), self._pass(training, masks))
        return self.backend.activation(self.output, z)[0]

    def value_and_grad(self, X, Y, loss: str = "categorical_crossentropy", masks=None):
        """``(loss, grads)`` of a training-mode pass; no parameter or buffer changes.

        ``loss`` is a Python float, ``grads`` a dict keyed like :meth:`state_dict`.
        """
        check_pairing(loss, self.output)
        Xd = self.as_input(X)
        Yd = self.as_targets(Y, Xd.shape[0], loss)
        value, grads, _ = self.loss_and_grads(Xd, Yd, loss, masks=masks)
        return self.backend.item(value), grads

    def _raw_input(self, X):
        """``X`` scaled by the held :attr:`preprocessor` (raw features in), else as given."""
        return X if self.preprocessor is None else self.preprocessor.transform(real_array(X, "X"))

    def _outputs(self, X):
        """Evaluation-mode outputs on the host, refused when not finite (never a silent wrong answer)."""
        return check_finite_outputs(self.backend.to_numpy(self.forward(self._raw_input(X))))

    def predict_proba(self, X) -> Any:
        """Evaluation-mode outputs as a NumPy array ``(n, n_outputs)`` (raw ``X`` when a preprocessor is held)."""
        return self._outputs(X)

    def predict(self, X) -> Any:
        """Class indices (argmax, or threshold 0.5 for one sigmoid unit) as NumPy; raw outputs for identity.

        With a :attr:`preprocessor` (a loaded model file has one) ``X`` is raw features and the
        result is class labels.
        """
        out = self._outputs(X)
        if self.output == "identity":
            return out
        idx = (out[:, 0] >= 0.5).astype("int64") if self.n_outputs == 1 else out.argmax(axis=1)
        return idx if self.preprocessor is None else self.preprocessor.labels(idx)

    def save(self, path, preprocessor: Preprocessor | None = None, run_config: Any = None) -> None:
        """Write architecture, parameters and what predicting on raw data needs to an ``.npz``, atomically.

        ``preprocessor`` (default: the one held, e.g. ``Dataset.preprocessor``) and ``run_config``
        (a :class:`~xpnet.RunConfig` or its dict) are stored beside the weights, as JSON and arrays.
        """
        host = {k: self.backend.to_numpy(v) for k, v in self.state_dict(copy=False).items()}
        pre = preprocessor if preprocessor is not None else self.preprocessor
        run = run_config if run_config is not None else self.run_config
        extra: dict[str, Any] = {
            "run_config": run.to_dict() if hasattr(run, "to_dict") else run,
            "preprocess": None,
        }
        if pre is not None:
            extra["preprocess"], arrays = pre.to_meta()
            host.update(arrays)
        save_model(path, self.config(), host, extra)

    def to_torch(self):
        """This network as a ``torch.nn.Sequential`` with identical outputs (see :mod:`xpnet.convert`)."""
        from .convert import to_torch

        return to_torch(self)

    def summary(self) -> str:
        """A table of layers, shapes and parameter counts: one row per dense layer and what follows it."""
        rows = [f"MLP on {self.backend.name} ({self.backend.device}), dtype {self.dtype}"]
        groups: list[list] = []
        for layer in self.modules:
            if isinstance(layer, Dense):
                groups.append([])
            groups[-1].append(layer)
        for n, group in enumerate(groups):
            parts = [layer.describe() for layer in group] + ([self.output] if n == len(groups) - 1 else [])
            count = sum(math.prod(shape) for layer in group for _, shape in layer.parameters().values())
            rows.append(f"  {' -> '.join(parts):<60} {count:>10,} params")
        rows.append(f"  init {self.init}; total {self.n_params:,} trainable parameters")
        return "\n".join(rows)

    def __repr__(self) -> str:
        return (
            f"MLP(layers={self.layers}, activation={self.activation!r}, output={self.output!r}, "
            f"init={self.init!r}, dropout={self.dropout:g}, batch_norm={self.batch_norm}, "
            f"backend={self.backend.name!r}, dtype={self.dtype!r}, params={self.n_params})"
        )


def load(path, backend: str | Backend = "numpy", device: Any = None, dtype: Any = None) -> MLP:
    """Load a model saved by :meth:`MLP.save` onto ``backend`` (any backend, any device).

    The loaded network holds the saved preprocessing, so ``predict`` takes raw features. A file
    without preprocessing (written before it was stored) loads with a warning saying so.
    """
    config, arrays, meta = read_model(path)  # checked: the declared layers match the stored arrays
    backend = get_backend(backend, device)  # the caller's arguments: their errors are not the file's
    if dtype is not None:
        config["dtype"] = check_dtype(dtype)
    try:
        net = MLP(**config, backend=backend, device=device)
        net.load_state_dict({k: v for k, v in arrays.items() if not k.startswith("preprocess/")})
        if meta.get("preprocess") is not None:
            net.preprocessor = Preprocessor.from_meta(meta["preprocess"], arrays)
    except (TypeError, ValueError) as exc:  # a tampered header: one error naming the file
        raise ValueError(f"{str(path)!r} is not a readable xpnet file: {exc}") from None
    if "preprocess" not in meta:
        warnings.warn(
            f"{str(path)!r} carries no preprocessing (saved by an older xpnet): predict() expects "
            "features scaled as in training, and returns class indices",
            UserWarning,
            stacklevel=2,
        )
    net.run_config = meta.get("run_config")
    return net


def from_torch(module, backend: str | Backend = "numpy", device: Any = None, dtype: Any = None) -> MLP:
    """An :class:`MLP` with the layers and weights of a ``torch.nn.Sequential`` (see :mod:`xpnet.convert`)."""
    from .convert import torch_parts

    kwargs, state = torch_parts(module)
    if dtype is not None:
        kwargs["dtype"] = dtype
    net = MLP(**kwargs, backend=backend, device=device)
    net.load_state_dict(state)
    return net
