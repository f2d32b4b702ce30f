r"""Finite-size analysis of Sect. IV A–B: the coupling q(T) from τα(N)/τα(65) and τα(q) = τα(0)/(1+c√q).

MD side (hydrodynamic correction, Sect. IV A): D_N differs slightly from D_min (N = 65) because of
hydrodynamic self-interaction through the periodic images, which the CLM does not contain; it is
removed by scaling τα(N) by D_N/D_min before comparing:

.. math:: R_{MD}(T) = \frac{\tau_\alpha(N)\,D_N/D_{min}}{\tau_\alpha(N_{min})} .

CLM side: R_CLM(q) = τα(q)/τα(0) on the ES lattice (3×3×3 in the paper).  q(T) solves
R_CLM(q) = R_MD(T), per temperature (interpolation in √q, where R is smooth).  The empirical law

.. math:: \tau_\alpha(q) = \frac{\tau_\alpha(0)}{1 + c\sqrt{q}}

(Sect. IV A) is fitted by least squares.  The effective coupling q_eff = N_eff q (Sect. IV B, Fig. 10)
puts lattices with different coupling ranges on one master curve.  Works on plain arrays; the MD
numbers come from the post-processing of the MD runs (or a CSV with columns T, N, tau_alpha, D).
"""
from __future__ import annotations

import numpy as np
from scipy import optimize

from pel_hpc.errors import DeckError, InputFileError


def md_reduction(tau_alpha_n, d_n, tau_alpha_min, d_min):
    """R_MD = τα(N)·(D_N/D_min)/τα(N_min): the finite-size reduction with hydrodynamics removed."""
    return np.asarray(tau_alpha_n, float) * np.asarray(d_n, float) / np.asarray(d_min, float) \
        / np.asarray(tau_alpha_min, float)


def sqrt_law(q, tau_alpha_0, c):
    """τα(q) = τα(0)/(1 + c√q), Sect. IV A of the paper [τ]."""
    return tau_alpha_0 / (1.0 + c * np.sqrt(np.asarray(q, float)))


def fit_sqrt_law(q, tau_alpha, tau_alpha_err=None, tau_alpha_0: float | None = None):
    """Least-squares (τα(0), c) of :func:`sqrt_law` with 1-σ errors: ((τα0, c), (err, err)).

    With ``tau_alpha_0`` given (e.g. the analytic CTRW value) only c is fitted (its error is 0).
    """
    q, y = np.asarray(q, float), np.asarray(tau_alpha, float)
    if q.size < (1 if tau_alpha_0 is not None else 2) or np.any(q < 0):
        raise DeckError("the τα(q) fit needs non-negative q values (two or more if τα(0) is free)")
    sigma = None if tau_alpha_err is None else np.asarray(tau_alpha_err, float)
    if tau_alpha_0 is not None:
        popt, pcov = optimize.curve_fit(lambda x, c: sqrt_law(x, tau_alpha_0, c), q, y, p0=(1.0,),
                                        sigma=sigma, absolute_sigma=sigma is not None)
        return (float(tau_alpha_0), float(popt[0])), (0.0, float(np.sqrt(pcov[0, 0])))
    p0 = (float(y[np.argmin(q)]), 1.0)
    popt, pcov = optimize.curve_fit(sqrt_law, q, y, p0=p0, sigma=sigma, absolute_sigma=sigma is not None)
    return (float(popt[0]), float(popt[1])), tuple(float(x) for x in np.sqrt(np.diag(pcov)))


def coupling_from_reduction(q, ratio_clm, ratio_md: float) -> float:
    """q with R_CLM(q) = R_MD: linear interpolation of the (monotonically falling) CLM ratio in √q."""
    q, r = np.asarray(q, float), np.asarray(ratio_clm, float)
    order = np.argsort(q)
    x, r = np.sqrt(q[order]), r[order]
    if not np.all(np.diff(r) < 0):
        raise DeckError("τα(q)/τα(0) of the CLM must fall monotonically with q to be inverted")
    if not r[-1] <= ratio_md <= r[0]:
        raise DeckError(f"MD reduction {ratio_md:.4g} lies outside the CLM range [{r[-1]:.4g}, {r[0]:.4g}]")
    return float(np.interp(ratio_md, r[::-1], x[::-1]) ** 2)


def coupling_per_temperature(temperatures, q, ratio_clm, ratio_md):
    """q(T) for each temperature: ``ratio_clm`` is (n_T, n_q), ``ratio_md`` (n_T,)."""
    return np.array([coupling_from_reduction(q, ratio_clm[i], ratio_md[i]) for i in range(len(temperatures))])


def q_eff_master(q, n_eff):
    """q_eff = N_eff·q for each coupling range (Sect. IV B); ``n_eff`` per curve, ``q`` shared."""
    return np.outer(np.asarray(n_eff, float), np.asarray(q, float))


def read_md_table(path):
    """MD finite-size results from a CSV with header columns T, N, tau_alpha, D (one row per run).

    Returns a dict of float arrays.  τα in τ, D in σ²/τ.
    """
    try:
        data = np.genfromtxt(path, delimiter=",", names=True, dtype=float, comments="#")
    except OSError as exc:
        raise InputFileError(f"cannot read MD table {path}") from exc
    need = ("T", "N", "tau_alpha", "D")
    if data.dtype.names is None or not set(need) <= set(data.dtype.names):
        raise InputFileError(f"{path}: MD table needs the columns {need}")
    return {k: np.atleast_1d(data[k]) for k in need}


def md_reduction_table(md, n_min: int = 65):
    """(T, R_MD) for every (T, N ≠ N_min) of an MD table that also holds N_min at that T."""
    out_t, out_r = [], []
    for t in np.unique(md["T"]):
        at = md["T"] == t
        ref = at & (md["N"] == n_min)
        if not ref.any():
            continue
        for k in np.flatnonzero(at & (md["N"] != n_min)):
            out_t.append(t)
            out_r.append(float(md_reduction(md["tau_alpha"][k], md["D"][k], md["tau_alpha"][ref][0],
                                            md["D"][ref][0])))
    return np.array(out_t), np.array(out_r)
