"""Counter-based random numbers, written once in Array API integer operations (issue 17).

Every random draw during training (batch order, dropout masks) comes from Philox-4x64-10
(Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): block ``i`` of a
stream is ``philox(key, counter + i)``, four 64-bit words. A generator's whole state is two
integers, ``key`` (the seed and a stream number) and ``counter`` (blocks used so far), kept on
the host and advanced by the number of blocks each draw uses -- a count known from the
shapes alone, so no draw waits for the device. The same ``(key, counter)`` gives the same bits
on every backend.

The portable form holds each 64-bit word as two 32-bit halves in ``int64`` arrays (torch has
few ``uint64`` ops, array-api-strict mixes no dtypes) and builds the 64x64->128-bit product of a
Philox round from 32x16-bit products, which fit in 63 bits. NumPy runs the same design in C
(``numpy.random.Philox`` is Philox-4x64-10); ``backends/`` checks the two agree bit for bit and
tests/test_random.py checks both against Random123's published known-answer vectors.

Philox-4x64-10 rather than -4x32-10: NumPy has no C Philox-4x32, so the 4x32 variant would run
there as about 100 array passes per draw (10 rounds of ~10 ops), several times the cost of the
generator it replaces on a dropout mask, while NumPy's C Philox-4x64 costs less than
``Generator.random`` (issue 17, item 4; README "Reproducibility").
"""

from __future__ import annotations

import math
import secrets
import sys
from typing import Any

import numpy as np

DESIGN = "philox4x64-10"
ROUNDS = 10
M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
MULTIPLIERS = (0xD2E7470EE14C6C93, 0xCA5A826395121157)
WEYL = (0x9E3779B97F4A7C15, 0xBB67AE8584CAA73B)
MAX_COUNTER = 2**62  # block counters live in int64 on the portable path
WORDS_PER_BLOCK = 8  # 32-bit values per block


def _limb_constants(xp, device, m_shift: int):
    """``C[w, 0, h, 0]``: a 16-bit limb (``m_shift`` 0: low, 16: high) of multiplier ``w``'s 32-bit
    half ``h`` (0: high half, 1: low half), shaped to broadcast against ``(2 words, 2 halves, 1, n)``."""
    rows = [[[[((m >> 32 * (1 - h)) & M32) >> m_shift & 0xFFFF] for h in (0, 1)]] for m in MULTIPLIERS]
    return xp.asarray(rows, dtype=xp.int64, device=device)


def _round_keys(xp, device, key: tuple[int, int], rounds: int):
    """``K[r]``: round ``r``'s key words as ``(2 words, (hi32, lo32), 1)``, bumped by the Weyl constants."""
    out = []
    for r in range(rounds):
        k = [(key[i] + r * WEYL[i]) & M64 for i in (0, 1)]
        out.append([[[w >> 32], [w & M32]] for w in k])
    return xp.asarray(out, dtype=xp.int64, device=device)


