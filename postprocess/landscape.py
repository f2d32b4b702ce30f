r"""The potential energy landscape (PEL) model of the minimum system: G(e), p_eq, Γ(e), ϖ(γ,e), ⟨Γⁿ⟩.

This module is the single home of the PEL formulas of Sect. II and Appendix A of the paper
(``../shared/paper.txt``) and of THE sign convention used everywhere (Table I fit, CTRW
predictions, CLM).  Energies ``e`` are total metabasin (MB) energies of the 65-particle system
relative to the DOS centre (Table I: ``e0 = 0``), in ε; β = 1/T in 1/ε; rates in 1/τ (LJ time).

Stable API (imported by ``postprocess/clm`` and the rest of ``postprocess``)
--------------------------------------------------------------------------------
``PELParameters``            frozen dataclass (sigma, lam, e_c, kappa, gamma0, e_cut, sigma_gamma, e0, v0,
                             entropic_sign); property ``k_entro``; ``TABLE_I`` is the paper's Table I.
``dos(e, p)``                G(e): Gaussian (centre e0, width σ) cut off below e_cut, unit integral.
``p_eq(e, beta, p)``         equilibrium MB-energy density ∝ G(e) e^{−βe} (unit integral).
``log_escape_rate(e, beta, p, liquid_branch=True)`` and ``escape_rate``: Γ(e), eq. (1).
``log_mean_rate_power(n, beta, p, liquid_branch=True)`` and ``mean_rate_power``: ⟨Γⁿ⟩ over p_eq,
                             closed form (erfc), valid for any real n, any e_cut (−inf = no cut-off).
``mean_rate_power_appendix(n, beta, p)``  the untruncated single-branch form, our corrected eq. (A1).
``mean_rate_power_quad(...)`` the same average by adaptive quadrature of eq. (1) (independent check).
``rate_pdf(gamma, e, beta, p)`` ϖ(γ,e), eq. (2) log-normal; ``waiting_time_moment(n, e, beta, p)``.
``sample_p_eq(rng, size, beta, p)``  energies drawn from p_eq; ``sample_rates(rng, e, beta, p)`` γ from ϖ.

Conventions (the one place they are stated)
-------------------------------------------
**Eq. (1) with an explicit sign s = ``entropic_sign`` of the entropic term**

.. math:: \Gamma(e)/\Gamma_0 = e^{-\beta V_0}\,\exp[\lambda(\beta + s\,\kappa k_{entro})(e-e_c)]
          \ (e<e_c),\qquad e^{-\beta V_0}\ (e\ge e_c),\qquad k_{entro}=(e_0-e_c)/\sigma^2 > 0.

The paper prints s = +1 in eq. (1).  We use **s = −1** (``ENTROPIC_SIGN``).  The whole paper becomes
consistent if its *definition* k_entro = (e0 − e_c)/σ² carries the sign slip: with
k' = (e_c − e0)/σ² = −k_entro < 0, eq. (1) "λ(β + κk')", eq. (4) "λ²σ²(β + κk')²" and
"β0 = −k'" are exactly our s = −1 formulas, and eqs. (A1)/(A2), written with the positive
magnitude k_entro, are too.  Evidence, each checked by a test or a number below:

1. Appendix A: expanding our closed form for the untruncated single branch gives
   ln⟨(Γ/Γ0)ⁿ⟩ = (n/2)λσ²[(nλ−2)β² + k²κ(nλκ+2s) + 2βk(1 − sκ + snλκ)]; for s = −1 it reproduces eq. (A1) term by term
   (and eq. (A2) for n = ±1) — with V = −V0, i.e. A1's "V" enters with the opposite sign of
   eq. (1)'s e^{−βV0}.  For s = +1, A1 and A2 are not recovered (the k² term becomes k²κ(nλκ+2)).
2. λ = κ = 1, "well-known quadratic behaviour τα ∝ exp[σ²(β−β0)²]": with s = −1 the typical rate
   at the most probable energy e* = −βσ² is ln(Γ/Γ0) = −σ²(β−k_entro)², a perfect square, and all
   ln⟨Γⁿ⟩ are ∝ (β−k_entro)² exactly.  With s = +1 one gets σ²(β²−k²), never a square.  So
   β0 = +κ k_entro with the printed (positive) k_entro, i.e. β0 = −k' as printed.
3. The text's own wording: "the number of escape paths from a MB increases exponentially with
   decreasing MB energy" — only s = −1 raises Γ as e decreases at fixed β.
4. Stokes–Einstein, eq. (4): ln⟨Γ⟩⟨Γ⁻¹⟩ = λ²σ²(β + sκk)² (exact for the Gaussian, see tests).  With
   the printed positive k and s = +1 this is 16.4 at T = 0.5 (Table I), i.e. Dτα decoupled by 10⁷,
   far beyond any SE violation seen in KA; s = −1 gives 3.07 (a factor ≈ 20).
5. The one statement that favours s = +1 (with positive k_entro) is the "standard deviation of p(log Γ)
   at T = 0.5 ≈ 4.4": with e_c branch, e_cut and σ_γ = 1 the std of ln γ is 3.97 for s = +1 and 1.94
   for s = −1 (whose *variance*, 3.77, is near 4.4; in log10 neither fits: 1.73 and 0.84).
   The low-T exponent ξ = 2λ/(2+λ) is independent of s (only the β² terms survive); at T = 0.5 the
   local exponent d ln Dτα/d ln τα is 0.51 (s = −1) or 0.58 (s = +1), not yet at its limit 0.4.
6. Our MD decides for s = −1 (N = 65, r_c = 1.8, NVT; first pair of runs IS every 0.5 τ, 2000 τ at
   T = 0.6 (1370 MBs) and 5000 τ at T = 0.5 (682 MBs); a second pair from ``pel_hpc run`` decks,
   1000 τ / 3000 τ; numbers in the post report of 2026-11-25):
   * T-dependence with Table I: τα(0.5)/τα(0.6) is predicted 13.6 (s = −1) or 84 (s = +1); measured
     15.0 (KWW of S_MB(k = 400)) and 12.3 (A particles, k = 7.25).  ⟨τ⟩(0.5)/⟨τ⟩(0.6): predicted 3.11
     or 4.12, measured 3.2.  Dτα(0.5)/Dτα(0.6): predicted 4.4 or 20, measured 2.0–2.6.
   * Fitting eq. (1) to our ln⟨τ(e)⟩ at both T (``pel_fit``, s = −1) gives κ = +0.88 ± 0.19 (so
     sκ < 0 at 4.7σ), λ = 0.47 ± 0.17, σ_γ = 1.07 ± 0.27, e_c − e0 = −14 and σ = 3.1 (IS frames),
     close to Table I; s = +1 would need κ = −0.88.  The second pair gives κ = +0.93 ± 0.23.
     (The second pair's τα ratio is only 4.2: at T = 0.5 our runs hold a few τα, so ratios scatter.)
   * Absolute scale: with quenches every 0.05 τ the liquid-like plateau is ln⟨τ⟩ ≈ −1.6 at T = 0.6,
     i.e. Γ0 ≈ 5/τ, as Table I's 4.82 in LJ time; but our τα (⟨τ²⟩/2⟨τ⟩: 17–29 at T = 0.6, 86–116 at
     0.5; KWW of S_MB(400): 28–55 and 118–825) exceeds the s = −1 prediction (3.2, 44) by 2–18×
     (s = +1: 2579, 2.2·10⁵, too large by 10²–10³).  Runs of 10³ τ hold few α times: errors are large.

Choose the other reading with ``PELParameters(entropic_sign=+1)``; every function honours it.
Note that a fit of Γ(e) to MD data determines only the product sκ (``pel_fit`` with s = −1 returning
κ < 0 would mean the data prefer the printed s = +1 with |κ|): the data's verdict is the sign of the
fitted entropic coefficient, i.e. whether d ln Γ/de at fixed β is below (s = −1) or above λβ.

**V0.**  Table I gives no V0: we absorb e^{−βV0} into Γ0 and set ``v0 = 0`` for Table I.
``pel_fit`` can fit V0 when several temperatures are combined (then Γ0 is the β→0 rate).

**G(e).**  The printed G(e) ∼ exp[−(e−e0)/2σ²] lacks the square: we use exp[−(e−e0)²/2σ²] for
e ≥ e_cut and 0 below (the extra factor exp[−(e−e_cut)µ] is neglected, as in the paper's
analytical results).  Then p_eq is a Gaussian of mean e0 − βσ², width σ, truncated at e_cut.

**ϖ(γ,e) and Γ(e).**  ln γ is normal with variance σ_γ² (eq. (2)); we define Γ(e) ≡ 1/⟨τ(e)⟩,
the measurable quantity, so the mean of ln γ is µ(e) = ln Γ(e) + σ_γ²/2 and
⟨τⁿ(e)⟩ = n! Γ(e)⁻ⁿ exp[n(n−1)σ_γ²/2] (eq. (2) rewritten; eq. (3) then gives back σ_γ).

References
----------
Doliwa & Heuer, PRE 67, 031506 (2003); Heuer, J. Phys.: Condens. Matter 20, 373101 (2008).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import integrate, special

from pel_hpc.errors import DeckError

ENTROPIC_SIGN = -1
"""The sign s of the entropic term κ k_entro in eq. (1) used by default (see the module docstring)."""

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class PELParameters:
    """PEL parameters of eq. (1), eq. (2) and G(e) (defaults: the paper's Table I, N = 65).

    Attributes
    ----------
    sigma : float        DOS width σ [ε] (total MB energy of the 65-particle system).
    lam : float          λ, exponent prefactor of eq. (1) (1/M for M independent subsystems).
    e_c : float          crossover energy e_c [ε] (relative to e0 = 0 in Table I).
    kappa : float        κ, weight of the entropic term.
    gamma0 : float       Γ0 [1/τ], overall rate scale (with V0 absorbed when ``v0 = 0``).
    e_cut : float        low-energy DOS cut-off [ε]; ``-inf`` switches it off.
    sigma_gamma : float  σ_γ, standard deviation of ln γ at fixed e (eq. (2)).
    e0 : float           DOS centre [ε].
    v0 : float           last barrier V0 [ε] of eq. (1) (Table I: absorbed into Γ0, so 0).
    entropic_sign : int  s = ±1 of the entropic term of eq. (1) (default ``ENTROPIC_SIGN``).
    """

    sigma: float = 2.9
    lam: float = 0.50
    e_c: float = -11.9
    kappa: float = 0.56
    gamma0: float = 4.82
    e_cut: float = -25.0
    sigma_gamma: float = 1.0
    e0: float = 0.0
    v0: float = 0.0
    entropic_sign: int = ENTROPIC_SIGN

    def __post_init__(self):
        if not self.sigma > 0:
            raise DeckError(f"PELParameters.sigma must be > 0, got {self.sigma}")
        if not self.gamma0 > 0:
            raise DeckError(f"PELParameters.gamma0 must be > 0, got {self.gamma0}")
        if self.entropic_sign not in (-1, 1):
            raise DeckError(f"PELParameters.entropic_sign must be +1 or -1, got {self.entropic_sign}")
        if not self.e_cut < self.e_c:
            raise DeckError(f"PELParameters.e_cut ({self.e_cut}) must lie below e_c ({self.e_c})")
        if self.sigma_gamma < 0:
            raise DeckError(f"PELParameters.sigma_gamma must be >= 0, got {self.sigma_gamma}")

    @property
    def k_entro(self) -> float:
        """k_entro = (e0 − e_c)/σ² [1/ε], defined below eq. (1) of the paper."""
        return (self.e0 - self.e_c) / self.sigma**2

    def replace(self, **changes) -> "PELParameters":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


TABLE_I = PELParameters()
"""Table I of the paper (N = 65, e0 = 0), V0 absorbed into Γ0, our sign convention s = −1."""


def _slope(beta, p: PELParameters):
    """λ(β + s κ k_entro): d ln Γ / de below e_c, eq. (1)."""
    return p.lam * (np.asarray(beta, dtype=float) + p.entropic_sign * p.kappa * p.k_entro)


def dos(e, p: PELParameters = TABLE_I):
    """G(e), Gaussian DOS with cut-off, normalised to unit integral over e ≥ e_cut.

    .. math:: G(e) \\propto \\exp[-(e-e_0)^2/2\\sigma^2]\\,\\theta(e-e_{cut})

    (Sect. II of the paper, with the missing square restored.)  ``e`` in ε, result in 1/ε.
    """
    e = np.asarray(e, dtype=float)
    z = (e - p.e0) / p.sigma
    norm = special.ndtr(-(p.e_cut - p.e0) / p.sigma) * p.sigma * math.sqrt(2.0 * math.pi)
    return np.where(e >= p.e_cut, np.exp(-0.5 * z * z) / norm, 0.0)


def p_eq(e, beta, p: PELParameters = TABLE_I):
    """Equilibrium density of MB energies, p_eq(e, β) ∝ G(e) e^{−βe}, unit integral [1/ε].

    A Gaussian of mean e0 − βσ² and width σ truncated below e_cut.
    """
    e = np.asarray(e, dtype=float)
    mean = p.e0 - np.asarray(beta, dtype=float) * p.sigma**2
    z = (e - mean) / p.sigma
    norm = special.ndtr((mean - p.e_cut) / p.sigma) * p.sigma * math.sqrt(2.0 * math.pi)
    return np.where(e >= p.e_cut, np.exp(-0.5 * z * z) / norm, 0.0)


def log_escape_rate(e, beta, p: PELParameters = TABLE_I, liquid_branch: bool = True):
    """ln Γ(e) of eq. (1) of the paper, with the sign convention of this module [ln(1/τ)].

    .. math:: \\ln\\Gamma = \\ln\\Gamma_0 - \\beta V_0 + \\lambda(\\beta + s\\kappa k_{entro})\\min(e-e_c, 0)

    ``liquid_branch=False`` continues the activated branch above e_c (no saturation).
    """
    de = np.asarray(e, dtype=float) - p.e_c
    if liquid_branch:
        de = np.minimum(de, 0.0)
    beta = np.asarray(beta, dtype=float)
    return math.log(p.gamma0) - beta * p.v0 + _slope(beta, p) * de


def escape_rate(e, beta, p: PELParameters = TABLE_I, liquid_branch: bool = True):
    """Γ(e), eq. (1) of the paper (see :func:`log_escape_rate`) [1/τ]."""
    return np.exp(log_escape_rate(e, beta, p, liquid_branch))


def _log_ndtr_diff(hi, lo):
    """ln[Φ(hi) − Φ(lo)] for hi ≥ lo, accurate in both tails."""
    hi, lo = np.broadcast_arrays(np.asarray(hi, float), np.asarray(lo, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        upper = special.log_ndtr(-lo) + np.log1p(-np.exp(special.log_ndtr(-hi) - special.log_ndtr(-lo)))
        lower = special.log_ndtr(hi) + np.log1p(-np.exp(special.log_ndtr(lo) - special.log_ndtr(hi)))
    return np.where(lo > 0, upper, lower)


def _log_gauss_integral(c, lo, hi, p: PELParameters):
    """ln ∫_lo^hi exp[−(e−e0)²/2σ² + c e] de (completed square, erfc form)."""
    c = np.asarray(c, dtype=float)
    m = p.e0 + c * p.sigma**2
    return (c * p.e0 + 0.5 * c * c * p.sigma**2 + _LOG_SQRT_2PI + math.log(p.sigma)
            + _log_ndtr_diff((hi - m) / p.sigma, (lo - m) / p.sigma))


def log_mean_rate_power(n, beta, p: PELParameters = TABLE_I, liquid_branch: bool = True):
    """ln⟨Γⁿ⟩ over p_eq(e, β), closed form (generalised eq. (A1) of the paper).

    .. math:: \\langle\\Gamma^n\\rangle = \\Gamma_0^n e^{-n\\beta V_0}
       \\frac{e^{-a e_c}I(a-\\beta; e_{cut}, e_c) + I(-\\beta; e_c, \\infty)}{I(-\\beta; e_{cut}, \\infty)},
       \\quad a = n\\lambda(\\beta + s\\kappa k_{entro}),

    with I(c; l, u) = ∫_l^u exp[−(e−e0)²/2σ² + ce] de (an erfc).  Any real n; ``beta`` may be an array.
    ``liquid_branch=False`` extends the activated branch to all e (then e_c only enters via k_entro).
    """
    beta = np.asarray(beta, dtype=float)
    a = n * _slope(beta, p)
    hi_activated = p.e_c if liquid_branch else np.inf
    log_num = -a * p.e_c + _log_gauss_integral(a - beta, p.e_cut, hi_activated, p)
    if liquid_branch:
        log_num = np.logaddexp(log_num, _log_gauss_integral(-beta, p.e_c, np.inf, p))
    log_den = _log_gauss_integral(-beta, p.e_cut, np.inf, p)
    return n * (math.log(p.gamma0) - beta * p.v0) + log_num - log_den


def mean_rate_power(n, beta, p: PELParameters = TABLE_I, liquid_branch: bool = True):
    """⟨Γⁿ⟩ over p_eq(e, β), closed form (see :func:`log_mean_rate_power`) [τ⁻ⁿ]."""
    return np.exp(log_mean_rate_power(n, beta, p, liquid_branch))


def mean_rate_power_appendix(n, beta, p: PELParameters = TABLE_I):
    """Eq. (A1) of the paper in our convention: untruncated Gaussian, activated branch for all e.

    .. math:: \\ln\\langle(\\Gamma/\\Gamma_0)^n\\rangle = \\frac{n}{2}\\lambda\\sigma^2\\Big[(n\\lambda-2)\\beta^2
       + k^2\\kappa(n\\lambda\\kappa+2s)\\Big] + n\\lambda\\sigma^2\\beta k\\,[1 - s\\kappa + s n\\lambda\\kappa]
       - n\\beta V_0 ,\\quad k = k_{entro},\\ e_0 = 0.

    For s = −1 this is the printed eq. (A1) with V = −V0.  Requires e0 = 0 (as in the paper).
    Returns ln⟨(Γ/Γ0)ⁿ⟩.
    """
    if p.e0 != 0.0:
        raise DeckError(f"eq. (A1) assumes e0 = 0, got e0 = {p.e0}")
    beta = np.asarray(beta, dtype=float)
    k, s, lam, kap = p.k_entro, p.entropic_sign, p.lam, p.kappa
    square = (n * lam - 2.0) * beta**2 + k * k * kap * (n * lam * kap + 2.0 * s)
    cross = 2.0 * beta * k * (1.0 - s * kap + s * n * lam * kap)
    return 0.5 * n * lam * p.sigma**2 * (square + cross) - n * beta * p.v0


def mean_rate_power_quad(n, beta: float, p: PELParameters = TABLE_I, liquid_branch: bool = True) -> float:
    """ln⟨Γⁿ⟩ by adaptive quadrature of ``dos``·e^{−βe}·``escape_rate``ⁿ (independent check of A1)."""
    beta = float(beta)
    mean = p.e0 + (n * float(_slope(beta, p)) - beta) * p.sigma**2
    lo = max(p.e_cut, min(mean, p.e0 - beta * p.sigma**2) - 40.0 * p.sigma)
    hi = max(mean, p.e0 - beta * p.sigma**2) + 40.0 * p.sigma
    grid = np.linspace(lo, hi, 4001)

    def log_f(e, power):
        with np.errstate(divide="ignore"):
            return np.log(dos(e, p)) - beta * e + power * log_escape_rate(e, beta, p, liquid_branch)

    def log_int(power):
        shift = np.max(log_f(grid, power))
        pts = [x for x in (p.e_c, p.e_cut) if lo < x < hi]
        val, _ = integrate.quad(lambda e: math.exp(log_f(e, power) - shift), lo, hi,
                                points=pts or None, limit=400, epsabs=0.0, epsrel=1e-11)
        return math.log(val) + shift

    return log_int(n) - log_int(0)


def rate_pdf(gamma, e, beta, p: PELParameters = TABLE_I):
    """ϖ(γ, e): log-normal density of MB escape rates at fixed energy, eq. (2) of the paper [τ].

    ln γ ~ N(µ(e), σ_γ²) with µ(e) = ln Γ(e) + σ_γ²/2, so that ⟨1/γ⟩ = 1/Γ(e) = ⟨τ(e)⟩.
    """
    gamma = np.asarray(gamma, dtype=float)
    mu = log_escape_rate(e, beta, p) + 0.5 * p.sigma_gamma**2
    z = (np.log(gamma) - mu) / p.sigma_gamma
    return np.exp(-0.5 * z * z) / (gamma * p.sigma_gamma * math.sqrt(2.0 * math.pi))


def waiting_time_moment(n: int, e, beta, p: PELParameters = TABLE_I):
    """⟨τⁿ(e)⟩_ϖ = n! exp[n²σ_γ²]/⟨γⁿ⟩_ϖ = n! Γ(e)⁻ⁿ exp[n(n−1)σ_γ²/2], eq. (2) of the paper [τⁿ]."""
    return math.factorial(n) * np.exp(-n * log_escape_rate(e, beta, p) + 0.5 * n * (n - 1) * p.sigma_gamma**2)


def sample_p_eq(rng: np.random.Generator, size, beta: float, p: PELParameters = TABLE_I):
    """Draw MB energies from p_eq(e, β) (truncated Gaussian) by inverse-CDF sampling [ε]."""
    mean = p.e0 - float(beta) * p.sigma**2
    lo = special.ndtr((p.e_cut - mean) / p.sigma)
    u = lo + (1.0 - lo) * rng.random(size)
    return mean + p.sigma * special.ndtri(u)


def sample_rates(rng: np.random.Generator, e, beta: float, p: PELParameters = TABLE_I):
    """Draw escape rates γ from ϖ(γ, e) of eq. (2) for each energy in ``e`` [1/τ]."""
    mu = log_escape_rate(e, beta, p) + 0.5 * p.sigma_gamma**2
    return np.exp(mu + p.sigma_gamma * rng.standard_normal(np.shape(e)))
