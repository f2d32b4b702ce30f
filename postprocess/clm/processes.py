r"""Active and passive processes of the coupled landscape model (CLM): the rules and their kernels.

Every elementary system (ES) holds an MB energy e and an escape rate γ.  Eq. (1) (Γ(e)), G(e),
p_eq(e) and ϖ(γ,e) (eq. (2)) are imported from :mod:`postprocess.landscape` (their only home) and
tabulated on a fine energy grid; the numba kernels only read the tables.

**Active process: the landing distribution that preserves p_eq.**  An ES that leaves its state
(e, γ) at rate γ and lands on (e', γ') drawn from a per-visit density π(e, γ) is a renewal process
whose *time-weighted* stationary density is π(e, γ)/γ normalised (the mean sojourn in a visit is
1/γ).  We need the time-weighted density p_eq(e)·ϖ_t(γ|e), where ϖ_t(γ|e) ∝ ϖ(γ,e)/γ is the rate
distribution seen at a random time.  Hence

.. math:: \pi(e,\gamma) \propto \gamma\,p_{eq}(e)\,\frac{\varpi(\gamma,e)/\gamma}{\langle\gamma^{-1}\rangle_\varpi}
          = \Gamma(e)\,p_{eq}(e)\;\varpi(\gamma,e),\qquad \Gamma(e) \equiv 1/\langle\tau(e)\rangle ,

i.e. e' is drawn from π(e) ∝ Γ(e) p_eq(e) and then γ' from the per-visit log-normal ϖ(γ, e') of eq.
(2): ln γ' = ln Γ(e') + σ_γ²/2 + σ_γ z.  Drawing e' from the DOS G(e) is right only for the pure
trap model Γ ∝ e^{βe} (then Γ p_eq ∝ G); drawing from p_eq is wrong whenever Γ depends on e.
The time-weighted (random-time) rate at fixed e is log-normal too: ln γ = ln Γ(e) − σ_γ²/2 + σ_γ z.
Consequences: the per-visit waiting time has ⟨τ⟩ = 1/⟨Γ⟩_eq and ⟨τ²⟩ = 2e^{σ_γ²}⟨Γ⁻¹⟩_eq/⟨Γ⟩_eq.

**Passive processes, eq. (5) of the paper.**  A passive process must preserve the time-weighted
density p_eq(e)ϖ_t(γ|e) (then the product of these densities over the lattice is stationary, so
p_eq and D ∝ 1/⟨τ⟩ are unchanged by the coupling):

* Boltzmann coupling (``BOLTZMANN``): e' from p_eq, γ' from ϖ_t(γ|e') (the rate "chosen from the
  equilibrium distribution").
* Gaussian coupling (``GAUSSIAN``): e' = a e + b + s ξ, a = √(1−s²/σ²), b = µ(1−a), ξ ~ N(0,1).
  This AR(1) kernel is reversible with respect to N(µ, σ²), so µ and σ must be the mean and width
  of the Gaussian p_eq (µ = e0 − βσ², width σ of the DOS), not the DOS mean 0 as the paper's
  wording suggests.  With the cut-off, a proposal e' < e_cut is *rejected* (the ES keeps e):
  a reversible kernel restricted to e ≥ e_cut by rejection leaves the truncated Gaussian exactly
  invariant.  The naive alternative, redrawing until e' ≥ e_cut (``gauss_redraw=True``), is only
  approximately invariant: :func:`gaussian_coupling_violation` measures by how much.  The rate
  keeps its quantile: γ' = γ Γ(e')/Γ(e).
* Energy-dependent coupling (``ENERGY_DEPENDENT``, Sect. IV B): the passive probability is
  q(e) = q̃ Γ(e)/Γ_max and e' is drawn from π ∝ Γ p_eq (the "π ∝ Γφ" rule, φ = p_eq), γ' from ϖ_t.
  Balance: ∫ p_eq q̃Γ π(e') de = q̃ Γ(e') p_eq(e') for π ∝ Γ p_eq, so p_eq is invariant.

Energies in ε (total MB energy of the 65-particle ES), rates in 1/τ (LJ time).

References
----------
Heuer, J. Phys.: Condens. Matter 20, 373101 (2008); Vose, IEEE TSE 17, 972 (1991) (alias method).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from pel_hpc.errors import DeckError
from postprocess.landscape import TABLE_I, PELParameters, log_escape_rate, p_eq

from .intrinsics import cmov
from .rng import normal, uniform

BOLTZMANN, GAUSSIAN, ENERGY_DEPENDENT = 0, 1, 2
COUPLING_NAMES = {"boltzmann": BOLTZMANN, "gaussian": GAUSSIAN, "energy_dependent": ENERGY_DEPENDENT}


@dataclass(frozen=True)
class EnergyTables:
    """Tabulated p_eq, Γ(e) p_eq and ln Γ(e) on a uniform grid of ``n_cells`` cells.

    Attributes
    ----------
    e_lo, h : float            first node and cell width [ε]; nodes e_k = e_lo + k h.
    log_rate : (K+1,) float    ln Γ(e_k) of eq. (1) [ln(1/τ)].
    active_prob, active_alias : (K,)  alias table of the cell masses of π ∝ Γ p_eq.
    passive_prob, passive_alias : (K,) alias table of the cell masses of p_eq.
    sigma_gamma : float        σ_γ of eq. (2).
    mu, width : float          mean and width of the (untruncated) Gaussian p_eq [ε].
    e_cut : float              lowest allowed energy [ε] (−inf: none).
    log_rate_max : float       max ln Γ on the grid (for q(e) = q̃ Γ(e)/Γ_max).
    """

    e_lo: float
    h: float
    log_rate: np.ndarray
    active_prob: np.ndarray
    active_alias: np.ndarray
    passive_prob: np.ndarray
    passive_alias: np.ndarray
    sigma_gamma: float
    mu: float
    width: float
    e_cut: float
    log_rate_max: float

    @property
    def e_hi(self) -> float:
        """Upper end of the tabulated energy range [ε]."""
        return self.e_lo + self.h * (self.log_rate.size - 1)


def alias_table(masses):
    """Vose's alias table (prob, alias) for sampling index k with probability ∝ ``masses[k]``."""
    m = np.asarray(masses, dtype=float)
    if m.ndim != 1 or m.size == 0 or np.any(m < 0) or not m.sum() > 0:
        raise DeckError("alias_table needs a non-empty vector of non-negative masses with positive sum")
    prob, alias = np.ones(m.size), np.arange(m.size, dtype=np.int64)
    alias_fill(m * (m.size / m.sum()), prob, alias, np.empty(m.size, np.int64))
    return prob, alias