def philox4x64(xp, ctr, key: tuple[int, int], rounds: int = ROUNDS, device: Any = None):
    """Philox-4x64-``rounds`` of counters ``ctr`` under ``key`` (two 64-bit ints).

    ``ctr`` is an ``int64`` array ``(4 words, 2 halves, n blocks)``, each 64-bit word as its high and
    low 32-bit halves; the result has the same layout. A round multiplies words 0 and 2 by the Philox
    multipliers (all eight 32x32-bit partial products at once, each from two 32x16-bit products that fit
    in 63 bits), so one round is about 25 array operations, whatever the block count.
    """
    c_lo, c_hi = _limb_constants(xp, device, 0), _limb_constants(xp, device, 16)
    keys = _round_keys(xp, device, key, rounds)
    even, odd = xp.stack([ctr[0, ...], ctr[2, ...]]), xp.stack([ctr[1, ...], ctr[3, ...]])
    for r in range(rounds):
        a = xp.expand_dims(even, axis=2)  # (word, a half, 1, n)
        t, u = a * c_lo, a * c_hi  # (word, a half, m half, n), each < 2**48
        s = t + ((u & 0xFFFF) << 16)
        h, lo32 = (s >> 32) + (u >> 16), s & M32  # the 32x32-bit partial products' halves
        c1 = h[:, 1, 1, :] + lo32[:, 1, 0, :] + lo32[:, 0, 1, :]
        c2 = h[:, 1, 0, :] + h[:, 0, 1, :] + lo32[:, 0, 0, :] + (c1 >> 32)
        hi = xp.stack([h[:, 0, 0, :] + (c2 >> 32), c2 & M32], axis=1)  # high 64 bits of the products
        lo = xp.stack([c1 & M32, lo32[:, 1, 1, :]], axis=1)  # low 64 bits
        even, odd = xp.flip(hi, axis=0) ^ odd ^ keys[r, ...], xp.flip(lo, axis=0)
    return xp.stack([even[0, ...], odd[0, ...], even[1, ...], odd[1, ...]])


def philox_u32(xp, device, key: tuple[int, int], counter: int, nblocks: int):
    """The ``8 * nblocks`` 32-bit values of blocks ``counter, counter+1, ...`` as an int64 array.

    Each 64-bit output word gives its low half, then its high half (NumPy's little-endian view of
    ``random_raw``), the four words of a block in order.
    """
    c = xp.arange(nblocks, dtype=xp.int64, device=device) + counter
    zero = xp.zeros((3, 2, nblocks), dtype=xp.int64, device=device)
    ctr = xp.concat([xp.expand_dims(xp.stack([c >> 32, c & M32]), axis=0), zero])
    out = xp.flip(philox4x64(xp, ctr, key, device=device), axis=1)  # (word, (lo, hi), block)
    return xp.reshape(xp.permute_dims(xp.reshape(out, (8, nblocks)), (1, 0)), (-1,))


_NUMPY_GENERATORS: dict[tuple[int, int], tuple[np.random.Philox, int]] = {}  # key -> (generator, next block)


def philox_u32_numpy(key: tuple[int, int], counter: int, nblocks: int) -> np.ndarray:
    """:func:`philox_u32` by NumPy's C Philox-4x64-10: the same bits, as a uint32 array.

    A generator is kept per key (a few at most): drawing whole blocks leaves it at the next
    counter, so a stream read in order skips building one per draw (20 us, a shuffle's cost).
    """
    gen, at = _NUMPY_GENERATORS.pop(key, (None, None))
    if at != counter:  # it steps, then draws: start one block early
        gen = np.random.Philox(counter=(counter - 1) % 2**256, key=key[0] | key[1] << 64)
    raw = gen.random_raw(4 * nblocks)
    _NUMPY_GENERATORS[key] = (gen, counter + nblocks)
    while len(_NUMPY_GENERATORS) > 8:
        del _NUMPY_GENERATORS[next(iter(_NUMPY_GENERATORS))]
    if sys.byteorder == "little":
        return raw.view(np.uint32)
    return np.stack([raw & M32, raw >> 32], axis=1).reshape(-1).astype(np.uint32)


def argsort_u32_numpy(keys: np.ndarray) -> np.ndarray:
    """``argsort(keys, stable=True)`` of 32-bit keys, by sorting ``key << 32 | index`` (unique
    64-bit values: NumPy's SIMD sort, 2-3x faster than its stable argsort, the same order)."""
    both = keys.astype(np.uint64) << np.uint64(32)
    both |= np.arange(keys.shape[0], dtype=np.uint64)
    both.sort()
    return (both & np.uint64(M32)).astype(np.int64)


def check_seed(seed: Any, name: str = "seed") -> int:
    """``seed`` as a 64-bit key word: a non-negative int below 2**64, or None for fresh entropy."""
    if seed is None:
        return secrets.randbits(64)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an int or None; got {seed!r}")
    if not 0 <= int(seed) <= M64:
        raise ValueError(f"{name} must be in [0, 2**64); got {seed!r}")
    return int(seed)


