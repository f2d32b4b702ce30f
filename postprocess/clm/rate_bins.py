r"""Composition–rejection selection of the next active process: ES grouped into rate bins (O(1) per event).

The escape rate γ_i of every ES is fixed between its own events (eq. (2); a passive process sets a
new one), so the lattice is a continuous-time Markov chain with total rate R = Σ_i γ_i: the next
event comes after Exp(1)/R and belongs to ES i with probability γ_i/R (Gillespie).  Composition–
rejection draws i in O(1) (Slepoy, Thompson & Plimpton 2008):

.. math:: P(i) = \underbrace{\frac{R_k}{R}}_{\text{bin } k\ (\text{composition})}\;
          \underbrace{\frac{\gamma_i/\bar\gamma_k}{\sum_{j\in k}\gamma_j/\bar\gamma_k}}_{\text{member (rejection)}},
          \qquad R_k = \sum_{j\in k}\gamma_j ,

with bins of equal width w in ln γ (``BINS_PER_OCTAVE`` per factor 2), so the member test "pick j
uniformly in bin k, accept with γ_j/γ̄_k" (γ̄_k the upper edge of bin k) accepts with probability
≥ 2^{−1/BINS_PER_OCTAVE} (times the bin's fill, the pick being uniform over its capacity).  Rates below the lowest edge share bin 0 and rates above the highest
share the last bin, whose bound γ̄ is raised to its largest member, so the selection is exact
for any rate.  Bins are scanned in a fixed order of decreasing expected total rate (any fixed
order is exact; this one keeps the expected scan short).  R_k and R are updated by ± γ
and recomputed from the members every max(N, 2^16) events to stop round-off drift.

Storage (fixed capacity plus an overflow flag, the house rule): ``pool`` rows (γ [1/τ], ES id,
t_last [τ], unused) — the time of the ES's previous active process lives here, in the cache line
the selection reads anyway, so an active process touches one random line of memory —, bin k owning rows ``start[k] : start[k] + cap[k]`` of which the first ``count[k]`` are used;
``bint[k] = (start, cap, count)``, ``bflt[k] = (R_k, γ̄_k)``; the pool row of ES i is
``rec[i, SLOT]``.  An insertion that leaves fewer than ``margin`` free rows sets the overflow
flag; the caller (:class:`RateBins`) then enlarges that bin and rebuilds.

References
----------
Slepoy, Thompson & Plimpton, J. Chem. Phys. 128, 205101 (2008); Gillespie, J. Comput. Phys. 22,
403 (1976).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .fast_exp import fast_exp
from .intrinsics import aligned_zeros
from .rng import uniform

BINS_PER_OCTAVE = 2
E, LG, TL, SLOT = 0, 1, 2, 3          # columns of the per-ES record ``rec`` (e, ln γ, t_last, pool row)
RATE, ID, T_LAST = 0, 1, 2            # columns of ``pool`` (row width 4: 32 bytes)
START, CAP, COUNT = 0, 1, 2           # columns of ``bint``
TOTAL, BOUND = 0, 1                   # columns of ``bflt``
AHEAD_ROWS = 4                        # events whose selection uniforms are drawn in advance (:mod:`.composition`)
_BOUND_SAFETY = 1.0 + 1e-12           # γ̄ strictly above every rate of the bin despite rounding of exp


@njit(cache=True, inline="always")
def bin_of(lg, bpar, n_bins):
    """Bin of an ES with ln γ = ``lg``; ``bpar`` = (ln γ of the lowest edge, 1/w)."""
    x = (lg - bpar[0]) * bpar[1]
    if x < 0.0:
        return 0
    return min(int(x), n_bins - 1)


@njit(cache=True, inline="always")
def bin_insert(pool, bint, bflt, rec, k, i, rate, t_last, margin):
    """Append ES i (rate γ, previous active process at t_last) to bin k; returns True when bin k
    has fewer than ``margin`` free rows."""
    s = bint[k, START] + bint[k, COUNT]
    pool[s, RATE] = rate
    pool[s, ID] = i
    pool[s, T_LAST] = t_last
    rec[i, SLOT] = s
    bint[k, COUNT] += 1
    bflt[k, TOTAL] += rate
    if k == bint.shape[0] - 1 and rate * _BOUND_SAFETY > bflt[k, BOUND]:
        bflt[k, BOUND] = rate * _BOUND_SAFETY
    return bint[k, CAP] - bint[k, COUNT] < margin


@njit(cache=True, inline="always")
def bin_remove(pool, bint, bflt, rec, k, s):
    """Remove pool row s from bin k (the bin's last row fills the hole); returns the removed rate."""
    rate = pool[s, RATE]
    last = bint[k, START] + bint[k, COUNT] - 1
    if s != last:
        for c in range(3):
            pool[s, c] = pool[last, c]
        rec[int(pool[s, ID]), SLOT] = s
    bint[k, COUNT] -= 1
    bflt[k, TOTAL] = bflt[k, TOTAL] - rate if bint[k, COUNT] > 0 else 0.0
    return rate


@njit(cache=True, inline="always")
def _bin_at(x, bint, bflt, order):
    """Composition step: the bin where the running sum of R_k (in ``order``) first exceeds x ∈ [0, R)
    (−1 if round-off left x ≥ 0 after all bins).  An empty bin has R_k = 0 exactly (set so by
    :func:`bin_remove`), so x first turns negative in an occupied bin: no test of the count."""
    for k_ord in range(order.size):
        k = order[k_ord]
        x -= bflt[k, TOTAL]
        if x < 0.0:
            return k
    return -1


@njit(cache=True, inline="always")
def _member(pool, bint, bflt, k, u_member, u_accept):
    """Pool row of a uniform draw over bin k's *capacity* if it holds a member accepted with
    probability γ/γ̄_k, else −1.  The row does not depend on the bin's count, so a row guessed
    events ahead stays right while members come and go (see :mod:`.composition`)."""
    s = bint[k, START] + int(u_member * bint[k, CAP])
    if s < bint[k, START] + bint[k, COUNT] and u_accept * bflt[k, BOUND] < pool[s, RATE]:
        return s
    return -1


@njit(cache=True, inline="always")
def select_from(rng, pool, bint, bflt, order, r_total, u_bin, u_m1, u_a1, u_m2, u_a2):
    """(pool row, bin) of the next active ES: bin k with probability R_k/R, then rejection within k
    (a uniform row of the bin's capacity, accepted if occupied, with probability γ/γ̄_k).

    The bin and the first two member attempts use the given uniforms (drawn in advance, see
    :func:`candidate_bin`), further attempts fresh ones from ``rng``; exact because the uniforms are
    independent of the state."""
    k = _bin_at(u_bin * r_total, bint, bflt, order)
    while k < 0:
        k = _bin_at(uniform(rng) * r_total, bint, bflt, order)
    s = _member(pool, bint, bflt, k, u_m1, u_a1)
    if s < 0:
        s = _member(pool, bint, bflt, k, u_m2, u_a2)
    while s < 0:
        u_member = uniform(rng)
        s = _member(pool, bint, bflt, k, u_member, uniform(rng))
    return s, k


@njit(cache=True, inline="always")
def select(rng, pool, bint, bflt, order, r_total):
    """:func:`select_from` with fresh uniforms."""
    u_bin, u_m1, u_a1, u_m2 = uniform(rng), uniform(rng), uniform(rng), uniform(rng)
    return select_from(rng, pool, bint, bflt, order, r_total, u_bin, u_m1, u_a1, u_m2, uniform(rng))


@njit(cache=True, inline="always")
def candidate_bin(bint, bflt, order, r_total, u_bin):
    """The bin :func:`select_from` would pick with this uniform in the present state (−1: none); a
    guess for a later event, used only to prefetch its member rows (``start + int(u · cap)``)."""
    return _bin_at(u_bin * r_total, bint, bflt, order)


@njit(cache=True)
def refresh(pool, bint, bflt):
    """Recompute every R_k from its members (stops round-off drift); returns R = Σ_k R_k."""
    r_total = 0.0
    for k in range(bint.shape[0]):
        acc = 0.0
        for s in range(bint[k, START], bint[k, START] + bint[k, COUNT]):
            acc += pool[s, RATE]
        bflt[k, TOTAL] = acc
        r_total += acc
    return r_total


@njit(cache=True)
def fill(pool, bint, bflt, rec, bpar):
    """Put every ES of ``rec`` into its bin (``bint`` starts and capacities set, counts zeroed)."""
    bint[:, COUNT] = 0
    bflt[:, TOTAL] = 0.0
    n_bins = bint.shape[0]
    for i in range(rec.shape[0]):
        k = bin_of(rec[i, LG], bpar, n_bins)
        bin_insert(pool, bint, bflt, rec, k, i, fast_exp(rec[i, LG]), rec[i, TL], 0)


@njit(cache=True)
def bin_counts(rec, bpar, counts):
    """Number of ES per bin (``counts`` zeroed and filled)."""
    counts[:] = 0
    for i in range(rec.shape[0]):
        counts[bin_of(rec[i, LG], bpar, counts.size)] += 1


class RateBins:
    """The composition–rejection bins of one simulation (arrays for the kernels; grows on overflow).

    Parameters
    ----------
    lg_lo, lg_hi : float   range of ln γ [ln(1/τ)] covered by regular bins (outside: the end bins).
    margin : int           free rows an event may need in one bin (1 + links per ES).
    rng : array            generator state of the selections (:mod:`.rng`); with ``ahead`` (uniforms
                           drawn in advance) and ``ahead_state``, see :mod:`.composition`.
    """

    def __init__(self, lg_lo: float, lg_hi: float, margin: int, rng):
        self.rng, self.ahead, self.ahead_state = rng, np.zeros((AHEAD_ROWS, 6)), np.zeros(2, np.int64)
        width = math.log(2.0) / BINS_PER_OCTAVE
        n_bins = int(math.ceil((lg_hi - lg_lo) / width)) + 1
        self.bpar = np.array([lg_lo, 1.0 / width])
        self.margin = int(margin)
        self.bint = np.zeros((n_bins, 3), np.int64)
        self.bflt = np.zeros((n_bins, 2))
        self.bflt[:, BOUND] = np.exp(lg_lo + width * np.arange(1, n_bins + 1)) * _BOUND_SAFETY
        self.order = np.arange(n_bins, dtype=np.int64)
        self.pool = np.zeros((0, 2))

    def build(self, rec, extra=None):
        """Size every bin for its current occupancy n_k (+ 5√n_k + 16 + margin, + ``extra``) and fill."""
        counts = np.zeros(self.bint.shape[0], np.int64)
        bin_counts(rec, self.bpar, counts)
        cap = counts + (5.0 * np.sqrt(counts)).astype(np.int64) + 16 + self.margin
        cap = np.minimum(cap, rec.shape[0] + self.margin) + (0 if extra is None else extra)
        self.bint[:, CAP] = cap
        self.bint[:, START] = np.concatenate(([0], np.cumsum(cap)[:-1]))
        self.pool = aligned_zeros((int(cap.sum()), 4))      # a 32-byte row never straddles two lines
        fill(self.pool, self.bint, self.bflt, rec, self.bpar)

    def set_order(self, log_rates):
        """Scan bins in order of decreasing expected total rate, estimated from a sample of ln γ
        (e.g. many ES drawn from the stationary state); any order is exact, this one is fast."""
        n_bins = self.bint.shape[0]
        k = np.clip(np.floor((np.asarray(log_rates) - self.bpar[0]) * self.bpar[1]), 0, n_bins - 1)
        mass = np.bincount(k.astype(np.int64), weights=np.exp(log_rates), minlength=n_bins)
        self.order = np.argsort(-mass, kind="stable").astype(np.int64)

    def used_rows(self) -> np.ndarray:
        """Indices of the occupied pool rows."""
        return np.concatenate([np.arange(s, s + c) for s, c in zip(self.bint[:, START], self.bint[:, COUNT])])

    def grow(self, rec):
        """Rebuild after an overflow flag: every nearly full bin gets twice its capacity (t_last,
        kept in the pool, is copied back to ``rec`` first)."""
        rows = self.used_rows()
        rec[self.pool[rows, ID].astype(np.int64), TL] = self.pool[rows, T_LAST]
        full = self.bint[:, CAP] - self.bint[:, COUNT] < self.margin
        self.build(rec, extra=np.where(full, self.bint[:, CAP], 0))
