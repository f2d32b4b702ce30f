"""Maxwell–Boltzmann velocities from a counter-based generator: rank-count independent.

Each velocity component is a function of (seed, replica, tag, component) only — a
splitmix64 hash feeding Box–Muller — so a decomposed run draws exactly the velocities of a
serial one.  Total momentum is then removed and the kinetic temperature rescaled to T
exactly, both through the domain's global sums (exact in reproducible mode).

.. math::  p(v_{i\\alpha}) \\propto \\exp(-m v_{i\\alpha}^2 / 2 k_B T)

Units: T [epsilon/k_B], v [sigma/tau], m = 1.

References
----------
G. L. Steele, D. Lea, C. H. Flood, OOPSLA 2014 (SplitMix64); G. E. P. Box and
M. E. Muller, Ann. Math. Stat. 29, 610 (1958).
"""
import numpy as np
from numba import njit, uint64

from pel_hpc.md.observables import kinetic_energy, momentum, n_dof

STREAM_VELOCITY = 1
STREAM_POSITION = 2


@njit(inline="always", cache=True)
def splitmix64(z):
    """One splitmix64 output for the 64-bit counter ``z`` (uint64)."""
    z = z + uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return z ^ (z >> uint64(31))


@njit(cache=True)
def uniform(seed, stream, replica, tag, k):
    """Uniform in (0, 1] as a pure function of its five integer counters."""
    h = splitmix64(uint64(seed))
    h = splitmix64(h ^ uint64(stream))
    h = splitmix64(h ^ uint64(replica))
    h = splitmix64(h ^ uint64(tag))
    h = splitmix64(h ^ uint64(k))
    return (float(h >> uint64(11)) + 1.0) * 2.0**-53


@njit(cache=True)
def gaussian_velocities(seed, replica, tags, v):
    """Standard normal v[i, d] from (seed, replica, tags[i], d) by Box–Muller."""
    for i in range(len(tags)):
        for d in range(3):
            u1 = uniform(seed, STREAM_VELOCITY, replica, tags[i], 2 * d)
            u2 = uniform(seed, STREAM_VELOCITY, replica, tags[i], 2 * d + 1)
            v[i, d] = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def maxwell_boltzmann(state, domain, temperature: float) -> None:
    """Draw velocities at ``temperature`` [epsilon/k_B], zero total momentum, rescale to T exactly."""
    n = state.n_local
    gaussian_velocities(state.seed, state.replica, state.tag[:n], state.v[:n])
    zero_momentum(state, domain)
    ke = kinetic_energy(state, domain)
    state.v[:n] *= np.sqrt(temperature * n_dof(state.n_global) / (2.0 * ke))
    state.forget_ke2()


def zero_momentum(state, domain) -> None:
    """Subtract the centre-of-mass velocity (global reduction; all masses 1)."""
    state.v[: state.n_local] -= momentum(state, domain) / state.n_global
    state.forget_ke2()
