"""Parity suite fixtures: the backend/torch-device pairs, the PyTorch references and an error log.

Every comparison goes through the ``check`` fixture, which asserts closeness and records the
largest absolute and relative error per component; ``pytest_terminal_summary`` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import xpnet
from xpnet.testing import ErrorTable, backend_skip_reason

try:
    import torch
except ImportError:  # each test module skips with the reason (pytest.importorskip)
    torch = None

NO_TORCH = "the parity suite compares with PyTorch, which is not installed: pip install torch"

TABLE = ErrorTable(
    "xpnet parity: largest error vs PyTorch (float64 unless named)",
    "rel err = max|xpnet - torch| / max|torch| per compared array (arrays with max|torch| < 1e-12: abs only)",
    reference="torch reference",
    finite_reference=True,
)


@pytest.fixture
def check():
    """``check(component, actual, expected, rtol=1e-12, atol=1e-14)``: record, then assert close."""

    def _check(component, actual, expected, rtol=1e-12, atol=1e-14, msg=""):
        TABLE.check(component, actual, expected, rtol, atol, msg)

    return _check


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread_per_module(one_torch_thread) -> None:
    """Every parity module runs torch on one thread (the root conftest's ``one_torch_thread``)."""


def pytest_terminal_summary(terminalreporter):
    """Print each component with the largest absolute and relative error seen against PyTorch."""
    TABLE.write(terminalreporter)


@dataclass
class Pair:
    """An xpnet backend and the torch device its reference runs on."""

    backend: xpnet.Backend
    device: Any  # torch.device

    def tensor(self, x, requires_grad: bool = False):
        """A float64 torch tensor on the reference device from a NumPy or backend array."""
        host = x if isinstance(x, np.ndarray) else self.backend.to_numpy(x)
        t = torch.tensor(np.asarray(host, dtype=np.float64), device=self.device)
        return t.requires_grad_(requires_grad)

    def host(self, x) -> np.ndarray:
        """A NumPy copy of a torch tensor or a backend array."""
        if isinstance(x, torch.Tensor):
            return x.detach().cpu().numpy()
        return self.backend.to_numpy(x)


PAIRS = [
    pytest.param(("numpy", "cpu"), id="numpy-vs-torch_cpu"),
    pytest.param(("cupy", "cuda"), id="cupy-vs-torch_cuda"),
]


@pytest.fixture(params=PAIRS)
def pair(request) -> Pair:
    """numpy vs torch CPU always; cupy vs torch CUDA where a GPU and cupy are present."""
    name, device = request.param
    if torch is None:
        pytest.skip(NO_TORCH)
    if device == "cuda":
        reason = backend_skip_reason("torch", device) or backend_skip_reason(name)
        if reason:
            pytest.skip(reason)
    return Pair(xpnet.get_backend(name), torch.device(device))


def _torch_losses():
    F = torch.nn.functional
    return {
        ("mse", "softmax"): lambda z, y: F.mse_loss(torch.softmax(z, dim=1), y),
        ("mse", "sigmoid"): lambda z, y: F.mse_loss(torch.sigmoid(z), y),
        ("mse", "identity"): lambda z, y: F.mse_loss(z, y),
        ("log_loss", "sigmoid"): lambda z, y: F.binary_cross_entropy_with_logits(z, y),
        ("log_loss", "softmax"): lambda z, y: F.binary_cross_entropy(torch.softmax(z, dim=1), y),
        # CrossEntropyLoss with class-probability targets: mean over samples of -sum_k y_k log p_k
        ("categorical_crossentropy", "softmax"): lambda z, y: F.cross_entropy(z, y),
        ("categorical_crossentropy", "sigmoid"): lambda z, y: -(y * F.logsigmoid(z)).sum(dim=1).mean(),
    }


def _torch_activation(name: str):
    F = torch.nn.functional
    return {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": F.leaky_relu,  # negative_slope 0.01, as xpnet
        "softmax": lambda z: torch.softmax(z, dim=1),
        "identity": lambda z: z,
    }[name]


BN_BUFFERS = ("weight", "bias", "running_mean", "running_var")


def _host(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def _as_xpnet(linears, bns, pick, bn_names) -> dict[str, np.ndarray]:
    """``pick(tensor)`` of every Linear and BatchNorm1d tensor, keyed and shaped as xpnet's (``W`` = weight.T)."""
    out = {}
    for i, lin in enumerate(linears):
        out[f"dense{i}.weight"] = _host(pick(lin.weight)).T
        out[f"dense{i}.bias"] = _host(pick(lin.bias))
        if i < len(bns):
            for name in bn_names:
                out[f"bn{i}.{name}"] = _host(pick(getattr(bns[i], name)))
    return out


def _copy_into(module, values: dict[str, np.ndarray]) -> None:
    with torch.no_grad():
        for name, value in values.items():
            getattr(module, name).copy_(torch.tensor(value))


class TorchMLP(torch.nn.Module if torch is not None else object):
    """The PyTorch twin of an xpnet MLP: Linear -> [BatchNorm1d] -> act -> [dropout] ... -> output.

    Weights are copied from ``net.state_dict()`` (torch's Linear weight is ``W.T``).
    ``dropout``: None (no dropout), ``"masks"`` (multiply by fixed 0/1 masks / (1 - p))
    or ``"torch"`` (``torch.nn.functional.dropout`` with torch's global RNG).
    """

    def __init__(self, net: xpnet.MLP, device):
        super().__init__()
        nn = torch.nn
        state = {
            k: np.asarray(net.backend.to_numpy(v), dtype=np.float64) for k, v in net.state_dict().items()
        }
        self.net_config = net.config()
        self.n_hidden = net.n_hidden
        self.linears = nn.ModuleList()
        self.bns = nn.ModuleList()
        for i, (fan_in, fan_out) in enumerate(zip(net.layers[:-1], net.layers[1:], strict=True)):
            lin = nn.Linear(fan_in, fan_out, dtype=torch.float64, device=device)
            _copy_into(lin, {"weight": state[f"dense{i}.weight"].T, "bias": state[f"dense{i}.bias"]})
            self.linears.append(lin)
            if net.batch_norm and i < net.n_hidden:
                bn = nn.BatchNorm1d(fan_out, dtype=torch.float64, device=device)  # eps 1e-5, momentum 0.1
                _copy_into(bn, {name: state[f"bn{i}.{name}"] for name in BN_BUFFERS})
                self.bns.append(bn)
        self.act = _torch_activation(net.activation)
        self.out = _torch_activation(net.output)
        self.p = net.dropout

    def _dropout(self, x, masks, i: int, dropout):
        if not (self.training and self.p > 0):
            return x
        if dropout == "masks":
            return x * masks[i] / (1.0 - self.p)
        if dropout == "torch":
            return torch.nn.functional.dropout(x, self.p, training=True)
        return x

    def logits(self, x, masks=None, dropout=None):
        for i in range(self.n_hidden):
            x = self.linears[i](x)
            if len(self.bns):
                x = self.bns[i](x)
            x = self._dropout(self.act(x), masks, i, dropout)
        return self.linears[-1](x)

    def forward(self, x, masks=None, dropout=None):
        return self.out(self.logits(x, masks, dropout))

    def grads(self) -> dict[str, np.ndarray]:
        """Gradients keyed and shaped as xpnet's (weights transposed back)."""
        return _as_xpnet(self.linears, self.bns, lambda t: t.grad, ("weight", "bias"))

    def state(self) -> dict[str, np.ndarray]:
        """Parameters and buffers keyed and shaped as xpnet's ``state_dict``."""
        return _as_xpnet(self.linears, self.bns, lambda t: t, BN_BUFFERS)


@pytest.fixture(scope="session")
def torch_ref():
    """PyTorch references: ``.losses[(loss, output)](z, y)``, ``.activation(name)``, ``.MLP(net, device)``."""
    if torch is None:
        pytest.skip(NO_TORCH)
    return SimpleNamespace(losses=_torch_losses(), activation=_torch_activation, MLP=TorchMLP)
