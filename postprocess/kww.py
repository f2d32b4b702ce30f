r"""Kohlrausch–Williams–Watts (stretched-exponential) fits, τα, and the k scan with k_c.

.. math:: F(t) \approx A\exp[-(t/\tau_0)^{\beta_{KWW}}],\qquad
          \tau_\alpha = \frac{\tau_0}{\beta_{KWW}}\,\Gamma(1/\beta_{KWW}) = \int_0^\infty e^{-(t/\tau_0)^\beta}dt

(Sect. II of the paper).  The fit uses the α regime only, F ≤ ``f_max`` (default 0.8, below the
plateau) and F ≥ ``f_min``; the amplitude A scales out the short-time (vibrational) decay, as in
the paper's comparison of S_cont(k_c, t) with S_MB(k = 400, t).  With ``amplitude=False``, A = 1.

k_c (Fig. 3): the continuous-trajectory τ0(k) falls with k, the MB one saturates at a plateau;
k_c is where ln τ0_cont(k) crosses the MB plateau value (linear interpolation in ln k).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from pel_hpc.errors import DeckError


@dataclass(frozen=True)
class KWWFit:
    """τ0 [τ], β_KWW, amplitude A, their 1-σ errors, and τα = τ0/β Γ(1/β) [τ]."""

    tau0: float
    beta: float
    amplitude: float
    tau0_err: float
    beta_err: float

    @property
    def tau_alpha(self) -> float:
        return kww_tau_alpha(self.tau0, self.beta)


def kww_tau_alpha(tau0, beta):
    """τα = τ0/β · Γ(1/β), the time integral of exp[−(t/τ0)^β] [τ]."""
    return np.asarray(tau0) / np.asarray(beta) * special.gamma(1.0 / np.asarray(beta))


def fit_kww(time, f, f_max: float = 0.8, f_min: float = 0.02, amplitude: bool = True) -> KWWFit:
    """Fit A exp[−(t/τ0)^β] to F(t) on the window f_min ≤ F ≤ f_max (α regime)."""
    time, f = np.asarray(time, float), np.asarray(f, float)
    sel = (f <= f_max) & (f >= f_min) & (time > 0)
    if sel.sum() < (3 if amplitude else 2):
        raise DeckError(f"KWW fit: fewer than 3 points with {f_min} <= F <= {f_max}")
    t, y = time[sel], f[sel]
    tau_guess = float(t[np.argmin(np.abs(y - np.exp(-1.0)))])

    def model(theta):
        log_tau, beta = theta[0], theta[1]
        amp = theta[2] if amplitude else 1.0
        return amp * np.exp(-((t / np.exp(log_tau)) ** beta))

    x0 = [np.log(tau_guess), 0.8] + ([min(1.0, float(y.max()) / 0.8)] if amplitude else [])
    lo = [-np.inf, 0.05] + ([0.0] if amplitude else [])
    hi = [np.inf, 2.0] + ([1.5] if amplitude else [])
    res = optimize.least_squares(lambda th: model(th) - y, x0, bounds=(lo, hi))
    dof = max(y.size - len(x0), 1)
    cov = np.linalg.pinv(res.jac.T @ res.jac) * np.sum(res.fun**2) / dof
    err = np.sqrt(np.abs(np.diag(cov)))
    tau0 = float(np.exp(res.x[0]))
    return KWWFit(tau0=tau0, beta=float(res.x[1]), amplitude=float(res.x[2]) if amplitude else 1.0,
                  tau0_err=tau0 * float(err[0]), beta_err=float(err[1]))


def kww_scan(time, fs, k, **kw):
    """KWW fit for every k: returns (tau0, beta) arrays. ``fs`` (n_t, n_k).

    NaN where a fit is impossible or meaningless: τ0 below the first sampled time (the decay is
    vibrational, over before the first frame).
    """
    tau0 = np.full(len(k), np.nan)
    beta = np.full(len(k), np.nan)
    for i in range(len(k)):
        try:
            fit = fit_kww(time, fs[:, i], **kw)
        except DeckError:
            continue
        if fit.tau0 >= np.min(np.asarray(time)[np.asarray(time) > 0]):
            tau0[i], beta[i] = fit.tau0, fit.beta
    return tau0, beta


def crossover_wavevector(k, tau0_cont, tau0_plateau: float) -> float:
    """k_c where τ0_cont(k) first falls to the MB plateau τ0 (interpolated in ln k, ln τ0) [1/σ]."""
    k = np.asarray(k, float)
    y = np.log(np.asarray(tau0_cont, float)) - np.log(tau0_plateau)
    ok = np.isfinite(y)
    k, y = k[ok], y[ok]
    below = np.flatnonzero((y[:-1] > 0) & (y[1:] <= 0))
    if below.size == 0:
        raise DeckError("τ0_cont(k) never crosses the MB plateau in the scanned k range")
    i = below[0]
    lk = np.log(k[i]) + (np.log(k[i + 1]) - np.log(k[i])) * y[i] / (y[i] - y[i + 1])
    return float(np.exp(lk))
