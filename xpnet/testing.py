"""Helpers for checking xpnet against a reference, shared by its test suites and usable by yours.

``ErrorTable`` asserts arrays close and keeps the largest error per component for a summary
table; ``backend_skip_reason`` says why a backend cannot run on this machine;
``single_torch_thread`` runs PyTorch on one thread. Importing this module imports neither pytest
nor torch (torch only inside ``single_torch_thread``, and only when it is installed).
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .backend import BackendUnavailableError, get_backend

__all__ = ["ErrorTable", "backend_skip_reason", "error_of", "single_torch_thread"]

# below this max|expected| an array is zero up to rounding (a bias feeding batch norm has gradient
# ~1e-17): its relative error means nothing, so it counts towards the absolute column only
ZERO_SCALE = 1e-12


class Reporter(Protocol):
    """What ``ErrorTable.write`` needs of its reporter (pytest's ``TerminalReporter`` has both)."""

    def section(self, title: str) -> Any: ...

    def write_line(self, line: str) -> Any: ...


def error_of(actual: Any, expected: Any) -> tuple[float, float]:
    """``max|actual - expected|`` and that divided by ``max|expected|`` (0.0 where expected is ~zero)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    diff = float(np.max(np.abs(a - e))) if a.size else 0.0
    scale = float(np.max(np.abs(e))) if e.size else 0.0
    return diff, (diff / scale if scale > ZERO_SCALE else 0.0)


@dataclass
class ErrorTable:
    """The largest absolute and relative error per component seen during a run, and their table.

    ``reference`` names what is compared against, in failure messages; with ``finite_reference``
    a non-finite expected array fails the check (the reference itself went wrong).
    """

    title: str
    footnote: str
    reference: str = "reference"
    finite_reference: bool = False
    # component -> [largest absolute error, largest relative error, number of comparisons]
    rows: dict[str, list[float]] = field(default_factory=dict)

    def record(self, component: str, actual: Any, expected: Any) -> tuple[float, float]:
        """Log the errors of one comparison under ``component`` and return them (absolute, relative)."""
        diff, rel = error_of(actual, expected)
        row = self.rows.setdefault(component, [0.0, 0.0, 0])
        row[0], row[1], row[2] = max(row[0], diff), max(row[1], rel), row[2] + 1
        return diff, rel

    def check(
        self, component: str, actual: Any, expected: Any, rtol: float, atol: float, msg: str = ""
    ) -> None:
        """Assert ``actual`` has ``expected``'s shape and is within ``atol + rtol * |expected|`` of it; log it."""
        a = np.asarray(actual, dtype=np.float64)
        e = np.asarray(expected, dtype=np.float64)
        if a.shape != e.shape:
            raise AssertionError(f"{component}: shape {a.shape} != {e.shape} {msg}")
        self.record(component, a, e)
        if self.finite_reference and not np.all(np.isfinite(e)):
            raise AssertionError(f"{component}: the {self.reference} is not finite {msg}")
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=False, err_msg=f"{component} {msg}")

    def lines(self) -> list[str]:
        """The table: a header, one line per component (sorted), then the footnote."""
        width = max(len("component"), *(len(k) for k in self.rows))
        out = [f"{'component':<{width}}  {'max abs err':>11}  {'max rel err':>11}  {'checks':>6}"]
        for name in sorted(self.rows):
            diff, rel, count = self.rows[name]
            out.append(f"{name:<{width}}  {diff:>11.2e}  {rel:>11.2e}  {count:>6}")
        return [*out, self.footnote]

    def write(self, reporter: Reporter) -> None:
        """Print the table as its own section (a pytest ``TerminalReporter``); nothing if nothing was checked."""
        if not self.rows:
            return
        reporter.section(self.title)
        for line in self.lines():
            reporter.write_line(line)


def backend_skip_reason(name: str, device: Any = None) -> str | None:
    """Why backend ``name`` on ``device`` cannot run on this machine, or None if it can."""
    missing = {
        "torch": "torch is not installed: pip install torch",
        "array_api_strict": "array-api-strict is not installed: pip install array-api-strict",
        "cupy": 'cupy is not installed (and needs an NVIDIA GPU): pip install "xpnet[cuda12]"',
    }
    if name in missing and importlib.util.find_spec(name) is None:
        return missing[name]
    if name == "torch" and str(device).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            return "no CUDA GPU on this machine (torch.cuda.is_available() is False)"
    try:
        get_backend(name, device=device)
    except BackendUnavailableError as exc:
        return f"backend {name!r} is unavailable here: {exc}"
    return None


@contextlib.contextmanager
def single_torch_thread() -> Iterator[None]:
    """Run PyTorch on one intra-op thread inside the block and restore its setting after; no-op without torch.

    Tiny tensors gain nothing from threads, and on a shared machine the threads only spin.
    """
    if importlib.util.find_spec("torch") is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
