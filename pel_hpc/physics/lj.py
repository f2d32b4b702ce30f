"""The truncated-and-shifted Lennard-Jones pair evaluator: the only place this formula lives.

.. math::

    u(r) = 4\\varepsilon\\left[(\\sigma/r)^{12} - (\\sigma/r)^6\\right] - u_c
           + (r - r_c)\\,F_c, \\qquad r < r_c,

with u_c = u_LJ(r_c) (energy shift, LAMMPS ``pair_modify shift yes``) and F_c = F_LJ(r_c)
for the force-shifted variant (F_c = 0 otherwise).  Energies in [epsilon], lengths in
[sigma], ``f_over_r`` = −u'(r)/r in [epsilon/sigma²].

The kernels evaluate it in powers of q = 1/r² with the pair constants folded in
(:data:`COEFF_COLUMNS`, one row per pair type, made by :func:`coefficients`):

.. math::

    f/r = q^4\\,(C_{12}\\,q^3 - C_6),\\qquad u = q^3\\,(E_{12}\\,q^3 - E_6) - u_c,

E_12 = 4εσ¹², E_6 = 4εσ⁶, C_12 = 12 E_12, C_6 = 6 E_6: one division and six
multiplications per pair, and the energy only when a step reports it (:func:`lj_force`
alone on the others).

References
----------
J. E. Jones, Proc. R. Soc. A 106, 463 (1924); S. Toxvaerd and J. C. Dyre,
J. Chem. Phys. 134, 081102 (2011) (shifted-force truncation).
"""
import numpy as np
from numba import njit

COEFF_COLUMNS = ("C12", "C6", "E12", "E6", "rc2", "ushift", "fc", "rc")


def coefficients(eps4, sig2, rc, ushift, fc) -> np.ndarray:
    """Pair constants (n_types, 8) in the order of :data:`COEFF_COLUMNS` from 4ε, σ², r_c, u_c, F_c (arrays)."""
    e12, e6 = eps4 * sig2**6, eps4 * sig2**3
    return np.ascontiguousarray(np.stack([12.0 * e12, 6.0 * e6, e12, e6, rc * rc, ushift, fc, rc], axis=1))


@njit(inline="always", cache=True)
def row(coeff, t):
    """The constants of pair type ``t`` as a tuple (loop-invariant scalars for the kernels)."""
    return (coeff[t, 0], coeff[t, 1], coeff[t, 2], coeff[t, 3], coeff[t, 4], coeff[t, 5], coeff[t, 6],
            coeff[t, 7])


@njit(inline="always", cache=True, error_model="numpy")
def lj_force(r2, p, force_shift):
    """``f_over_r`` of one pair at squared distance ``r2`` [sigma²] > 0, zero beyond the cut-off.

    ``p`` is :func:`row` of the pair type.  Branch-free in the cut-off test (a select), so
    LLVM vectorises the pair loop; ``force_shift`` (a constant after inlining) adds −F_c/r.
    """
    q = 1.0 / r2
    q3 = q * q * q
    f_over_r = q * q3 * (p[0] * q3 - p[1])
    if force_shift:
        f_over_r -= p[6] / np.sqrt(r2)
    return f_over_r if r2 < p[4] else 0.0


@njit(inline="always", cache=True, error_model="numpy")
def lj_energy_force(r2, p, force_shift):
    """``(f_over_r, u)`` of one pair (see :func:`lj_force`); both zero beyond the cut-off."""
    q = 1.0 / r2
    q3 = q * q * q
    f_over_r = q * q3 * (p[0] * q3 - p[1])
    u = q3 * (p[2] * q3 - p[3]) - p[5]
    if force_shift:
        r = np.sqrt(r2)
        f_over_r -= p[6] / r
        u += (r - p[7]) * p[6]
    inside = r2 < p[4]
    return (f_over_r if inside else 0.0), (u if inside else 0.0)
