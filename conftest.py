"""Fixtures shared by every suite (tests/, parity/, backends/, bench/); the helpers are in xpnet.testing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from xpnet.testing import single_torch_thread


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """PyTorch on one thread for a whole test module, restored after it (so bench/ keeps torch's own setting).

    Request it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``; parity/ and
    backends/ turn it on for every module. Without torch it does nothing.
    """
    with single_torch_thread():
        yield
