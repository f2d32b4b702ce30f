"""Velocity-Verlet kernels (NVE); masses are 1.

.. math::

    v \\leftarrow v + \\tfrac{\\Delta t}{2} F,\\quad x \\leftarrow x + \\Delta t\\, v,
    \\quad F \\leftarrow F(x),\\quad v \\leftarrow v + \\tfrac{\\Delta t}{2} F

Units: Δt [tau], x [sigma], v [sigma/tau], F [epsilon/sigma].

References
----------
W. C. Swope, H. C. Andersen, P. H. Berens and K. R. Wilson, J. Chem. Phys. 76, 637 (1982).
"""
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
