"""Nosé–Hoover chain thermostat (Martyna, Klein, Tuckerman 1992), as LAMMPS ``fix nvt``.

A chain of M thermostats (η_k, v_η,k) with masses Q_1 = N_f T τ², Q_k = T τ² (k ≥ 2).
The Trotter half-step (one loop, no Suzuki–Yoshida) scales all velocities by
exp(−v_η,1 Δt/2).  The conserved quantity is

.. math::

    H = K + E_{pot} + \\sum_k \\tfrac12 Q_k v_{\\eta,k}^2 + N_f T \\eta_1 + T\\sum_{k\\ge2}\\eta_k .

Units: T [epsilon/k_B], τ and Δt [tau], H [epsilon].

References
----------
G. J. Martyna, M. L. Klein and M. Tuckerman, J. Chem. Phys. 97, 2635 (1992);
G. J. Martyna, M. E. Tuckerman, D. J. Tobias and M. L. Klein, Mol. Phys. 87, 1117 (1996).
"""
import numpy as np
from numba import njit

RUNAWAY = 100.0  # an NVT run hotter than RUNAWAY × its reference temperature has diverged


def runaway(ke2: float, ndof: int, reference: float) -> bool:
    """Has an NVT run diverged?  2K = ``ke2`` [epsilon] not finite, or the kinetic temperature 2K/N_f
    above :data:`RUNAWAY` times ``reference`` [epsilon/k_B], the larger of the target and the start's
    kinetic temperature (a quench from a hot file keeps the file's velocities).  Even a start far from
    equilibrium (a random or compressed configuration) converts only a few epsilon per particle into heat:
    a factor 100 is reached when the integration has broken down (a time step too large for the forces),
    which the thermostat would otherwise hide by freezing every particle in place."""
    return not ke2 <= RUNAWAY * ndof * reference


def masses(chain: int, ndof: int, temperature: float, tau: float) -> np.ndarray:
    """Thermostat masses Q_k (chain,) [epsilon·tau²]."""
    q = np.full(chain, temperature * tau * tau)
    q[:1] *= ndof
    return q


@njit(inline="always", cache=True)
def _force(k, eta_v, q, ke2, ndof, temp):
    if k == 0:
        return (ke2 - ndof * temp) / q[0]
    return (q[k - 1] * eta_v[k - 1] ** 2 - temp) / q[k]


@njit(cache=True)
def half_step(eta, eta_v, q, ke2, ndof, temp, dt):
    """Advance the chain by Δt/2 given 2K = ``ke2``; return the velocity scale factor."""
    m = len(eta)
    dt4, dt8 = 0.25 * dt, 0.125 * dt
    for k in range(m - 1, -1, -1):
        ex = np.exp(-dt8 * eta_v[k + 1]) if k < m - 1 else 1.0
        eta_v[k] = (eta_v[k] * ex + dt4 * _force(k, eta_v, q, ke2, ndof, temp)) * ex
    s = np.exp(-0.5 * dt * eta_v[0])
    ke2 *= s * s
    for k in range(m):
        eta[k] += 0.5 * dt * eta_v[k]
    for k in range(m):
        ex = np.exp(-dt8 * eta_v[k + 1]) if k < m - 1 else 1.0
        eta_v[k] = (eta_v[k] * ex + dt4 * _force(k, eta_v, q, ke2, ndof, temp)) * ex
    return s


@njit(cache=True)
def chain_energy(eta, eta_v, q, ndof, temp):
    """Thermostat part of H: Σ ½Q_k v_η,k² + N_f T η_1 + T Σ_{k≥2} η_k [epsilon]."""
    e = 0.0
    for k in range(len(eta)):
        e += 0.5 * q[k] * eta_v[k] ** 2 + (ndof if k == 0 else 1.0) * temp * eta[k]
    return e
