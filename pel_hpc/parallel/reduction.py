"""Order-independent exact sums: reductions whose result does not depend on the rank count.

Every float64 is an integer multiple of :math:`2^{-1074}`. Each value's 53-bit mantissa is
split into 32-bit chunks added into int64 *limbs* :math:`\\ell_k` of weight :math:`2^{32k-1074}`,

.. math::  \\sum_i v_i = 2^{-1074}\\sum_k \\ell_k\\, 2^{32k},

which is exact (integer addition is associative) for up to :math:`2^{31}` values. The limbs
are summed over ranks with an integer ``Allreduce`` and turned into the correctly rounded
float64 of the exact sum, so the result is bitwise the same for any order, any
decomposition and any rank count (a fixed-point accumulation, as in ReproBLAS).

References
----------
U. Kulisch, *Computer Arithmetic and Validity* (2013); J. Demmel and H. D. Nguyen,
ARITH 21 (2013) (reproducible summation).
"""
from __future__ import annotations

import numpy as np
from numba import njit

N_LIMBS = 67  # 2046 exponent positions / 32 bits, plus two chunks of carry room
_BIAS = 1074


@njit(cache=True)
def accumulate_limbs(values, n, limbs):
    """Add ``values[:n, c]`` exactly into ``limbs[c]`` (int64, shape (n_columns, N_LIMBS))."""
    bits = values.view(np.int64)
    for i in range(n):
        for c in range(values.shape[1]):
            b = bits[i, c]
            e = (b >> 52) & 0x7FF
            mant = b & 0xFFFFFFFFFFFFF
            if e == 0:
                p = 0
            else:
                mant |= 0x10000000000000
                p = e - 1
            if mant == 0:
                continue
            sign = -1 if b < 0 else 1
            k, o = p // 32, p % 32
            low = (mant & ((np.int64(1) << (32 - o)) - 1)) << o
            rest = mant >> (32 - o)
            limbs[c, k] += sign * low
            limbs[c, k + 1] += sign * (rest & 0xFFFFFFFF)
            limbs[c, k + 2] += sign * (rest >> 32)


def limbs_to_float(limbs: np.ndarray) -> np.ndarray:
    """Correctly rounded float64 of each row's exact value (Python integers, no rounding until the end)."""
    out = np.empty(limbs.shape[0])
    for c, row in enumerate(limbs):
        total = sum(int(v) << (32 * k) for k, v in enumerate(row.tolist()))
        out[c] = total / (1 << _BIAS)  # int / int is correctly rounded in CPython
    return out


def exact_sum(values: np.ndarray, comm) -> np.ndarray:
    """Global exact sum over rows and ranks of ``values`` (n, k) -> (k,), identical on any rank count.

    Parameters
    ----------
    values : (n,) or (n, k) float64 array
        Per-particle contributions on this rank (e.g. kinetic energy, pair energy, virial).
    comm : MPIComm or SerialComm
    """
    v = np.ascontiguousarray(values, dtype=np.float64)
    scalar = v.ndim == 1
    v = v.reshape(v.shape[0], -1)
    limbs = np.zeros((v.shape[1], N_LIMBS), np.int64)
    accumulate_limbs(v, v.shape[0], limbs)
    total = limbs_to_float(comm.allreduce_sum(limbs))
    return total[0] if scalar else total


class ExactSums:
    """A domain's ``sum_per_particle`` alone, exact (:func:`exact_sum`) over ``comm``: global sums
    before any domain is set up (the start's velocities), with the same bits whether one process
    holds every particle (a one-rank ``comm``) or each rank of ``comm`` its share."""

    def __init__(self, comm):
        self.comm = comm

    def sum_per_particle(self, values: np.ndarray):
        """Exact global sum of per-particle ``values`` (n_local, ...) -> scalar or (k,)."""
        return exact_sum(values, self.comm)
