r"""Continuous-time random walk (CTRW) between metabasins: D, τα, S0(t), eq. (4), eq. (A2), ξ.

Two kinds of functions: *measured* (from a sequence of MB waiting times) and *predicted* (from the
PEL parameters of :mod:`postprocess.landscape`, whose docstring fixes the sign convention of eq. (1)
used here).  Times in τ, lengths in σ, energies in ε, β = 1/T.

CTRW bookkeeping (Sect. II of the paper): p_eq(e) is the fraction of *time* spent in MBs of energy
e, so MBs are *entered* with probability ∝ p_eq(e)Γ(e).  Hence the MB-averaged moments are

.. math:: \langle\tau\rangle = 1/\langle\Gamma\rangle_{eq},\qquad
          \langle\tau^2\rangle = 2e^{\sigma_\gamma^2}\langle\Gamma^{-1}\rangle_{eq}/\langle\Gamma\rangle_{eq},\qquad
          \tau_\alpha = \frac{\langle\tau^2\rangle}{2\langle\tau\rangle} = e^{\sigma_\gamma^2}\langle\Gamma^{-1}\rangle_{eq},

with ⟨τⁿ(e)⟩ of eq. (2) (``landscape.waiting_time_moment``).  So ln D ∝ ln⟨Γ⟩ and ln τα ∝ ln⟨Γ⁻¹⟩
(eq. (A2)), and ln Dτα = ln⟨Γ⟩⟨Γ⁻¹⟩ + const (eq. (4)).

References
----------
Doliwa & Heuer, PRE 67, 031506 (2003); Heuer, J. Phys.: Condens. Matter 20, 373101 (2008).
"""
from __future__ import annotations

import numpy as np

from pel_hpc.errors import DeckError
from postprocess.landscape import PELParameters, TABLE_I, log_mean_rate_power


def _positive_times(waiting_times) -> np.ndarray:
    tau = np.asarray(waiting_times, dtype=float)
    if tau.ndim != 1 or tau.size == 0 or np.any(tau <= 0):
        raise DeckError("waiting_times must be a non-empty 1-d array of positive MB waiting times")
    return tau


def diffusion_constant(a2: float, n_particles: int, mean_tau: float) -> float:
    """D = a²/(6N⟨τ⟩), Sect. II of the paper [σ²/τ].

    ``a2`` is the mean total squared displacement Σ_i |Δr_i|² per MB transition [σ²].
    """
    return a2 / (6.0 * n_particles * mean_tau)


def jump_msd(mb_positions, n_jumps) -> np.ndarray:
    """⟨Σ_i |r_i(MB_{j+n}) − r_i(MB_j)|²⟩_j for each n in ``n_jumps`` [σ²] (total over particles).

    ``mb_positions`` (n_mb, N, 3): unwrapped configuration of each MB in visiting order.
    """
    r = np.asarray(mb_positions, dtype=float)
    return np.array([np.mean(np.sum((r[n:] - r[:-n]) ** 2, axis=(1, 2))) for n in n_jumps])


