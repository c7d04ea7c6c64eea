"""``python -m pytest`` with torch made unimportable, for the fast tier-1 subsets that do not need it.

Importing torch costs ~2 s per mutant on a 2-core machine; the tier-1 subsets only run tests that
skip or do without it (modules that ``try: import torch`` still import). The working directory goes
first on ``sys.path``, as with ``python -m pytest``, so the mutated copy of ``xpnet`` is imported.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys


class _NoTorch:
    """``PathFinder``, except that torch is not found: ``import torch`` raises ModuleNotFoundError and
    ``importlib.util.find_spec("torch")`` is None, as on a machine without torch."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            return None
        return importlib.machinery.PathFinder.find_spec(name, path, target)


sys.path.insert(0, os.getcwd())
sys.meta_path[:] = [_NoTorch if f is importlib.machinery.PathFinder else f for f in sys.meta_path]

import pytest  # noqa: E402

if __name__ == "__main__":
    sys.exit(pytest.main(sys.argv[1:]))
