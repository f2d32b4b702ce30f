r"""Observables of a CLM run: waiting-time moments, D ∝ 1/⟨τ⟩, S0(t), τα, KWW fit, Stokes–Einstein.

All are computed from the tallies of :class:`.simulation.CLMTallies`; error bars by the block
jackknife over the ``n_blocks`` time blocks.  Definitions (Sect. II and IV of the paper, same as
:mod:`postprocess.ctrw` for the single ES):

.. math:: D \propto 1/\langle\tau\rangle,\qquad
          S_0(t) = \frac{\sum_k (\tau_k - t)_+}{\sum_k \tau_k},\qquad
          \tau_\alpha = \int_0^\infty S_0\,dt = \frac{\langle\tau^2\rangle}{2\langle\tau\rangle},

where τ_k are the waiting times between consecutive active processes of the same ES (pooled
over all ES); S0(t) is the probability that an ES picked at a random time has not relaxed
(actively) within t — the incoherent persistence of the lattice, compared with S(k_c, t) of the MD.
The KWW fit exp[−(t/τ0)^β] of S0, with τα = (τ0/β)Γ(1/β), uses :mod:`postprocess.kww`.
Times in τ (LJ units).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pel_hpc.errors import DeckError
from postprocess.kww import fit_kww


def jackknife(block_sums: np.ndarray, estimator):
    """Estimate and block-jackknife error of ``estimator(sums)`` from per-block sums (B × k)."""
    sums = np.asarray(block_sums, dtype=float)
    total = sums.sum(axis=0)
    n_b = sums.shape[0]
    loo = np.array([estimator(total - sums[b]) for b in range(n_b)])
    err = math.sqrt((n_b - 1) / n_b * np.sum((loo - loo.mean()) ** 2))
    return float(estimator(total)), err


@dataclass(frozen=True)
class WaitingTimeStats:
    """Per-visit waiting-time moments of the active processes and the derived τα [τ]."""

    n: int
    mean_tau: float
    mean_tau_err: float
    mean_tau2: float
    mean_tau2_err: float
    tau_alpha: float
    tau_alpha_err: float


def waiting_time_stats(tallies) -> WaitingTimeStats:
    """⟨τ⟩, ⟨τ²⟩ and τα = ⟨τ²⟩/2⟨τ⟩ with jackknife errors from the block moments."""
    m = tallies.moments
    if m[:, 0].sum() < 2:
        raise DeckError("CLM run recorded fewer than 2 waiting times: increase duration")
    t1 = jackknife(m, lambda s: s[1] / s[0])
    t2 = jackknife(m, lambda s: s[2] / s[0])
    ta = jackknife(m, lambda s: s[2] / (2.0 * s[1]))
    return WaitingTimeStats(int(m[:, 0].sum()), *t1, *t2, *ta)


def relative_diffusion(tallies):
    """D/D(q=0) = ⟨τ⟩_0/⟨τ⟩ (the CTRW D = a²/6N⟨τ⟩ of ``postprocess.ctrw``), with its error."""
    st = waiting_time_stats(tallies)
    ratio = tallies.mean_tau_0 / st.mean_tau
    return ratio, ratio * st.mean_tau_err / st.mean_tau


def persistence(tallies):
    """S0(t) at the log-τ histogram edges: exact there, from the counts and Στ above each edge.

    Returns (t [τ], S0(t)).
    """
    count, tsum = tallies.tau_hist[:, 0], tallies.tau_hist[:, 1]
    t = np.exp(tallies.log_tau_edges)
    # bins 1..n lie between edges; bin 0 is below the first edge, the last bin above the last edge
    above_count = np.cumsum(count[::-1])[::-1][1:]
    above_sum = np.cumsum(tsum[::-1])[::-1][1:]
    return t, (above_sum - t * above_count) / tsum.sum()


def kww_of_persistence(tallies):
    """KWW fit exp[−(t/τ0)^β] of S0(t) (``postprocess.kww``, A = 1: S0 has no short-time decay)."""
    t, s0 = persistence(tallies)
    return fit_kww(t, s0, f_max=0.9, f_min=0.02, amplitude=False)


def stokes_einstein_product(tallies):
    """D τα in units of the q = 0 ⟨τ⟩: τα/⟨τ⟩ (∝ D τα since D ∝ 1/⟨τ⟩), with its error."""
    return jackknife(tallies.moments, lambda s: s[2] / (2.0 * s[1]) / (s[1] / s[0]))


def stokes_einstein_exponent(tau_alpha, se_product):
    """ξ of D τα ∝ τα^ξ: least-squares slope of ln(Dτα) against ln τα over temperatures."""
    x, y = np.log(np.asarray(tau_alpha, float)), np.log(np.asarray(se_product, float))
    if x.size < 2:
        raise DeckError("the Stokes–Einstein exponent needs at least two temperatures")
    return float(np.polyfit(x, y, 1)[0])


def energy_distribution(tallies):
    """Time-weighted MB-energy density sampled by the run, per block: (edges [ε], density (B × bins))."""
    h = tallies.energy_hist
    widths = np.diff(tallies.energy_edges)
    return tallies.energy_edges, h / (h.sum(axis=1, keepdims=True) * widths)


def cutoff_share(n: float, temperature: float, p=None, width: float | None = None) -> float:
    """Share of ⟨Γⁿ⟩_eq carried by states within ``width`` (default σ) above e_cut (quadrature).

    n = −1 measures how much τα ∝ ⟨Γ⁻¹⟩ depends on the rare states near e_cut; n = −3 does the same
    for the variance of the sampled ⟨τ²⟩ (∝ ⟨Γ⁻³⟩), i.e. for how well a run converges.
    """
    from scipy import integrate

    from postprocess.landscape import TABLE_I, escape_rate, p_eq
    p = TABLE_I if p is None else p
    beta, width = 1.0 / temperature, p.sigma if width is None else width
    f = lambda e: p_eq(e, beta, p) * escape_rate(e, beta, p) ** n  # noqa: E731
    top = p.e0 + 15.0 * p.sigma
    total = integrate.quad(f, p.e_cut, top, points=[p.e_c], limit=400)[0]
    return integrate.quad(f, p.e_cut, p.e_cut + width, limit=400)[0] / total
