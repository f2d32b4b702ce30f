"""Kinetic energy, momentum, temperature and pressure (LJ units).

Global sums go through the domain's ``sum_per_particle`` (a plain reduction, or the exact
one of reproducible mode); :func:`sum_v2` is the local sum of the compiled loops.

.. math::

    K = \\tfrac12\\sum_i m v_i^2,\\quad T = 2K/N_f,\\quad N_f = 3N - 3,\\quad
    P = (2K + W)/(3V)

with W the pair virial of :mod:`pel_hpc.md.forces` (the same definitions as LAMMPS
``compute temp`` and ``compute pressure``).  Units: K [epsilon], T [epsilon/k_B],
P [epsilon/sigma³].
"""
import numpy as np
from numba import njit


@njit(cache=True)
def sum_v2(v, n):
    """Σ_i |v_i|² over the first ``n`` particles [sigma²/tau²] (local partial sum)."""
    s = 0.0
    for i in range(n):
        s += v[i, 0] * v[i, 0] + v[i, 1] * v[i, 1] + v[i, 2] * v[i, 2]
    return s


@njit(cache=True)
def squared_speeds(v, n):
    """|v_i|² of each of the first ``n`` particles (n,) [sigma²/tau²]."""
    out = np.empty(n)
    for i in range(n):
        out[i] = v[i, 0] * v[i, 0] + v[i, 1] * v[i, 1] + v[i, 2] * v[i, 2]
    return out


def kinetic_energy(state, domain) -> float:
    """Global kinetic energy K [epsilon] (masses 1)."""
    return 0.5 * float(domain.sum_per_particle(squared_speeds(state.v, state.n_local)))


def n_dof(n_global: int) -> int:
    """Degrees of freedom 3N − 3 (total momentum is conserved and zero)."""
    return 3 * n_global - 3


def temperature(ke: float, n_global: int) -> float:
    """Kinetic temperature 2K/N_f [epsilon/k_B]."""
    return 2.0 * ke / n_dof(n_global)


def pressure(ke: float, virial: float, volume: float) -> float:
    """P = (2K + W)/(3V) [epsilon/sigma³]."""
    return (2.0 * ke + virial) / (3.0 * volume)


def momentum(state, domain) -> np.ndarray:
    """Global total momentum (3,) [sigma/tau]."""
    return domain.sum_per_particle(state.v[: state.n_local])
