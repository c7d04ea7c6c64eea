"""pytest-benchmark suite settings: tiny sizes by default (a CI smoke test), full sizes on request.

``pytest bench`` and ``pytest bench --benchmark-disable`` use the ``smoke`` sizes (a few
seconds); ``pytest bench --benchmark-only`` uses the full workloads; ``XPNET_BENCH_SIZE``
(full, quick or smoke) overrides either.
"""

from __future__ import annotations

import os

import pytest

from xpnet.bench import SIZES, WORKLOADS, make_data


def _size(config) -> str:
    env = os.environ.get("XPNET_BENCH_SIZE")
    if env:
        if env not in SIZES:
            raise pytest.UsageError(f"XPNET_BENCH_SIZE={env!r}: choose one of {', '.join(SIZES)}")
        return env
    return "full" if config.getoption("benchmark_only", default=False) else "smoke"


@pytest.fixture(scope="session")
def bench_size(pytestconfig) -> str:
    """The data size every benchmark uses in this session."""
    return _size(pytestconfig)


@pytest.fixture(scope="session")
def bench_data(bench_size):
    """``get(workload_name, dtype) -> (X, y)``, generated once per session, workload and dtype."""
    cache: dict[tuple[str, str], tuple] = {}

    def get(name: str, dtype: str = "float32"):
        if (name, dtype) not in cache:
            cache[name, dtype] = make_data(WORKLOADS[name], bench_size, dtype)
        return cache[name, dtype]

    return get


def pytest_report_header(config):
    return f"xpnet bench sizes: {_size(config)} (XPNET_BENCH_SIZE=full|quick|smoke to change)"
