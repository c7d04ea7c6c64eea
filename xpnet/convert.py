"""Moving a network to and from a ``torch.nn.Sequential`` with identical outputs.

:func:`to_torch` builds ``Linear -> [BatchNorm1d] -> activation -> [Dropout]`` per hidden layer,
then ``Linear`` and the output activation (``Softmax(dim=1)``, ``Sigmoid``; nothing for
identity), in the network's dtype, with its weights (``Linear`` stores ``W`` transposed).
:func:`torch_parts` reads such a module back (``xpnet.from_torch`` builds the MLP). The scaler, if the network holds one, is not
part of the module: it takes scaled features, as the network's own ``forward`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .layers import Activation, BatchNorm, Dense, Dropout
from .ops import BN_EPS, LEAKY_SLOPE


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("to_torch/from_torch need PyTorch: pip install torch") from None
    return torch


def to_torch(net) -> Any:
    """A ``torch.nn.Sequential`` (CPU, in evaluation mode) computing ``net.forward``."""
    torch = _torch()
    nn = torch.nn
    dtype = torch.float64 if net.dtype == "float64" else torch.float32
    state = {k: np.asarray(net.backend.to_numpy(v)) for k, v in net.state_dict(copy=False).items()}

    def t(key):
        return torch.tensor(state[key], dtype=dtype)

    modules = []
    for layer in net.modules:
        if isinstance(layer, Dense):
            m = nn.Linear(layer.fan_in, layer.fan_out, dtype=dtype)
            m.weight.data, m.bias.data = t(layer.w).T.contiguous(), t(layer.b)
        elif isinstance(layer, BatchNorm):
            m = nn.BatchNorm1d(layer.width, eps=BN_EPS, dtype=dtype)
            m.weight.data, m.bias.data = t(layer.w), t(layer.b)
            m.running_mean.data, m.running_var.data = t(layer.mean), t(layer.var)
        elif isinstance(layer, Activation):
            m = _activation(nn, layer.function)
        elif isinstance(layer, Dropout):
            m = nn.Dropout(layer.p)
        modules.append(m)
    if net.output == "softmax":
        modules.append(nn.Softmax(dim=1))
    elif net.output == "sigmoid":
        modules.append(nn.Sigmoid())
    return nn.Sequential(*modules).eval()


def _activation(nn, name: str):
    return {
        "relu": nn.ReLU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "leaky_relu": lambda: nn.LeakyReLU(LEAKY_SLOPE),
    }[name]()


def _hidden_activation(nn, m) -> str | None:
    if isinstance(m, nn.LeakyReLU):
        if m.negative_slope != LEAKY_SLOPE:
            raise ValueError(
                f"LeakyReLU(negative_slope={m.negative_slope}) is not supported; xpnet uses {LEAKY_SLOPE}"
            )
        return "leaky_relu"
    for name, cls in (("relu", nn.ReLU), ("tanh", nn.Tanh), ("sigmoid", nn.Sigmoid)):
        if isinstance(m, cls):
            return name
    return None


def _parse(nn, module):
    """``(sizes, activation, output, dropout, batch_norm)`` of a Sequential."""
    mods = list(module)
    output = "identity"
    if mods and isinstance(mods[-1], nn.Softmax):
        output, mods = "softmax", mods[:-1]
    elif (
        mods
        and isinstance(mods[-1], nn.Sigmoid)
        and isinstance(mods[-2] if len(mods) > 1 else None, nn.Linear)
    ):
        output, mods = "sigmoid", mods[:-1]
    linears = [m for m in mods if isinstance(m, nn.Linear)]
    if not linears or not isinstance(mods[-1], nn.Linear):
        raise ValueError("module must end with a Linear layer (then optionally Softmax(dim=1) or Sigmoid)")
    acts = {a for a in (_hidden_activation(nn, m) for m in mods) if a is not None}
    drops = {m.p for m in mods if isinstance(m, nn.Dropout)}
    for m in mods:
        known = (nn.Linear, nn.BatchNorm1d, nn.Dropout)
        if not isinstance(m, known) and _hidden_activation(nn, m) is None:
            raise ValueError(f"from_torch cannot convert {m!r}")
    if len(acts) > 1 or len(drops) > 1:
        raise ValueError("every hidden layer must use the same activation and dropout rate")
    sizes = [linears[0].in_features] + [m.out_features for m in linears]
    batch_norm = any(isinstance(m, nn.BatchNorm1d) for m in mods)
    return sizes, (acts.pop() if acts else "relu"), output, (drops.pop() if drops else 0.0), batch_norm


def torch_parts(module) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(MLP keyword arguments, state dict)`` of a ``torch.nn.Sequential``; ``xpnet.from_torch`` builds the MLP.

    The module must have the shape :func:`to_torch` builds (``Linear``, optional
    ``BatchNorm1d``, one hidden activation kind, optional ``Dropout``, a final ``Linear`` and
    optionally ``Softmax(dim=1)`` or ``Sigmoid``).
    """
    torch = _torch()
    nn = torch.nn
    if not isinstance(module, nn.Sequential):
        raise TypeError(f"module must be a torch.nn.Sequential; got {type(module).__name__}")
    sizes, activation, output, dropout, batch_norm = _parse(nn, module)
    dtype = "float64" if next(module.parameters()).dtype == torch.float64 else "float32"
    kwargs = dict(
        layers=sizes,
        activation=activation,
        output=output,
        dropout=dropout,
        batch_norm=batch_norm,
        dtype=dtype,
    )
    dense = [m for m in module if isinstance(m, nn.Linear)]
    norms = [m for m in module if isinstance(m, nn.BatchNorm1d)]
    state = {}
    for i, m in enumerate(dense):
        state[f"dense{i}.weight"] = m.weight.detach().cpu().numpy().T
        state[f"dense{i}.bias"] = m.bias.detach().cpu().numpy()
    for i, m in enumerate(norms):
        if m.eps != BN_EPS:
            raise ValueError(f"BatchNorm1d(eps={m.eps}) is not supported; xpnet uses {BN_EPS}")
        state[f"bn{i}.weight"], state[f"bn{i}.bias"] = (
            m.weight.detach().cpu().numpy(),
            m.bias.detach().cpu().numpy(),
        )
        state[f"bn{i}.running_mean"] = m.running_mean.detach().cpu().numpy()
        state[f"bn{i}.running_var"] = m.running_var.detach().cpu().numpy()
    return kwargs, {k: np.asarray(v, dtype=np.float64) for k, v in state.items()}