@njit(cache=True)
def alias_fill(scaled, prob, alias, stack):
    """Vose's construction in place: ``scaled`` = masses × K/Σ masses (overwritten), ``prob`` = 1 and
    ``alias[k]`` = k on entry; ``stack`` (K ints) holds the small (from the front) and large (from
    the back) indices.  Numba, so the event loop of :mod:`.composition` rebuilds its bin table."""
    k, n_small, n_large = scaled.size, 0, 0
    for i in range(k):
        if scaled[i] < 1.0:
            stack[n_small] = i
            n_small += 1
    for i in range(k):
        if scaled[i] >= 1.0:
            stack[k - 1 - n_large] = i
            n_large += 1
    while n_small and n_large:
        s, g = stack[n_small - 1], stack[k - n_large]
        n_small -= 1
        n_large -= 1
        prob[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        if scaled[g] < 1.0:
            stack[n_small] = g
            n_small += 1
        else:
            n_large += 1
            stack[k - n_large] = g


def _cell_masses(log_f_nodes, log_f_mid, h):
    """Simpson masses of each cell of a density given as logs at nodes and mid-points (max-shifted)."""
    shift = max(log_f_nodes.max(), log_f_mid.max())
    f, fm = np.exp(log_f_nodes - shift), np.exp(log_f_mid - shift)
    return h / 6.0 * (f[:-1] + 4.0 * fm + f[1:])


def _energy_range(beta, p, log_floor=-60.0):
    """Energy window holding every state of p_eq and of Γ p_eq above e^{log_floor} of their peaks."""
    mean = p.e0 - beta * p.sigma**2
    lo = p.e_cut if np.isfinite(p.e_cut) else mean - 40.0 * p.sigma
    grid = np.linspace(lo, max(mean, p.e0) + 40.0 * p.sigma, 20001)
    with np.errstate(divide="ignore"):
        lp = np.log(p_eq(grid, beta, p))
    keep = np.zeros(grid.size, bool)
    for lf in (lp, lp + log_escape_rate(grid, beta, p)):
        keep |= lf > lf.max() + log_floor
    idx = np.nonzero(keep)[0]
    return (lo if np.isfinite(p.e_cut) else grid[idx[0]]), grid[idx[-1]]


def build_tables(temperature: float, p: PELParameters = TABLE_I, n_cells: int = 8192) -> EnergyTables:
    """Tabulate the landing densities of the active and passive processes at temperature T.

    Parameters
    ----------
    temperature : float   T [ε/k_B].
    p : PELParameters     PEL parameters (Table I by default).
    n_cells : int         number of energy cells (sampling is uniform within a cell).
    """
    if not temperature > 0:
        raise DeckError(f"CLM temperature must be > 0, got {temperature}")
    if n_cells < 16:
        raise DeckError(f"n_cells must be >= 16, got {n_cells}")
    beta = 1.0 / temperature
    lo, hi = _energy_range(beta, p)
    h = (hi - lo) / n_cells
    nodes = lo + h * np.arange(n_cells + 1)
    mids = nodes[:-1] + 0.5 * h
    lr_n, lr_m = log_escape_rate(nodes, beta, p), log_escape_rate(mids, beta, p)
    with np.errstate(divide="ignore"):
        lp_n = np.log(p_eq(np.maximum(nodes, lo + 1e-12 * h), beta, p))
        lp_m = np.log(p_eq(mids, beta, p))
    act = alias_table(_cell_masses(lp_n + lr_n, lp_m + lr_m, h))
    pas = alias_table(_cell_masses(lp_n, lp_m, h))
    return EnergyTables(lo, h, lr_n, act[0], act[1], pas[0], pas[1], p.sigma_gamma,
                        p.e0 - beta * p.sigma**2, p.sigma, p.e_cut, float(lr_n.max()))


def gaussian_coefficients(s: float, tables: EnergyTables):
    """(a, b) of the Gaussian coupling: a = √(1 − s²/σ²), b = µ(1 − a), with µ, σ of p_eq (Sect. III D)."""
    if not 0.0 < s <= tables.width:
        raise DeckError(f"Gaussian coupling step s must lie in (0, σ = {tables.width}], got {s}")
    a = math.sqrt(1.0 - (s / tables.width) ** 2)
    return a, tables.mu * (1.0 - a)


@njit(cache=True, inline="always")
def alias_pick(u, prob, alias):
    """Index k with probability ∝ the masses of the alias table (Vose), from one uniform u ∈ [0, 1).

    The choice between k and ``alias[k]`` is a conditional move (:func:`.intrinsics.cmov`), not a
    branch, which a random choice would mispredict; unsigned indices skip numba's negative-index
    wrap-around."""
    x = u * prob.size
    k = min(int(x), prob.size - 1)
    return cmov(x - k < prob[np.uint64(k)], k, alias[np.uint64(k)])


@njit(cache=True, inline="always")
def log_rate_at(e, e_lo, h, log_rate):
    """ln Γ(e) by linear interpolation of the tabulated eq. (1) (exact away from the e_c kink)."""
    x = (e - e_lo) / h
    k = int(x)
    if x < 0.0:
        k = 0
    if k > log_rate.size - 2:
        k = log_rate.size - 2
    f = min(max(x - k, 0.0), 1.0)
    return log_rate[k] + f * (log_rate[k + 1] - log_rate[k])


@njit(cache=True, inline="always")
def landing_state(u_cell, f, z, prob, alias, e_lo, h, log_rate, sigma_gamma, visit_sign):
    """(e, ln γ): e in the alias-drawn cell (uniform ``u_cell``) at fraction ``f`` of it, ln γ =
    ln Γ(e) ± σ_γ²/2 + σ_γ z (eq. (2)) for a standard normal z (ignored when σ_γ = 0).

    ``visit_sign`` = +1 gives the per-visit rate (active landing), −1 the time-weighted rate.
    """
    k = alias_pick(u_cell, prob, alias)
    e = e_lo + (k + f) * h
    ku = np.uint64(k)
    lr = log_rate[ku] + f * (log_rate[ku + np.uint64(1)] - log_rate[ku])
    if sigma_gamma > 0.0:
        lr += visit_sign * 0.5 * sigma_gamma * sigma_gamma + sigma_gamma * z
    return e, lr


@njit(cache=True, inline="always")
def draw_state(rng, cache, prob, alias, e_lo, h, log_rate, sigma_gamma, visit_sign):
    """(e, ln γ) of :func:`landing_state` from the words of ``rng``: the cell, the fraction f, then
    (if σ_γ > 0) the normal z."""
    u_cell = uniform(rng)
    f = uniform(rng)
    z = normal(rng, cache) if sigma_gamma > 0.0 else 0.0
    return landing_state(u_cell, f, z, prob, alias, e_lo, h, log_rate, sigma_gamma, visit_sign)


@njit(cache=True, inline="always")
def gaussian_step(rng, cache, e, a, b, s, e_cut, redraw):
    """Gaussian coupling e' = a e + b + s ξ; below e_cut reject (keep e) or, if ``redraw``, draw again."""
    while True:
        e_new = a * e + b + s * normal(rng, cache)
        if e_new >= e_cut:
            return e_new
        if not redraw:
            return e


def gaussian_coupling_violation(tables: EnergyTables, s: float, redraw: bool, mu=None, width=None,
                                n_grid: int = 2000):
    """Total-variation distance between p_eq and the stationary density of the Gaussian coupling kernel.

    The kernel is discretised on ``n_grid`` cells of [e_cut, e_hi] and its stationary vector solved
    for directly.  ``mu``/``width`` override µ, σ (e.g. the mean and std of the *truncated* p_eq)
    to measure the effect of a wrong choice.  Returns TV = ½ Σ |p_stat − p_eq| (0 = exact invariance).
    """
    mu = tables.mu if mu is None else mu
    width = tables.width if width is None else width
    a = math.sqrt(1.0 - (s / width) ** 2)
    b = mu * (1.0 - a)
    edges = np.linspace(tables.e_lo, tables.e_hi, n_grid + 1)
    x = 0.5 * (edges[1:] + edges[:-1])
    target = np.exp(-0.5 * ((x - tables.mu) / tables.width) ** 2)
    target /= target.sum()
    from scipy.special import ndtr
    cdf = ndtr((edges[None, :] - (a * x[:, None] + b)) / s)
    kern = np.diff(cdf, axis=1)
    out = 1.0 - cdf[:, -1]                     # mass above e_hi: kept as staying (negligible)
    below = cdf[:, 0]
    if redraw:
        kern /= kern.sum(axis=1, keepdims=True)
    else:
        kern[np.arange(n_grid), np.arange(n_grid)] += below + out
    system = kern.T - np.eye(n_grid)
    system[-1, :] = 1.0                        # normalisation replaces one balance equation
    rhs = np.zeros(n_grid)
    rhs[-1] = 1.0
    vec = np.linalg.solve(system, rhs)
    return 0.5 * float(np.abs(vec - target).sum())
