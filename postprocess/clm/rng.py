r"""A small random number generator for the CLM kernels (xoshiro256+, seeded by splitmix64; ziggurat variates).

numba's ``np.random`` keeps one hidden global state, so two simulations in one process would share
a stream and a continued run could not be reproduced.  Here each simulation owns its state array
``rng`` (4 × uint64) and its Box–Muller cache ``cache`` (2 × float64), which are kept with the
simulation: same seed, same result, also across
interrupted and continued scans.

Exponential and normal variates use the exact ziggurat method (256 layers; one 64-bit word gives
the layer (top 8 bits) and the uniform (bits 3–54, or for the normal a signed one from bits 3–55,
avoiding the weak low bits of xoshiro256+)); about 98–99 % of draws need no transcendental function.

References
----------
Blackman & Vigna, ACM TOMS 47, 36 (2021) (xoshiro256+); Steele et al., OOPSLA 2014 (splitmix64);
Marsaglia & Tsang, J. Stat. Softw. 5(8) (2000) (ziggurat).
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


def _ziggurat_edges(r, v, f, f_inv):
    """Layer edges x_0 > x_1 = r > … > x_256 = 0 of a 256-layer ziggurat of area v per layer under f."""
    x = np.zeros(257)
    x[0], x[1] = v / f(r), r
    for i in range(1, 255):
        x[i + 1] = f_inv(v / x[i] + f(x[i]))
    return x


_ZN_X = _ziggurat_edges(3.6541528853610088, 0.00492867323399, lambda x: math.exp(-0.5 * x * x),
                        lambda y: math.sqrt(-2.0 * math.log(y)))
_ZN_F = np.exp(-0.5 * _ZN_X**2)
_ZE_X = _ziggurat_edges(7.69711747013104972, 0.0039496598225815571993, lambda x: math.exp(-x),
                        lambda y: -math.log(y))
_ZE_F = np.exp(-_ZE_X)


@njit(cache=True, inline="always")
def xoshiro_step(s0, s1, s2, s3):
    """One xoshiro256+ step of a state held in four local values: (64-bit output, s0, s1, s2, s3).

    A loop that draws many words keeps the state in registers this way (:func:`next_u64` reads and
    writes the state array, which the compiler cannot keep in registers across stores to other
    arrays)."""
    result = s0 + s3
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    return result, s0, s1, s2, _rotl(s3, 45)


@njit(cache=True, inline="always")
def next_u64(rng):
    """The next 64-bit output of the xoshiro256+ state ``rng`` (advanced in place)."""
    result, rng[0], rng[1], rng[2], rng[3] = xoshiro_step(rng[0], rng[1], rng[2], rng[3])
    return result


@njit(cache=True, inline="always")
def unit_float(r):
    """A double uniform in [0, 1) from the top 53 bits of the 64-bit word ``r``."""
    return float(np.int64(r >> np.uint64(11))) * 1.1102230246251565e-16


@njit(cache=True, inline="always")
def uniform(rng):
    """A double uniform in [0, 1) (the top 53 bits of one xoshiro256+ output)."""
    return unit_float(next_u64(rng))


@njit(cache=True)
def _exponential_slow(rng, i, z):
    """Ziggurat rejection step of :func:`exponential` outside the inner rectangle of layer i."""
    if i == 0:
        return _ZE_X[1] - math.log(1.0 - uniform(rng))      # tail beyond r: r + Exp(1) (memoryless)
    if _ZE_F[i] + uniform(rng) * (_ZE_F[i + 1] - _ZE_F[i]) < math.exp(-z):
        return z
    return -1.0


@njit(cache=True, inline="always")
def exponential_fast(r):
    """(z, accepted): the ziggurat's inner-rectangle step of :func:`exponential` for the word ``r``
    (layer i from the top 8 bits, a 52-bit uniform u from bits 3–54; z = u x_i, accepted when
    z < x_{i+1}, ≈ 99 %)."""
    i = int(r >> np.uint64(56))
    z = float(np.int64((r >> np.uint64(3)) & np.uint64(0xFFFFFFFFFFFFF))) * 2.220446049250313e-16 * _ZE_X[i]
    return z, z < _ZE_X[i + 1]


@njit(cache=True)
def exponential_rest(rng, r):
    """:func:`exponential` after the word ``r`` failed :func:`exponential_fast`: its rejection step,
    then further words of ``rng`` until one is accepted (the rare path)."""
    while True:
        z = _exponential_slow(rng, int(r >> np.uint64(56)), exponential_fast(r)[0])
        if z >= 0.0:
            return z
        r = next_u64(rng)
        z, accepted = exponential_fast(r)
        if accepted:
            return z


@njit(cache=True, inline="always")
def exponential(rng):
    """A unit-mean exponential variate (exact ziggurat)."""
    r = next_u64(rng)
    z, accepted = exponential_fast(r)
    return z if accepted else exponential_rest(rng, r)


@njit(cache=True)
def _normal_slow(rng, i, z):
    """Ziggurat rejection step of :func:`normal` (|z| outside the inner rectangle of layer i); −1: reject."""
    if i == 0:                                            # Marsaglia's tail algorithm beyond r
        while True:
            a = -math.log(1.0 - uniform(rng)) / _ZN_X[1]
            if -2.0 * math.log(1.0 - uniform(rng)) > a * a:
                return _ZN_X[1] + a
    if _ZN_F[i] + uniform(rng) * (_ZN_F[i + 1] - _ZN_F[i]) < math.exp(-0.5 * z * z):
        return z
    return -1.0


@njit(cache=True, inline="always")
def normal_fast(r):
    """(z, accepted): the ziggurat's inner-rectangle step of :func:`normal` for the word ``r``.

    The word gives the layer i (top 8 bits) and a signed 53-bit uniform u ∈ [−1, 1) (bits 3–55), so
    the sign costs no branch: z = u x_i is the variate when |z| < x_{i+1} (≈ 99 %)."""
    i = int(r >> np.uint64(56))
    z = float(np.int64(r << np.uint64(8)) >> np.int64(11)) * 2.220446049250313e-16 * _ZN_X[i]
    return z, abs(z) < _ZN_X[i + 1]


@njit(cache=True)
def normal_rest(rng, r):
    """:func:`normal` after the word ``r`` failed :func:`normal_fast`: its rejection step, then
    further words of ``rng`` until one is accepted (the rare path, ≈ 1 %)."""
    while True:
        i = int(r >> np.uint64(56))
        z = normal_fast(r)[0]
        a = _normal_slow(rng, i, abs(z))
        if a >= 0.0:
            return a if z > 0.0 else -a
        r = next_u64(rng)
        z, accepted = normal_fast(r)
        if accepted:
            return z


@njit(cache=True, inline="always")
def normal(rng, cache):
    """A standard normal variate (exact ziggurat); ``cache`` is unused (kept for the state layout)."""
    r = next_u64(rng)
    z, accepted = normal_fast(r)
    return z if accepted else normal_rest(rng, r)


def new_cache() -> np.ndarray:
    """The second state array of a generator (unused by the ziggurat; kept so saved states keep their shape)."""
    return np.zeros(2)
