r"""Bond-orientational order and the solid-like criterion of ten Wolde, Ruiz-Montero & Frenkel (1996).

The one place these equations live: the preparation's crystal guard (:mod:`pel_hpc.preparation`) and the
post-processing crystallisation watch (:mod:`postprocess.crystal`) both call :func:`bond_order`.

For each particle i with neighbours j closer than ``r_cut`` (A–A: first minimum of g_AA ≈ 1.4 σ),

.. math:: q_{6m}(i) = \frac{1}{N_b(i)} \sum_j Y_{6m}(\hat r_{ij}), \qquad
          |q_6(i)| = \sqrt{\tfrac{4\pi}{13} \textstyle\sum_m |q_{6m}(i)|^2}, \qquad
          d_{ij} = \frac{\tfrac{4\pi}{13}\sum_m q_{6m}(i) q^*_{6m}(j)}{|q_6(i)|\,|q_6(j)|};

a bond is *crystal-like* when d_ij > ``BOND_DOT`` (0.7) and a particle *solid-like* with at least
``SOLID_BONDS`` (7) such bonds.  A perfect fcc crystal gives |q_6| = 0.5745 and a solid-like fraction of 1;
a liquid (or its inherent structures) a few per cent.  The global
:math:`Q_6 = \sqrt{4\pi/13 \sum_m |\bar q_{6m}|^2}`, with :math:`\bar q_{6m}` the bond average over all
particles, is reported too (Steinhardt, Nelson & Ronchetti 1983); for 52 A particles its liquid baseline
is ≈ 0.1.  A configuration is called crystalline when its solid-like fraction exceeds
``SOLID_FRACTION_FLAG`` (0.1; see its comment).

Neighbours are found by minimum image, so ``r_cut`` must be below half the shortest box edge.

References
----------
P. R. ten Wolde, M. J. Ruiz-Montero, D. Frenkel, J. Chem. Phys. 104, 9932 (1996);
P. J. Steinhardt, D. R. Nelson, M. Ronchetti, Phys. Rev. B 28, 784 (1983).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import factorial, pi, sqrt

import numpy as np
from numpy.polynomial import legendre

R_CUT = 1.4          # A-A neighbour distance [sigma]: first minimum of g_AA
BOND_DOT = 0.7       # d_ij above which a bond is crystal-like
SOLID_BONDS = 7      # crystal-like bonds of a solid-like particle
# Solid-like fraction above which a configuration is crystalline.  0.1, not the 0.2 often used for
# large systems: at N = 65 one A particle is 0.019 of the fraction; liquid inherent structures of the
# laptop study's ka65_T0.60 run stay <= 0.06 before it orders, while 84 % of its 300 lowest IS exceed 0.2
# and its lowest IS (0.154) comes from the ordered part.
SOLID_FRACTION_FLAG = 0.1
L_ORDER = 6  # the order l of the bond-orientational harmonics


def _y6_coefficients() -> np.ndarray:
    """(7, 7): column m = 0..6 holds the power series in z (row k: z^k) of (−1)^m N_6m d^m P_6/dz^m."""
    coef = np.zeros((L_ORDER + 1, L_ORDER + 1))
    for m in range(L_ORDER + 1):
        c = legendre.leg2poly(legendre.legder([0] * L_ORDER + [1], m))
        norm = sqrt((2 * L_ORDER + 1) / (4 * pi) * factorial(L_ORDER - m) / factorial(L_ORDER + m))
        coef[:c.size, m] = (-1) ** m * norm * c
    return coef


_Y6_POLY = _y6_coefficients()


def neighbour_bonds(x: np.ndarray, box: np.ndarray, r_cut: float):
    """All ordered pairs (i, j), i ≠ j, closer than ``r_cut`` [σ] by minimum image; with their unit vectors.

    Brute force O(N²): meant for a few frames of N ≤ a few thousand particles.
    """
    d = x[None, :, :] - x[:, None, :]
    d -= box * np.round(d / box)
    r2 = np.einsum("ijk,ijk->ij", d, d)
    np.fill_diagonal(r2, np.inf)
    i, j = np.nonzero(r2 < r_cut * r_cut)
    return i, j, d[i, j] / np.sqrt(r2[i, j])[:, None]


def spherical_harmonics_6(u: np.ndarray) -> np.ndarray:
    r"""Y_6m(û), m = −6..6, of unit vectors ``u`` (n, 3): (n, 13) complex, the Condon–Shortley phase.

    .. math:: Y_{6m}(\hat u) = (-1)^m N_{6m} (u_x + i u_y)^m \frac{d^m P_6}{dz^m}(u_z), \quad m \ge 0,
              \qquad Y_{6,-m} = (-1)^m Y_{6m}^*,

    with :math:`N_{6m} = \sqrt{13/(4\pi)\,(6-m)!/(6+m)!}`, since :math:`(1-z^2)^{m/2} e^{im\phi} = (u_x+iu_y)^m`
    on the unit sphere (equal to ``scipy.special.sph_harm_y``, about 20× faster).
    """
    w = np.repeat((u[:, 0] + 1j * u[:, 1])[:, None], L_ORDER + 1, axis=1)
    w[:, 0] = 1.0
    pos = (np.vander(u[:, 2], L_ORDER + 1, increasing=True) @ _Y6_POLY) * np.cumprod(w, axis=1)
    sign = (-1.0) ** np.arange(L_ORDER, 0, -1)
    return np.concatenate([sign * np.conj(pos[:, :0:-1]), pos], axis=1)


def q6_vectors(x: np.ndarray, box: np.ndarray, r_cut: float = R_CUT):
    """(q_6m(i) (n, 13) complex, N_b(i) (n,), bonds (i, j)) of every particle of ``x`` (n, 3) [σ]."""
    i, j, u = neighbour_bonds(x, box, r_cut)
    n = x.shape[0]
    nb = np.bincount(i, minlength=n)
    q = np.zeros((n, 2 * L_ORDER + 1), complex)
    rows, first = np.unique(i, return_index=True)  # i is sorted (row-major nonzero)
    if rows.size:
        q[rows] = np.add.reduceat(spherical_harmonics_6(u), first, axis=0)
    return q / np.maximum(nb, 1)[:, None], nb, (i, j)


def q6_norm(q: np.ndarray) -> np.ndarray:
    """|q_6| = sqrt(4π/13 Σ_m |q_6m|²) over the last axis of ``q`` (..., 13)."""
    return np.sqrt(4.0 * np.pi / 13.0 * np.sum(np.abs(q) ** 2, axis=-1))


@dataclass(frozen=True)
class BondOrder:
    """Bond-orientational order of one configuration: mean local q6, global Q6, solid-like fraction."""

    q6_local: float
    q6_global: float
    solid_fraction: float


def crystalline(solid_fraction: float) -> bool:
    """A configuration whose solid-like fraction exceeds :data:`SOLID_FRACTION_FLAG` is crystalline (NaN is not).

    The one criterion of the crystallisation watch and the preparation's crystal guard.
    """
    return bool(solid_fraction > SOLID_FRACTION_FLAG)


def bond_order(x: np.ndarray, box: np.ndarray, r_cut: float = R_CUT) -> BondOrder:
    """Order parameters of the particles ``x`` (n, 3) [σ] in the periodic ``box`` (3,) [σ] (module docstring)."""
    q, nb, (i, j) = q6_vectors(x, box, r_cut)
    norm = q6_norm(q)
    qbar = (q * nb[:, None]).sum(axis=0) / max(nb.sum(), 1)
    ok = norm[i] * norm[j] > 0
    dot = np.zeros(i.size)
    dot[ok] = 4.0 * np.pi / 13.0 * np.real(np.sum(q[i[ok]] * np.conj(q[j[ok]]), axis=1)) / (norm[i[ok]] * norm[j[ok]])
    bonds = np.bincount(i[dot > BOND_DOT], minlength=x.shape[0])
    return BondOrder(float(norm[nb > 0].mean()) if (nb > 0).any() else 0.0, float(q6_norm(qbar)),
                     float(np.mean(bonds >= SOLID_BONDS)))
