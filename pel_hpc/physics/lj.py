"""The truncated-and-shifted Lennard-Jones pair evaluator: the only place this formula lives.

.. math::

    u(r) = 4\\varepsilon\\left[(\\sigma/r)^{12} - (\\sigma/r)^6\\right] - u_c
           + (r - r_c)\\,F_c, \\qquad r < r_c,

with u_c = u_LJ(r_c) (energy shift, LAMMPS ``pair_modify shift yes``) and F_c = F_LJ(r_c)
for the force-shifted variant (F_c = 0 otherwise).  Energies in [epsilon], lengths in
[sigma], ``f_over_r`` = −u'(r)/r in [epsilon/sigma²].

References
----------
J. E. Jones, Proc. R. Soc. A 106, 463 (1924); S. Toxvaerd and J. C. Dyre,
J. Chem. Phys. 134, 081102 (2011) (shifted-force truncation).
"""
import numpy as np
from numba import njit


@njit(inline="always", cache=True, error_model="numpy")
def lj_energy_force(r2, eps4, sig2, rc2, ushift, fc, rc, force_shift):
    """Return ``(f_over_r, u)`` of one pair at squared distance ``r2``, zero beyond the cut-off.

    Branch-free in the cut-off test (a multiply by 0/1), so LLVM can vectorise the pair loop.

    Parameters
    ----------
    r2 : squared distance [sigma²], > 0
    eps4, sig2 : 4ε_αβ [epsilon], σ_αβ² [sigma²]
    rc2, rc : squared cut-off and cut-off [sigma², sigma]
    ushift : u_LJ(r_c) [epsilon]
    fc : F_LJ(r_c) for the force-shifted variant, else 0 [epsilon/sigma]
    force_shift : bool, adds the linear force-shift term (needs one sqrt)
    """
    inside = 1.0 if r2 < rc2 else 0.0
    r2inv = 1.0 / r2
    sr6 = sig2 * sig2 * sig2 * r2inv * r2inv * r2inv
    f_over_r = eps4 * (12.0 * sr6 * sr6 - 6.0 * sr6) * r2inv
    u = eps4 * (sr6 * sr6 - sr6) - ushift
    if force_shift:
        r = np.sqrt(r2)
        f_over_r -= fc / r
        u += (r - rc) * fc
    return inside * f_over_r, inside * u