class CounterRNG:
    """Seeded random numbers drawn where the arrays live (dropout masks, shuffles), the same bits
    on every backend: Philox-4x64-10 with key ``(seed, stream)`` and a block counter."""

    def __init__(self, backend, seed: int | None, stream: int = 0):
        self.backend = backend
        self.key = (check_seed(seed), check_seed(stream, "stream"))
        self.counter = 0

    def words(self, n: int):
        """``n`` uniform 32-bit integers (an integer array on the device); advances the counter."""
        nblocks = -(-n // WORDS_PER_BLOCK)
        if self.counter + nblocks > MAX_COUNTER:
            raise OverflowError("this random stream is used up (2**62 blocks); reseed the generator")
        bits = self.backend._philox_u32(self.key, self.counter, nblocks)
        self.counter += nblocks
        return bits[:n]

    def uniform(self, shape: tuple[int, ...], dtype: Any):
        """Uniform samples in [0, 1) of ``shape`` and ``dtype``: 32 bits (float32: 24 bits), exact."""
        xp = self.backend.xp
        u = self.words(math.prod(shape))
        if xp.finfo(dtype).bits == 32:
            return xp.reshape(xp.astype(u >> 8, dtype) * (2.0**-24), shape)
        return xp.reshape(xp.astype(u, dtype) * (2.0**-32), shape)

    def normal(self, shape: tuple[int, ...], dtype: Any):
        """Standard normal samples (Box-Muller; equal across backends to rounding, not bit for bit)."""
        xp = self.backend.xp
        u = self.uniform((2, math.prod(shape)), xp.float64)
        z = xp.sqrt(-2.0 * xp.log(1.0 - u[0, :])) * xp.cos((2.0 * math.pi) * u[1, :])
        return xp.reshape(xp.astype(z, dtype), shape)

    def bernoulli(self, keep: float, shape: tuple[int, ...], dtype: Any):
        """A 0/1 mask in ``dtype`` whose entries are 1 with probability ``keep``: ``bits < keep*2**32``."""
        xp = self.backend.xp
        threshold = round(float(keep) * 2**32)
        u = self.words(math.prod(shape))
        if threshold >= 2**32:
            return xp.ones(shape, dtype=dtype, device=self.backend.device)
        return xp.reshape(xp.astype(u < threshold, dtype), shape)

    def permutation(self, n: int):
        """A random permutation of ``range(n)``: a stable argsort of ``n`` random 32-bit keys
        (equal keys keep index order, so ties are broken the same way everywhere)."""
        return self.backend._argsort_keys(self.words(n))

    def get_state(self) -> dict[str, Any]:
        """The state for checkpoints: ``{"generator", "key", "counter"}``, JSON-able ints."""
        return {"generator": DESIGN, "key": list(self.key), "counter": self.counter}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`get_state`; ``ValueError`` for anything else."""
        if not is_state(state):
            raise ValueError(f"state must be a {DESIGN} state from get_state(); got {state!r}")
        key = (check_seed(state["key"][0], "state key"), check_seed(state["key"][1], "state key"))
        counter = state["counter"]
        if isinstance(counter, bool) or not isinstance(counter, int) or not 0 <= counter <= MAX_COUNTER:
            raise ValueError(f"state counter must be an int in [0, 2**62]; got {counter!r}")
        self.key, self.counter = key, counter

    def restart(self) -> None:
        """Restart the stream at counter 0 (same key)."""
        self.counter = 0


def is_state(state: Any) -> bool:
    """Whether ``state`` looks like a :meth:`CounterRNG.get_state` (not an older library's state)."""
    return (
        isinstance(state, dict)
        and state.get("generator") == DESIGN
        and isinstance(state.get("key"), (list, tuple))
        and len(state["key"]) == 2
        and "counter" in state
    )