def jump_length_squared(mb_positions, n_min: int = 16, n_max: int | None = None) -> tuple[float, float]:
    """(a²_single, a²_eff) [σ²]: mean squared MB jump, and the slope of ``jump_msd`` in n for n ≥ n_min.

    a²_eff includes the back-and-forth correlations between successive MB jumps that the MB
    construction does not remove (strong at high T: a²_eff/a²_single ≈ 0.3 at T = 0.8 for N = 65);
    D = a²_eff/(6N⟨τ⟩) is the CTRW diffusion constant of a walk with those correlations.  Both equal
    for uncorrelated jumps.  ``n_max`` defaults to n_mb/4.
    """
    n_mb = len(mb_positions)
    n_max = max(n_mb // 4, n_min + 2) if n_max is None else n_max
    if n_mb < n_max + 2:
        raise DeckError(f"jump_length_squared needs more than {n_max + 2} MBs, got {n_mb}")
    single = float(jump_msd(mb_positions, [1])[0])
    n = np.unique(np.geomspace(n_min, n_max, 12).astype(int))
    slope = np.polyfit(n, jump_msd(mb_positions, n), 1)[0]
    return single, float(slope)


def tau_alpha(waiting_times) -> float:
    """τα = ⟨τ²⟩/(2⟨τ⟩) from MB waiting times, Sect. II of the paper [τ]."""
    tau = _positive_times(waiting_times)
    return float(np.mean(tau**2) / (2.0 * np.mean(tau)))


def persistence(t, waiting_times):
    """S0(t) of a renewal process with the given waiting times (stationary, random time origin).

    .. math:: S_0(t) = \\sum_i \\max(\\tau_i - t, 0) / \\sum_i \\tau_i ,\\qquad \\int_0^\\infty S_0\\,dt
              = \\langle\\tau^2\\rangle/2\\langle\\tau\\rangle .
    """
    tau = np.sort(_positive_times(waiting_times))
    t = np.asarray(t, dtype=float)
    suffix = np.concatenate([np.cumsum(tau[::-1])[::-1], [0.0]])  # Σ_{j≥i} τ_j
    idx = np.searchsorted(tau, t, side="right")
    count = tau.size - idx
    return (suffix[idx] - count * t) / tau.sum()


def persistence_from_jumps(t, jump_times, t_start: float, t_stop: float, n_origins: int = 100_000):
    """S0(t) measured on a trajectory: fraction of time origins with no MB transition in (t0, t0+t].

    ``jump_times`` [τ] are the MB transition times within [t_start, t_stop].  Origins are uniform in
    [t_start, last jump); an origin counts only if a later jump exists (no censored intervals).
    """
    jumps = np.sort(np.asarray(jump_times, dtype=float))
    if jumps.size < 2:
        raise DeckError("persistence_from_jumps needs at least two MB transitions")
    origins = np.linspace(t_start, jumps[-1], n_origins, endpoint=False)
    residual = jumps[np.searchsorted(jumps, origins, side="right")] - origins
    residual.sort()
    t = np.asarray(t, dtype=float)
    return 1.0 - np.searchsorted(residual, t, side="right") / residual.size


def predicted_mean_tau(beta, p: PELParameters = TABLE_I):
    """⟨τ⟩ = 1/⟨Γ⟩_eq, the MB-averaged waiting time predicted from the PEL [τ]."""
    return np.exp(-log_mean_rate_power(1, beta, p))


def predicted_tau_alpha(beta, p: PELParameters = TABLE_I):
    """τα = ⟨τ²⟩/(2⟨τ⟩) = e^{σ_γ²}⟨Γ⁻¹⟩_eq predicted from the PEL [τ]."""
    return np.exp(p.sigma_gamma**2 + log_mean_rate_power(-1, beta, p))


def predicted_diffusion(beta, a2: float, n_particles: int, p: PELParameters = TABLE_I):
    """D = a²⟨Γ⟩_eq/(6N) predicted from the PEL [σ²/τ]."""
    return diffusion_constant(a2, n_particles, predicted_mean_tau(beta, p))


def log_stokes_einstein(beta, p: PELParameters = TABLE_I, exact: bool = True):
    """ln⟨Γ⁻¹⟩⟨Γ⟩, eq. (4) of the paper (= ln Dτα up to a T-independent constant).

    .. math:: \\ln\\langle\\Gamma^{-1}\\rangle\\langle\\Gamma\\rangle = \\lambda^2\\sigma^2(\\beta + s\\kappa k_{entro})^2

    holds exactly for the untruncated single-branch Gaussian (``exact=False`` returns this
    formula); ``exact=True`` uses the closed form with e_c branch and e_cut.
    """
    if not exact:
        return (p.lam * p.sigma) ** 2 * (np.asarray(beta, float) + p.entropic_sign * p.kappa * p.k_entro) ** 2
    return log_mean_rate_power(1, beta, p) + log_mean_rate_power(-1, beta, p)


def appendix_a2(beta, p: PELParameters = TABLE_I):
    """Eq. (A2) of the paper in our convention: (ln⟨Γ/Γ0⟩, ln⟨Γ0/Γ⟩), untruncated, V0 = 0, e0 = 0.

    .. math:: \\ln\\langle\\Gamma\\rangle = \\tfrac12\\lambda\\sigma^2 (\\beta+s\\kappa k)[\\beta(\\lambda-2)+k(2+s\\lambda\\kappa)],\\quad
              \\ln\\langle\\Gamma^{-1}\\rangle = \\tfrac12\\lambda\\sigma^2 (\\beta+s\\kappa k)[\\beta(\\lambda+2)+k(s\\lambda\\kappa-2)]

    For s = −1 these are the printed A2 formulas.
    """
    beta = np.asarray(beta, dtype=float)
    k, s, lam, kap = p.k_entro, p.entropic_sign, p.lam, p.kappa
    pre = 0.5 * lam * p.sigma**2 * (beta + s * kap * k)
    return pre * (beta * (lam - 2.0) + k * (2.0 + s * lam * kap)), pre * (beta * (lam + 2.0) + k * (s * lam * kap - 2.0))


def xi_low_temperature(lam: float) -> float:
    """ξ = 2λ/(2+λ): Dτα ∼ τα^ξ for T → 0 (Sect. II of the paper; 0.4 for λ = 0.5)."""
    return 2.0 * lam / (2.0 + lam)


def xi_effective(beta, p: PELParameters = TABLE_I, liquid_branch: bool = True, dbeta: float = 1e-4):
    """Local exponent ξ(β) = d ln(Dτα)/d ln τα from the closed forms (central differences in β)."""
    beta = np.asarray(beta, dtype=float)

    def logs(b):
        lg1 = log_mean_rate_power(1, b, p, liquid_branch)
        lgm1 = log_mean_rate_power(-1, b, p, liquid_branch)
        return lg1 + lgm1, lgm1

    se_hi, ta_hi = logs(beta + dbeta)
    se_lo, ta_lo = logs(beta - dbeta)
    return (se_hi - se_lo) / (ta_hi - ta_lo)
