"""One cap on the BLAS/OpenMP thread pools (and, when asked, PyTorch's intra-op pool) around a block.

An MLP's small matrix products run fastest on one thread; extra BLAS threads only spin against
other work (2.3x slower per epoch on a busy 2-core machine). ``xpnet train``, ``xpnet tune`` and
``xpnet bench`` all cap threads through :func:`blas_threads`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def blas_threads(threads: int | None, torch_threads: bool = False) -> Iterator[None]:
    """At most ``threads`` BLAS/OpenMP threads inside (None: no cap, a no-op without threadpoolctl).

    With ``torch_threads`` PyTorch's intra-op pool is capped too (if torch is imported) and
    restored on exit. Entering scans the loaded libraries, so wrap a block, not each step.
    """
    if threads is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        yield
        return
    torch = sys.modules.get("torch") if torch_threads else None
    before = torch.get_num_threads() if torch is not None else None
    try:
        with threadpool_limits(limits=threads):
            if torch is not None:
                torch.set_num_threads(threads)
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(before)
