r"""Tables of CLM scan results (one row per grid point) for the finite-size analysis and Figs. 6–10.

``summarise(read_results(FILE))`` gives a dict of arrays: temperature, q, r_max (NaN = nearest
neighbours), n_es, n_eff, q_eff = N_eff q, seed, ⟨τ⟩, τα = ⟨τ²⟩/2⟨τ⟩ and errors, D/D(q=0) and the
analytic q = 0 CTRW values.  Seeds of one (T, q, lattice, r_max) point are merged by summing tallies.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from pel_hpc.errors import DeckError

from .observables import relative_diffusion, waiting_time_stats


def _point_key(t):
    c = t.config
    return (c.temperature, c.q, c.shape, c.r_max, c.coupling)


def merge_seeds(tallies):
    """Sum the tallies of runs that differ only by seed (block moments and histograms add)."""
    groups = {}
    for t in tallies:
        groups.setdefault(_point_key(t), []).append(t)
    out = []
    for runs in groups.values():
        first = runs[0]
        if any(r.moments.shape != first.moments.shape for r in runs):
            raise DeckError("runs to merge must share n_blocks")
        out.append(dataclasses.replace(
            first, moments=np.concatenate([r.moments for r in runs]),
            tau_hist=sum(r.tau_hist for r in runs), energy_hist=np.concatenate([r.energy_hist for r in runs]),
            n_active=sum(r.n_active for r in runs), n_passive=sum(r.n_passive for r in runs)))
    return out


def summarise(tallies) -> dict:
    """One row per (T, q, lattice, r_max, coupling) point, seeds merged; sorted by (r_max, T, q)."""
    rows = []
    for t in merge_seeds(tallies):
        st = waiting_time_stats(t)
        d, d_err = relative_diffusion(t)
        c = t.config
        rows.append((c.temperature, c.q, np.nan if c.r_max is None else c.r_max, float(np.prod(c.shape)),
                     t.n_eff, t.n_eff * c.q, st.mean_tau, st.mean_tau_err, st.tau_alpha, st.tau_alpha_err,
                     d, d_err, t.mean_tau_0, t.tau_alpha_0))
    names = ("temperature", "q", "r_max", "n_es", "n_eff", "q_eff", "mean_tau", "mean_tau_err",
             "tau_alpha", "tau_alpha_err", "d_rel", "d_rel_err", "mean_tau_0", "tau_alpha_0")
    if not rows:
        raise DeckError("no complete CLM grid points to summarise")
    arr = np.array(rows, dtype=float)
    order = np.lexsort((arr[:, 1], arr[:, 0], np.nan_to_num(arr[:, 2], nan=-1.0)))
    return {name: arr[order, k] for k, name in enumerate(names)}


def select(table: dict, mask) -> dict:
    """Rows of a summary table where ``mask`` is true."""
    return {k: v[mask] for k, v in table.items()}


def reduction(table: dict):
    """τα(q)/τα(q=0) of each row and its error.

    τα(0) is the analytic single-ES CTRW value e^{σγ²}⟨Γ⁻¹⟩ (``tau_alpha_0``, from
    :mod:`postprocess.ctrw`): at q = 0 the ES are independent, so the lattice reproduces it exactly
    (tested), while its sampled estimate is by far the noisiest point of a scan at low T.
    """
    ratio = table["tau_alpha"] / table["tau_alpha_0"]
    return ratio, ratio * table["tau_alpha_err"] / table["tau_alpha"]
