"""Velocity-Verlet kernels (NVE); masses are 1.

.. math::

    v \\leftarrow v + \\tfrac{\\Delta t}{2} F,\\quad x \\leftarrow x + \\Delta t\\, v,
    \\quad F \\leftarrow F(x),\\quad v \\leftarrow v + \\tfrac{\\Delta t}{2} F

The large-system step (:meth:`pel_hpc.simulation.Simulation.step`) uses the fused passes
:func:`scale_kick_drift` and :func:`kick_squared_speeds` (one numba call and one sweep over
the particles each, bitwise the same arithmetic as the separate kernels); the compiled
small-system loop (:mod:`pel_hpc.md.loop`) uses :func:`scale_kick_drift` and the separate
second half-kick (it needs the sum of |v|², not the per-particle values).

Units: Δt [tau], x [sigma], v [sigma/tau], F [epsilon/sigma].

References
----------
W. C. Swope, H. C. Andersen, P. H. Berens and K. R. Wilson, J. Chem. Phys. 76, 637 (1982).
"""
import numpy as np
from numba import njit


@njit(cache=True)
def kick(v, f, h, n):
    """v ← v + h·F for the first ``n`` particles (h = Δt/2)."""
    for i in range(n):
        for d in range(3):
            v[i, d] += h * f[i, d]


@njit(cache=True)
def drift(x, v, dt, n):
    """x ← x + Δt·v for the first ``n`` particles."""
    for i in range(n):
        for d in range(3):
            x[i, d] += dt * v[i, d]


@njit(cache=True)
def scale(v, s, n):
    """v ← s·v for the first ``n`` particles (thermostat)."""
    for i in range(n):
        for d in range(3):
            v[i, d] *= s


@njit(cache=True)
def scale_kick_drift(x, v, f, s, h, dt, n):
    """v ← s·v + h·F, then x ← x + Δt·v, for the first ``n`` particles, in one pass.

    The first half of a velocity-Verlet(-NHC) step: the thermostat's scale ``s`` (1 for NVE),
    the half-kick (h = Δt/2) and the drift; each operation rounded as in :func:`scale`,
    :func:`kick` and :func:`drift` applied in turn.
    """
    for i in range(n):
        for d in range(3):
            vd = v[i, d] * s
            vd += h * f[i, d]
            v[i, d] = vd
            x[i, d] += dt * vd


@njit(cache=True)
def kick_squared_speeds(v, f, h, n):
    """v ← v + h·F for the first ``n`` particles; returns their |v_i|² (n,) [sigma²/tau²].

    The second half-kick fused with the per-particle input of the thermostat's global sum
    (the same values as :func:`pel_hpc.md.observables.squared_speeds` after :func:`kick`).
    """
    out = np.empty(n)
    for i in range(n):
        for d in range(3):
            v[i, d] += h * f[i, d]
        out[i] = v[i, 0] * v[i, 0] + v[i, 1] * v[i, 1] + v[i, 2] * v[i, 2]
    return out
