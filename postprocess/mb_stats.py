r"""Metabasin statistics: ⟨τ(e)⟩, ⟨τ²(e)⟩, S(e), σ_γ (eq. (3)), and the DOS G(e) from MB energies.

Inputs are completed MB waiting times τ_i [τ] and MB energies e_i [ε] (total energies of the
N-particle system; see :mod:`postprocess.metabasins` for how incomplete MBs at the run ends are
dropped).  Conventions of the PEL model (sign of eq. (1), e_cut, Γ(e) ≡ 1/⟨τ(e)⟩) are those of
:mod:`postprocess.landscape`.

* Binned moments: ⟨τⁿ(e)⟩ over MBs with e_i in a bin, S(e) = ⟨τ²⟩/⟨τ⟩² − 1.
* Eq. (3): σ_γ² = ln[⟨τ²(e)⟩/(2⟨τ(e)⟩²)] per bin; the pooled value uses τ_i/⟨τ(e_i)⟩ from a
  smooth fit of ln⟨τ(e)⟩, which removes the spread of Γ within a finite bin.
* DOS: the fraction of *time* spent in MBs of energy e is p_eq(e, β) ∝ G(e)e^{−βe} (each MB weighted by
  its τ_i).  A truncated-Gaussian maximum likelihood over all temperatures at once gives e0 and σ
  (the exp(−βe) reweighting is in the likelihood); e_cut is taken as the lowest MB energy seen
  (an upper bound of the true cut-off).

References
----------
Doliwa & Heuer, PRE 67, 031506 (2003); Heuer, J. Phys.: Condens. Matter 20, 373101 (2008).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from pel_hpc.errors import DeckError


@dataclass(frozen=True)
class BinnedWaitingTimes:
    """Moments of MB waiting times in energy bins (arrays of length n_bins) at one temperature.

    ``log_tau_err`` is the standard error of ln⟨τ⟩ (from the sample variance of τ).
    """

    beta: float
    edges: np.ndarray
    centre: np.ndarray
    count: np.ndarray
    mean_energy: np.ndarray
    mean_tau: np.ndarray
    mean_tau2: np.ndarray
    log_tau_err: np.ndarray

    @property
    def s_e(self) -> np.ndarray:
        """S(e) = ⟨τ²(e)⟩/⟨τ(e)⟩² − 1 (1 for a pure rate process)."""
        return self.mean_tau2 / self.mean_tau**2 - 1.0

    @property
    def sigma_gamma2(self) -> np.ndarray:
        """σ_γ² per bin from eq. (3) of the paper: ln[⟨τ²⟩/(2⟨τ⟩²)]."""
        return np.log(self.mean_tau2 / (2.0 * self.mean_tau**2))


def _check(energy, tau):
    energy, tau = np.asarray(energy, float), np.asarray(tau, float)
    if energy.shape != tau.shape or energy.ndim != 1 or energy.size == 0:
        raise DeckError("MB energies and waiting times must be 1-d arrays of equal, non-zero length")
    if np.any(tau <= 0):
        raise DeckError("MB waiting times must be positive")
    return energy, tau


def bin_waiting_times(energy, tau, beta: float, edges, min_count: int = 20) -> BinnedWaitingTimes:
    """⟨τ(e)⟩, ⟨τ²(e)⟩ in the energy bins ``edges`` [ε]; bins with < ``min_count`` MBs are dropped."""
    energy, tau = _check(energy, tau)
    edges = np.asarray(edges, float)
    idx = np.digitize(energy, edges) - 1
    ok = (idx >= 0) & (idx < edges.size - 1)
    nb = edges.size - 1

    def bsum(w):
        return np.bincount(idx[ok], weights=w[ok], minlength=nb)

    count = bsum(np.ones_like(tau))
    keep = count >= max(min_count, 2)
    c = count[keep]
    m1, m2 = bsum(tau)[keep] / c, bsum(tau**2)[keep] / c
    var = np.maximum(m2 - m1**2, 0.0) * c / (c - 1)
    return BinnedWaitingTimes(beta=float(beta), edges=edges, centre=0.5 * (edges[1:] + edges[:-1])[keep],
                              count=c.astype(int), mean_energy=bsum(energy)[keep] / c, mean_tau=m1,
                              mean_tau2=m2, log_tau_err=np.sqrt(var / c) / m1)


def sigma_gamma(energy, tau, beta: float, edges, min_count: int = 20) -> tuple[float, float]:
    """σ_γ from eq. (3) pooled over bins: (value, standard error).

    τ_i is divided by a smooth ⟨τ(e_i)⟩ (quadratic fit of ln⟨τ⟩ vs e over the bins, count-weighted),
    then σ_γ² = ln[⟨x²⟩/2] with x = τ/⟨τ(e)⟩ (⟨x⟩ = 1 by construction).  Error by bootstrap-free
    delta method on ⟨x²⟩.
    """
    energy, tau = _check(energy, tau)
    b = bin_waiting_times(energy, tau, beta, edges, min_count)
    if b.centre.size < 3:
        raise DeckError("sigma_gamma needs at least three populated energy bins")
    coef = np.polyfit(b.mean_energy, np.log(b.mean_tau), 2, w=np.sqrt(b.count))
    inside = (energy >= b.edges[0]) & (energy < b.edges[-1])
    x = tau[inside] / np.exp(np.polyval(coef, energy[inside]))
    x /= x.mean()
    m2 = np.mean(x**2)
    sig2 = np.log(m2 / 2.0)
    err = np.std(x**2) / np.sqrt(x.size) / m2 / (2.0 * np.sqrt(max(sig2, 1e-12)))
    return float(np.sqrt(max(sig2, 0.0))), float(err)


@dataclass(frozen=True)
class DOSFit:
    """Gaussian DOS fit: centre e0, width σ [ε], cut-off e_cut [ε], with standard errors."""

    e0: float
    sigma: float
    e_cut: float
    e0_err: float
    sigma_err: float


def _dos_nll(theta, energies, weights, betas, e_cut):
    e0, log_sig = theta
    sig = np.exp(log_sig)
    total = 0.0
    for e, w, b in zip(energies, weights, betas):
        mean = e0 - b * sig**2
        z = (e - mean) / sig
        log_norm = np.log(sig) + special.log_ndtr((mean - e_cut) / sig)
        total -= np.sum(w * (-0.5 * z * z - log_norm))
    return total


def fit_dos(energies, weights, betas, e_cut: float | None = None) -> DOSFit:
    """Fit G(e) ∝ exp[−(e−e0)²/2σ²], e ≥ e_cut, to MB energies at one or several temperatures.

    Parameters
    ----------
    energies, weights : lists of 1-d arrays, one per temperature: MB energies [ε] and their time
        weights (waiting times τ_i [τ], or 1 per IS frame when frames are used).
    betas : list of float      1/T of each set.
    e_cut : float, optional    default: lowest energy seen.

    The likelihood is that of p_eq(e, β) = G(e)e^{−βe}/Z(β) (truncated Gaussian of mean e0 − βσ²),
    with the weights normalised to the effective number of independent MBs of each set.
    """
    if not (len(energies) == len(weights) == len(betas)) or len(betas) == 0:
        raise DeckError("fit_dos needs one energy array, weight array and beta per temperature")
    energies = [np.asarray(e, float) for e in energies]
    ws = []
    for w in weights:
        w = np.asarray(w, float)
        ws.append(w * (w.sum() / np.sum(w**2)))  # Kish effective sample size
    cut = min(e.min() for e in energies) if e_cut is None else float(e_cut)
    allw = np.concatenate(ws)
    e_mean = np.sum(np.concatenate(energies) * allw) / allw.sum()
    x0 = np.array([e_mean + np.mean(betas) * 9.0, np.log(3.0)])
    res = optimize.minimize(_dos_nll, x0, args=(energies, ws, betas, cut), method="BFGS")
    cov = np.linalg.inv(numerical_hessian(lambda t: _dos_nll(t, energies, ws, betas, cut), res.x))
    sig = float(np.exp(res.x[1]))
    return DOSFit(e0=float(res.x[0]), sigma=sig, e_cut=cut, e0_err=float(np.sqrt(cov[0, 0])),
                  sigma_err=float(sig * np.sqrt(cov[1, 1])))


def numerical_hessian(f, x, step: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of a scalar function f at x (for likelihood error bars)."""
    x = np.asarray(x, float)
    n = x.size
    h = step * np.maximum(1.0, np.abs(x))
    hess = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * h[i], np.eye(n)[j] * h[j]
            val = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
            hess[i, j] = hess[j, i] = val
    return hess


def reweighted_log_dos(energies, weights, betas, edges, fit: DOSFit):
    """ln G(e) from each temperature's time-weighted MB-energy histogram, reweighted by e^{βe}.

    Returns (centres, list of ln G arrays with NaN in empty bins); each temperature's unknown
    constant (ln Z(β)) is fixed by matching the fitted Gaussian ``fit`` in its populated bins,
    so curves from different T overlap where the data agree with one G(e).
    """
    edges = np.asarray(edges, float)
    centres = 0.5 * (edges[1:] + edges[:-1])
    model = -0.5 * ((centres - fit.e0) / fit.sigma) ** 2
    out = []
    for e, w, b in zip(energies, weights, betas):
        hist, _ = np.histogram(np.asarray(e, float), bins=edges, weights=np.asarray(w, float), density=True)
        with np.errstate(divide="ignore"):
            lg = np.where(hist > 0, np.log(hist) + b * centres, np.nan)
        ok = np.isfinite(lg)
        out.append(lg - np.mean(lg[ok] - model[ok]) if ok.any() else lg)
    return centres, out
