"""Weight initializers, drawn on the host with a seeded NumPy ``Generator``.

Drawing on the host and moving the result to the device once means one seed gives the
same network on every backend. Bounds and standard deviations follow ``torch.nn.init``
(``W`` has shape ``(fan_in, fan_out)``; torch stores ``(fan_out, fan_in)``, same fans):

| method         | distribution                                   |
| -------------- | ---------------------------------------------- |
| zeros          | 0                                              |
| random         | N(0, 1) (the article's default)                |
| glorot_uniform | U(-b, b), b = sqrt(6 / (fan_in + fan_out))     |
| glorot_normal  | N(0, s), s = sqrt(2 / (fan_in + fan_out))      |
| he_uniform     | U(-b, b), b = sqrt(6 / fan_in)                 |
| he_normal      | N(0, s), s = sqrt(2 / fan_in)                  |
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

INITIALIZERS = ("zeros", "random", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal")


def init_scale(method: str, fan_in: int, fan_out: int) -> float:
    """The uniform bound or normal standard deviation of ``method`` for these fans."""
    if method == "glorot_uniform":
        return math.sqrt(6.0 / (fan_in + fan_out))
    if method == "glorot_normal":
        return math.sqrt(2.0 / (fan_in + fan_out))
    if method == "he_uniform":
        return math.sqrt(6.0 / fan_in)
    if method == "he_normal":
        return math.sqrt(2.0 / fan_in)
    if method == "random":
        return 1.0
    if method == "zeros":
        return 0.0
    raise ValueError(f"init={method!r} is unknown; choose one of {', '.join(INITIALIZERS)}")


def initialize(method: str, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """A float64 ``(fan_in, fan_out)`` weight matrix drawn by ``method``."""
    scale = init_scale(method, fan_in, fan_out)
    shape = (fan_in, fan_out)
    if method == "zeros":
        return np.zeros(shape)
    if method.endswith("uniform"):
        return rng.uniform(-scale, scale, size=shape)
    return scale * rng.standard_normal(shape)


def initial_arrays(specs: dict[str, tuple[str, tuple[int, ...]]], method: str, rng: np.random.Generator):
    """Float64 host arrays for ``{key: (value, shape)}`` specs, in order: ``"init"`` entries (2-d
    weights) are drawn by ``method`` from ``rng``, ``"zeros"``/``"ones"`` are constant."""
    out = {}
    for key, (value, shape) in specs.items():
        if value == "init":
            out[key] = initialize(method, *shape, rng)
        else:
            out[key] = np.zeros(shape) if value == "zeros" else np.ones(shape)
    return out


def host_generator(seed: Any) -> np.random.Generator:
    """The seeded host generator initial weights (and derived seeds) are drawn from."""
    return np.random.default_rng(seed)
