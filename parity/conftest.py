"""Parity suite fixtures: the backend/torch-device pairs and an error log printed at the end.

Every comparison goes through the ``check`` fixture, which asserts closeness and records the
largest absolute and relative error per component; ``pytest_terminal_summary`` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import xpnet

try:
    import torch
except ImportError:  # each test module skips with the reason (pytest.importorskip)
    torch = None

# component -> [largest |actual - expected|, largest relative error, number of comparisons]
_ERRORS: dict[str, list[float]] = {}


def record(component: str, actual: Any, expected: Any) -> tuple[float, float]:
    """Log ``max|actual - expected|`` and ``max|actual - expected| / max|expected|`` for ``component``."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    diff = float(np.max(np.abs(a - e))) if a.size else 0.0
    scale = float(np.max(np.abs(e))) if e.size else 0.0
    # an array that is zero up to rounding (a bias feeding batch norm has gradient ~1e-17) has no
    # meaningful relative error: it counts towards the absolute column only
    rel = diff / scale if scale > 1e-12 else 0.0
    row = _ERRORS.setdefault(component, [0.0, 0.0, 0])
    row[0], row[1], row[2] = max(row[0], diff), max(row[1], rel), row[2] + 1
    return diff, rel


@pytest.fixture
def check():
    """``check(component, actual, expected, rtol=1e-12, atol=1e-14)``: record, then assert close."""

    def _check(component, actual, expected, rtol=1e-12, atol=1e-14, msg=""):
        a = np.asarray(actual, dtype=np.float64)
        e = np.asarray(expected, dtype=np.float64)
        assert a.shape == e.shape, f"{component}: shape {a.shape} != {e.shape} {msg}"
        record(component, a, e)
        assert np.all(np.isfinite(e)), f"{component}: the torch reference is not finite {msg}"
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=False, err_msg=f"{component} {msg}")

    return _check


@pytest.fixture(scope="module", autouse=True)
def _torch_single_thread():
    """Tiny tensors gain nothing from threads, and on a shared machine they spin: one thread per module here.

    Restored after each module, so suites collected later (bench/) keep torch's own setting.
    """
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
        pytest.skip("the parity suite compares with PyTorch, which is not installed: pip install torch")
    if device == "cuda":
        if not torch.cuda.is_available():
            pytest.skip("no CUDA GPU on this machine (torch.cuda.is_available() is False)")
        pytest.importorskip("cupy", reason='cupy is not installed: pip install "xpnet[cuda12]"')
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


def _torch_mlp_class():
    nn = torch.nn

    class TorchMLP(nn.Module):
        """The PyTorch twin of an xpnet MLP: Linear -> [BatchNorm1d] -> act -> [dropout] ... -> output.

        Weights are copied from ``net.state_dict()`` (torch's Linear weight is ``W.T``).
        ``dropout``: None (no dropout), ``"masks"`` (multiply by fixed 0/1 masks / (1 - p))
        or ``"torch"`` (``torch.nn.functional.dropout`` with torch's global RNG).
        """

        def __init__(self, net: xpnet.MLP, device):
            super().__init__()
            state = {
                k: np.asarray(net.backend.to_numpy(v), dtype=np.float64) for k, v in net.state_dict().items()
            }
            self.net_config = net.config()
            self.n_hidden = net.n_hidden
            self.linears = nn.ModuleList()
            self.bns = nn.ModuleList()
            for i, (fan_in, fan_out) in enumerate(zip(net.layers[:-1], net.layers[1:], strict=True)):
                lin = nn.Linear(fan_in, fan_out, dtype=torch.float64, device=device)
                with torch.no_grad():
                    lin.weight.copy_(torch.tensor(state[f"dense{i}.weight"].T))
                    lin.bias.copy_(torch.tensor(state[f"dense{i}.bias"]))
                self.linears.append(lin)
                if net.batch_norm and i < net.n_hidden:
                    bn = nn.BatchNorm1d(fan_out, dtype=torch.float64, device=device)  # eps 1e-5, momentum 0.1
                    with torch.no_grad():
                        for name in ("weight", "bias", "running_mean", "running_var"):
                            getattr(bn, name).copy_(torch.tensor(state[f"bn{i}.{name}"]))
                    self.bns.append(bn)
            self.act = _torch_activation(net.activation)
            self.out = _torch_activation(net.output)
            self.p = net.dropout

        def logits(self, x, masks=None, dropout=None):
            F = torch.nn.functional
            for i in range(self.n_hidden):
                x = self.linears[i](x)
                if len(self.bns):
                    x = self.bns[i](x)
                x = self.act(x)
                if self.training and self.p > 0 and dropout == "masks":
                    x = x * masks[i] / (1.0 - self.p)
                elif self.training and self.p > 0 and dropout == "torch":
                    x = F.dropout(x, self.p, training=True)
            return self.linears[-1](x)

        def forward(self, x, masks=None, dropout=None):
            return self.out(self.logits(x, masks, dropout))

        def grads(self) -> dict[str, np.ndarray]:
            """Gradients keyed and shaped as xpnet's (weights transposed back)."""
            out = {}
            for i, lin in enumerate(self.linears):
                out[f"dense{i}.weight"] = lin.weight.grad.detach().cpu().numpy().T
                out[f"dense{i}.bias"] = lin.bias.grad.detach().cpu().numpy()
                if i < len(self.bns):
                    out[f"bn{i}.weight"] = self.bns[i].weight.grad.detach().cpu().numpy()
                    out[f"bn{i}.bias"] = self.bns[i].bias.grad.detach().cpu().numpy()
            return out

        def state(self) -> dict[str, np.ndarray]:
            """Parameters and buffers keyed and shaped as xpnet's ``state_dict``."""
            out = {}
            for i, lin in enumerate(self.linears):
                out[f"dense{i}.weight"] = lin.weight.detach().cpu().numpy().T
                out[f"dense{i}.bias"] = lin.bias.detach().cpu().numpy()
                if i < len(self.bns):
                    for name in ("weight", "bias", "running_mean", "running_var"):
                        out[f"bn{i}.{name}"] = getattr(self.bns[i], name).detach().cpu().numpy()
            return out

    return TorchMLP


@pytest.fixture(scope="session")
def torch_ref():
    """PyTorch references: ``.losses[(loss, output)](z, y)``, ``.activation(name)``, ``.MLP(net, device)``."""
    if torch is None:
        pytest.skip("the parity suite compares with PyTorch, which is not installed: pip install torch")
    from types import SimpleNamespace

    return SimpleNamespace(losses=_torch_losses(), activation=_torch_activation, MLP=_torch_mlp_class())


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print each component with the largest absolute and relative error seen against PyTorch."""
    if not _ERRORS:
        return
    tr = terminalreporter
    tr.section("xpnet parity: largest error vs PyTorch (float64 unless named)")
    width = max(len("component"), *(len(k) for k in _ERRORS))
    tr.write_line(f"{'component':<{width}}  {'max abs err':>11}  {'max rel err':>11}  {'checks':>6}")
    for name in sorted(_ERRORS):
        diff, rel, count = _ERRORS[name]
        tr.write_line(f"{name:<{width}}  {diff:>11.2e}  {rel:>11.2e}  {count:>6}")
    tr.write_line(
        "rel err = max|xpnet - torch| / max|torch| per compared array (arrays with max|torch| < 1e-12: abs only)"
    )
