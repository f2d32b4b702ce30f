"""Kob–Andersen binary Lennard-Jones mixture: parameters, composition and pair tables.

.. math::

    u_{\\alpha\\beta}(r) = 4\\varepsilon_{\\alpha\\beta}\\left[(\\sigma_{\\alpha\\beta}/r)^{12}
    - (\\sigma_{\\alpha\\beta}/r)^{6}\\right],\\quad r < r_c\\,\\sigma_{\\alpha\\beta}

with ε_AA = 1, ε_AB = 1.5, ε_BB = 0.5, σ_AA = 1, σ_AB = 0.8, σ_BB = 0.88 and all masses 1
(Sect. II of the paper).  All values are in LJ units of the A particles.

The pair tables are indexed by the pair type ``pt = 2*typ_i + typ_j`` (0 = AA, 1 = AB,
2 = BA, 3 = BB) so the force kernel needs no branch on species.

References
----------
W. Kob and H. C. Andersen, Phys. Rev. E 51, 4626 (1995).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pel_hpc.errors import DeckError
from pel_hpc.physics.lj import coefficients, lj_energy_force

EPSILON = np.array([[1.0, 1.5], [1.5, 0.5]])  # [epsilon]
SIGMA = np.array([[1.0, 0.8], [0.8, 0.88]])  # [sigma]
MASS = 1.0  # [m], both species
FRACTION_A = 0.8
TRUNCATIONS = ("shift", "force_shift")


def composition(n: int, fraction_a: float = FRACTION_A) -> tuple[int, int]:
    """Numbers (N_A, N_B) with N_A = round-half-up(fraction_a·n): 52/13 for 65, 6656/1664 for 8320."""
    if n < 2 or not 0.0 < fraction_a <= 1.0:
        raise DeckError(f"system: need n >= 2 and 0 < fraction_a <= 1 (got n={n}, fraction_a={fraction_a})")
    n_a = int(np.floor(fraction_a * n + 0.5))
    return n_a, n - n_a


def types_for(n: int, fraction_a: float = FRACTION_A) -> np.ndarray:
    """Species by tag (int32, 0 = A, 1 = B): the first N_A tags are A."""
    n_a, _ = composition(n, fraction_a)
    typ = np.ones(n, dtype=np.int32)
    typ[:n_a] = 0
    return typ


@dataclass(frozen=True)
class PairTable:
    """Per-pair-type arrays (length 4, index ``2*typ_i + typ_j``) for the LJ evaluator.

    Attributes
    ----------
    eps4 : 4·ε_αβ [epsilon]
    sig2 : σ_αβ² [sigma²]
    rc : cut-off r_c·σ_αβ [sigma]
    rc2 : (r_c·σ_αβ)² [sigma²]
    ushift : u_LJ(r_c σ_αβ), subtracted from the energy [epsilon]
    fc : LJ radial force at the cut-off for ``force_shift`` (0 for ``shift``) [epsilon/sigma]
    force_shift : whether the force is shifted too
    cutoff : r_c in units of σ_αβ (dimensionless)
    coeff : (4, 8) the kernels' constants per pair type (:data:`pel_hpc.physics.lj.COEFF_COLUMNS`),
        derived from the fields above
    """

    eps4: np.ndarray
    sig2: np.ndarray
    rc: np.ndarray
    rc2: np.ndarray
    ushift: np.ndarray
    fc: np.ndarray
    force_shift: bool
    cutoff: float
    coeff: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        """Derive the kernels' constants from the fields (also after ``dataclasses.replace``)."""
        object.__setattr__(self, "coeff", coefficients(self.eps4, self.sig2, self.rc, self.ushift, self.fc))

    @property
    def rc_max(self) -> float:
        """Largest cut-off over the pair types [sigma]."""
        return float(self.rc.max())


def pair_table(cutoff: float = 2.5, truncation: str = "shift") -> PairTable:
    """Build the KA pair table for cut-off ``cutoff``·σ_αβ and the given truncation.

    ``shift`` equals LAMMPS ``pair_style lj/cut`` with ``pair_modify shift yes``;
    ``force_shift`` uses u(r) − u(r_c) + (r − r_c)·F(r_c), continuous in force.
    """
    if truncation not in TRUNCATIONS:
        raise DeckError(f"system.truncation must be one of {TRUNCATIONS} (got {truncation!r})")
    if not cutoff > 0.0:
        raise DeckError(f"system.cutoff must be > 0 (got {cutoff})")
    eps4 = 4.0 * EPSILON.reshape(4)
    sig2 = SIGMA.reshape(4) ** 2
    rc = cutoff * SIGMA.reshape(4)
    zero = np.zeros(4)
    untruncated = coefficients(eps4, sig2, np.full(4, np.inf), zero, zero)
    u_c, f_c = np.empty(4), np.empty(4)
    for t in range(4):  # u_LJ and F_LJ at r_c from the one evaluator
        f_over_r, u = lj_energy_force(rc[t] ** 2, untruncated[t], False)
        u_c[t], f_c[t] = u, f_over_r * rc[t]
    fc = f_c if truncation == "force_shift" else zero
    return PairTable(eps4, sig2, rc, rc**2, u_c, fc, truncation == "force_shift", float(cutoff))
