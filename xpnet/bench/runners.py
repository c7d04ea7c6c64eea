"""Which runners a run has (:func:`plan`) and how a :class:`Spec` becomes a :class:`Runner`."""

from __future__ import annotations

from .article_loop import article_runner
from .base import Runner, Spec, torch_cuda
from .sklearn_loop import sklearn_runner
from .torch_loop import torch_runner
from .workloads import Workload
from .xpnet_loop import xpnet_runner

REFERENCES = ("torch", "sklearn", "article")


def runs_on(spec: Spec, workload: Workload) -> bool:
    """Whether ``spec`` has a runner for ``workload`` (the article's loop runs only where it says)."""
    return spec.kind != "article" or workload.article


def make_runner(spec: Spec, workload: Workload, X, y, dtype: str = "float32", seed: int = 0) -> Runner:
    """Build the runner a :class:`Spec` describes, for ``workload`` on data ``(X, y)``."""
    if spec.kind == "xpnet":
        return xpnet_runner(workload, X, y, spec.backend, dtype, seed)
    if spec.kind in ("torch", "torch-compile"):
        return torch_runner(workload, X, y, spec.device, dtype, seed, compile=spec.kind == "torch-compile")
    if spec.kind == "sklearn":
        return sklearn_runner(workload, X, y, dtype, seed)
    if spec.kind == "article":
        return article_runner(workload, X, y, dtype, seed)
    raise ValueError(f"runner kind {spec.kind!r} is unknown")


def plan(backends: list[str], references: tuple[str, ...] = REFERENCES) -> tuple[list[Spec], dict[str, str]]:
    """Specs for the available ``backends`` and the references; unavailable ones map to reasons."""
    from ..backend import get_backend

    specs: list[Spec] = []
    skipped: dict[str, str] = {}
    devices = {"cpu"}
    for name in backends:
        try:
            be = get_backend(name, "cuda" if name == "torch" and torch_cuda() else None)
        except (ImportError, ValueError) as exc:
            skipped[f"xpnet-{name}"] = str(exc).splitlines()[0]
            continue
        specs.append(Spec("xpnet", name, str(be.device)))
        devices.add(str(be.device))
    if "torch" in references:
        specs += _torch_specs(devices, skipped)
    if "sklearn" in references:
        specs.append(Spec("sklearn"))
    if "article" in references:
        specs.append(Spec("article"))
    return specs, skipped


def _torch_specs(devices: set[str], skipped: dict[str, str]) -> list[Spec]:
    """The PyTorch loop on every device in use (and compiled on CUDA); a reason if torch is missing."""
    try:
        import torch  # noqa: F401
    except ImportError:
        skipped["torch"] = "PyTorch is not installed (pip install torch)"
        return []
    specs = []
    for dev in sorted(devices):
        specs.append(Spec("torch", device=dev))
        if dev.startswith("cuda"):
            specs.append(Spec("torch-compile", device=dev))
    return specs
