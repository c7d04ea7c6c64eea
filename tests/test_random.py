"""The counter-based generator (issue 17): Philox-4x64-10 against Random123's published
known-answer vectors, on the portable Array API path and NumPy's C path, and the draws built on it."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet
from xpnet.backend import Backend, get_backend
from xpnet.random import CounterRNG, philox4x64, philox_u32, philox_u32_numpy

F = 0xFFFFFFFFFFFFFFFF
# Random123 1.14, tests/kat_vectors: "philox4x64 10 CTR(4 words) KEY(2 words) EXPECTED(4 words)"
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x16554D9ECA36314C, 0xDB20FE9D672D0FDC, 0xD7E772CEE186176B, 0x7E68B68AEC7BA23B)),
    ((F, F, F, F), (F, F), (0x87B092C3013FE90B, 0x438C3C67BE8D0224, 0x9CC7D7C69CD777B6, 0xA09CAEBF594F0BA0)),
    (
        (0x243F6A8885A308D3, 0x13198A2E03707344, 0xA4093822299F31D0, 0x082EFA98EC4E6C89),
        (0x452821E638D01377, 0xBE5466CF34E90C6C),
        (0xA528F45403E61D95, 0x38C72DBD566E9788, 0xA5A1610E72FD18B5, 0x57BD43B5E52B7FE6),
    ),
]


@pytest.mark.parametrize("ctr, key, expected", KAT)
def test_portable_philox_matches_the_published_vectors(backend, ctr, key, expected):
    xp = backend.xp
    words = backend.asarray([[[w >> 32], [w & 0xFFFFFFFF]] for w in ctr], dtype="int64")  # (4, 2, 1)
    out = philox4x64(xp, words, key, device=backend.device)
    assert out.dtype == xp.int64 and tuple(out.shape) == (4, 2, 1)  # computed in int64 on the device
    host = backend.to_numpy(out)
    assert tuple(int(h) << 32 | int(lo) for h, lo in host[:, :, 0]) == expected


@pytest.mark.parametrize("ctr, key, expected", KAT)
def test_numpy_fast_path_matches_the_published_vectors(ctr, key, expected):
    counter = sum(w << (64 * i) for i, w in enumerate(ctr))
    raw = philox_u32_numpy(key, counter, 1).astype(np.uint64)
    assert tuple(int(raw[2 * i] | raw[2 * i + 1] << np.uint64(32)) for i in range(4)) == expected


def test_numpy_fast_path_equals_the_portable_one_across_counters():
    key = (2**64 - 3, 12345)
    for counter in (0, 1, 2**32 - 3, 2**40 + 7):
        fast = philox_u32_numpy(key, counter, 37)
        slow = philox_u32(np, "cpu", key, counter, 37)
        assert fast.dtype == np.uint32 and slow.dtype == np.int64
        np.testing.assert_array_equal(fast.astype(np.int64), slow)


def test_draws_advance_the_counter_and_never_reuse_bits():
    gen = get_backend("numpy").rng(9)
    a = gen.words(13)  # 13 values take 2 blocks of 8
    assert gen.counter == 2
    b = gen.words(8)
    assert gen.counter == 3
    whole = get_backend("numpy").rng(9).words(24)
    np.testing.assert_array_equal(a, whole[:13])
    np.testing.assert_array_equal(b, whole[16:24])


def test_state_round_trip_continues_the_stream():
    backend = get_backend("numpy")
    gen = backend.rng(4, stream=1)
    gen.permutation(50)
    state = gen.get_state()
    assert state == {"generator": "philox4x64-10", "key": [4, 1], "counter": 7}
    nxt = gen.bernoulli(0.7, (6, 5), np.float64)
    other = backend.rng(123)
    other.set_state(state)
    np.testing.assert_array_equal(other.bernoulli(0.7, (6, 5), np.float64), nxt)
    assert backend.rng(4, stream=0).words(8).tolist() != backend.rng(4, stream=1).words(8).tolist()


def test_bernoulli_uniform_and_permutation_values():
    backend = get_backend("numpy")
    gen = backend.rng(0)
    mask = gen.bernoulli(0.8, (400, 250), np.float32)
    assert mask.dtype == np.float32 and set(np.unique(mask)) == {0.0, 1.0}
    assert abs(mask.mean() - 0.8) < 0.005
    u = gen.uniform((100_000,), np.float32)
    assert u.dtype == np.float32 and u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.005
    u64 = gen.uniform((1000,), np.float64)
    np.testing.assert_array_equal(u64 * 2.0**32, np.floor(u64 * 2.0**32))  # exactly k / 2**32
    perm = gen.permutation(1000)
    assert sorted(perm.tolist()) == list(range(1000)) and perm.tolist() != list(range(1000))
    assert np.all(gen.bernoulli(1.0, (3, 3), np.float64) == 1.0)
    z = gen.normal((50_000,), np.float64)
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1.0) < 0.02


def test_keep_mask_is_the_threshold_of_the_words():
    gen, twin = get_backend("numpy").rng(2), get_backend("numpy").rng(2)
    mask = gen.bernoulli(0.25, (8, 9), np.float64)
    words = twin.words(72).reshape(8, 9).astype(np.int64)
    np.testing.assert_array_equal(mask, (words < 2**30).astype(np.float64))


def test_reference_backend_draws_the_same_bits_as_numpy():
    fast, ref = get_backend("numpy").rng(77), Backend().rng(77)
    np.testing.assert_array_equal(fast.permutation(333), ref.permutation(333))
    np.testing.assert_array_equal(
        fast.bernoulli(0.6, (17, 23), np.float64), ref.bernoulli(0.6, (17, 23), np.float64)
    )
    np.testing.assert_array_equal(fast.uniform((99,), np.float32), ref.uniform((99,), np.float32))


@pytest.mark.parametrize(
    "seed, error, match",
    [
        (-1, ValueError, "seed"),
        (2**64, ValueError, "seed"),
        (1.5, TypeError, "seed"),
        (True, TypeError, "seed"),
    ],
)
def test_bad_seeds_are_rejected(seed, error, match):
    with pytest.raises(error, match=match):
        CounterRNG(get_backend("numpy"), seed)


@pytest.mark.parametrize(
    "state",
    [
        None,
        {"bit_generator": "PCG64", "state": {}},
        {"generator": "philox4x64-10", "key": [1, 2], "counter": -1},
        {"generator": "philox4x64-10", "key": [1, -2], "counter": 0},
        {"generator": "philox4x64-10", "key": [1], "counter": 0},
    ],
)
def test_bad_states_are_rejected_and_change_nothing(state):
    gen = get_backend("numpy").rng(3)
    gen.words(20)
    before = gen.get_state()
    with pytest.raises(ValueError, match="state"):
        gen.set_state(state)
    assert gen.get_state() == before


def test_unseeded_generators_differ():
    assert xpnet.get_backend("numpy").rng(None).key != xpnet.get_backend("numpy").rng(None).key


def test_numpy_permutation_sort_breaks_ties_by_index_like_a_stable_argsort(backend):
    from xpnet.random import argsort_u32_numpy

    keys = np.array([7, 2**32 - 1, 7, 0, 2**31, 7, 0, 2**32 - 1], dtype=np.uint32)
    want = np.argsort(keys, stable=True)
    assert want.tolist() == [3, 6, 0, 2, 5, 4, 1, 7]
    np.testing.assert_array_equal(argsort_u32_numpy(keys), want)
    portable = backend._argsort_keys(backend.asarray(keys.astype(np.int64)))
    np.testing.assert_array_equal(backend.to_numpy(portable), want)


def test_cached_numpy_generator_follows_any_counter_order():
    key = (31, 4)
    direct = [philox_u32_numpy(key, c, 3) for c in (0, 3, 6, 1, 9, 2)]
    for c, got in zip((0, 3, 6, 1, 9, 2), direct, strict=True):
        np.testing.assert_array_equal(got.astype(np.int64), philox_u32(np, "cpu", key, c, 3))


def test_torch_cpu_fast_path_equals_the_portable_ops_on_torch():
    torch = pytest.importorskip("torch")
    backend = get_backend("torch")
    key = (2**63 + 5, 3)
    fast = backend._philox_u32(key, 11, 40)
    portable = philox_u32(backend.xp, backend.device, key, 11, 40)
    assert fast.dtype == portable.dtype == torch.int64
    assert torch.equal(fast, portable)
    keys = portable[:300]
    assert torch.equal(backend._argsort_keys(keys), torch.argsort(keys, stable=True))
