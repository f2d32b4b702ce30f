r"""A small counter-free random number generator for the CLM kernels (xoshiro256+, seeded by splitmix64).

numba's ``np.random`` keeps one hidden global state, so two simulations in one process would share
a stream and a continued run could not be reproduced.  Here each simulation owns its state array
``rng`` (4 × uint64) and its Box–Muller cache ``cache`` (2 × float64), which are kept with the
simulation: same seed, same result, also across
interrupted and continued scans.

References
----------
Blackman & Vigna, ACM TOMS 47, 36 (2021) (xoshiro256+); Steele et al., OOPSLA 2014 (splitmix64).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

_M64 = (1 << 64) - 1


def seed_state(seed: int, stream: int = 0) -> np.ndarray:
    """The 4-word xoshiro256+ state for (seed, stream), expanded by splitmix64."""
    x = (int(seed) * 0x9E3779B97F4A7C15 + int(stream) * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & _M64
    out = np.empty(4, dtype=np.uint64)
    for k in range(4):
        x = (x + 0x9E3779B97F4A7C15) & _M64
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        out[k] = z ^ (z >> 31)
    return out


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, inline="always")
def uniform(rng):
    """A double uniform in [0, 1) (53 bits) from the xoshiro256+ state ``rng`` (advanced in place)."""
    s0, s1, s2, s3 = rng[0], rng[1], rng[2], rng[3]
    result = s0 + s3
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    rng[0], rng[1], rng[2], rng[3] = s0, s1, s2, s3
    return float(result >> np.uint64(11)) * 1.1102230246251565e-16


@njit(cache=True, inline="always")
def exponential(rng):
    """A unit-mean exponential variate, −ln(1 − u)."""
    return -math.log(1.0 - uniform(rng))


@njit(cache=True, inline="always")
def normal(rng, cache):
    """A standard normal variate (Box–Muller); the second of each pair waits in ``cache`` = (flag, value)."""
    if cache[0] != 0.0:
        cache[0] = 0.0
        return cache[1]
    r = math.sqrt(-2.0 * math.log(1.0 - uniform(rng)))
    phi = 2.0 * math.pi * uniform(rng)
    cache[0], cache[1] = 1.0, r * math.sin(phi)
    return r * math.cos(phi)


def new_cache() -> np.ndarray:
    """An empty Box–Muller cache for :func:`normal` (saved with the generator state)."""
    return np.zeros(2)
