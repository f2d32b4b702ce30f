r"""Selection of the next active process on large lattices: ES grouped into rate bins, an O(1) exact draw.

The escape rate γ_i of every ES is fixed between its own events (eq. (2); a passive process sets a
new one), so the lattice is a continuous-time Markov chain with total rate R = Σ_i γ_i: the next
event comes after Exp(R) and belongs to ES i with probability γ_i/R (Gillespie).  The ES are kept in
bins of equal width w in ln γ (``bins_per_octave`` per factor 2); γ̄_k is the upper edge of bin k
(rates below the lowest edge share bin 0, rates above the highest share the last bin, whose γ̄ is
raised to its largest member), so every member of bin k has γ < γ̄_k.

**Trial (composition and rejection in one step, no scan).**  Bin k owns the pool rows
``start_k …``; its first n_k rows hold its members and the rows behind them hold γ = 0.  With an
*extent* m_k ≥ n_k and the bound B_k = m_k γ̄_k ≥ R_k = Σ_{i∈k} γ_i, a trial draws bin k with
probability B_k/B (B = Σ_k B_k; an alias table, one uniform and no scan), a row uniformly among
the m_k rows of bin k, and accepts it if u γ̄_k < γ_row (u uniform; the row and u come from one
uniform, :func:`trial`):

.. math:: P(\text{trial selects } i) = \frac{B_k}{B}\,\frac{1}{m_k}\,\frac{\gamma_i}{\bar\gamma_k}
          = \frac{\gamma_i}{B}, \qquad P(\text{trial selects nobody}) = 1 - \frac{R}{B}.

**Clock (thinning).**  Every trial advances the clock by Exp(B), rejected ones included: the trials
are then a Poisson process of rate B, and keeping each one with the selected ES i (probability
γ_i/B) splits it into independent Poisson processes of rates γ_i, one per ES, plus a process of
empty trials of rate B − R that changes nothing.  That is exactly the lattice's Markov chain (the
time to the next event is a Geometric(R/B) sum of Exp(B), i.e. Exp(R)).  Equally exact would be
Exp(R) once per event with the trials used only for the choice; wrong would be Exp(B) once per
event (rejected trials then take no time: the clock runs fast by R/B) or Exp(R) per trial (slow by
B/R).  B is constant between rebuilds of the table, so the clock needs no running sum of rates.

**Bounds.**  The table stays valid while every bin keeps n_k ≤ m_k and its γ̄_k: an insertion past
the extent, a new largest rate in the last bin, or a removal below the bin's *floor* (too much
empty weight) makes it stale, and the event loop rebuilds it (O(bins)) before the next trial.
:func:`build_table` sets m_k = n_k + h_k and the floor n_k − h_k
(empty bins: h_k = 0, so an ES entering one rebuilds the table): a slack h costs ≈ h γ̄_k/R extra
trials per event and ≈ 2R_k/(R h²) rebuilds per event (the random walk of n_k); h ∝ n_k^{1/3}
would balance the two, h = ⌊``SLACK`` n_k^{1/4}⌋ + 1 is close over the counts that matter and
needs no library call (a rebuild is on the event loop).

Storage (fixed capacity plus an overflow flag, the house rule): ``pool`` rows (γ [1/τ], ES id,
t_last [τ], unused) — the time of the ES's previous active process lives here, in the cache line
the selection reads anyway —, bin k owning rows ``start_k : start_k + cap_k``;
``bint[k] = (start, cap, count, extent, floor, limit)``, ``bflt[k] = (R_k, γ̄_k)``; the pool row of ES i
is ``rec[i, SLOT]``, needed only to find the row of an ES hit by a passive process: without
couplings (q = 0) the event loop does not keep it (``track`` of :func:`bin_insert`,
:func:`bin_remove`; see :func:`.composition.run_events`) and :func:`fill` sets it again.  The bin
totals R_k (``bflt[:, TOTAL]``) serve only :func:`select`, the textbook composition–rejection (a
scan over the bins for R_k/R, then rejection within the bin), which the tests use as the
reference: they are set by :func:`refresh` (called by :func:`fill`; callers of :func:`select`
after changes refresh first), not kept by ± γ at every insertion and removal (the trials read only
the bounds B_k; the upkeep cost ≈ 10 instructions per changed ES).  An insertion that leaves fewer
than ``margin`` free rows sets the overflow flag; the caller (:class:`RateBins`) then enlarges that
bin and rebuilds.

References
----------
Slepoy, Thompson & Plimpton, J. Chem. Phys. 128, 205101 (2008) (composition–rejection); Gillespie,
J. Comput. Phys. 22, 403 (1976); Lewis & Shedler, Nav. Res. Logist. Q. 26, 403 (1979) (thinning);
Vose, IEEE TSE 17, 972 (1991) (alias method).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .fast_exp import fast_exp
from .intrinsics import U, aligned_zeros
from .processes import alias_fill, alias_pick
from .rng import uniform

BINS_PER_OCTAVE = 2                   # default of RateBins: width w = ln 2 / bins_per_octave
SLACK = 4.0                           # extent and floor slack h_k = ⌊SLACK n_k^{1/4}⌋ + 1 (see the module docstring)
E, LG, TL, SLOT = 0, 1, 2, 3          # columns of the per-ES record ``rec`` (e, ln γ, t_last, pool row)
RATE, ID, T_LAST = 0, 1, 2            # columns of ``pool`` (row width 4: 32 bytes)
START, CAP, COUNT, EXTENT, FLOOR, LIMIT = range(6)  # columns of ``bint``
TOTAL, BOUND = 0, 1                   # columns of ``bflt``
E_START, E_EXTENT, E_BOUND, E_BIN = 0, 1, 2, 3       # columns of the table entries (build_table)
STALE, FULL = 1, 2                    # flags of :func:`bin_insert`: rebuild the table, grow the bin
_BOUND_SAFETY = 1.0 + 1e-12           # γ̄ strictly above every rate of the bin despite rounding of exp


@njit(cache=True, inline="always")
def bin_of(lg, bpar, n_bins):
    """Bin of an ES with ln γ = ``lg``; ``bpar`` = (ln γ of the lowest edge, 1/w)."""
    x = (lg - bpar[0]) * bpar[1]
    if x < 0.0:
        return 0
    return min(int(x), n_bins - 1)


@njit(cache=True, inline="always")
def bin_insert(pool, bint, bflt, rec, k, i, rate, t_last, margin, track):
    """Append ES i (rate γ, previous active process at t_last) to bin k, its row to ``rec[i, SLOT]``
    if ``track``; returns the flags ``STALE`` (the bin outgrew its extent or bound: rebuild the
    table) and ``FULL`` (fewer than ``margin`` free rows).  Rows, bins and ES are indexed as
    unsigned (:data:`.intrinsics.U`).  Both flags are looked at only when the count exceeds
    ``bint[k, LIMIT]`` ≤ min(extent, capacity − margin) (:func:`build_table`; 0 before the first
    build): below it neither can be set."""
    ku = U(k)
    count = bint[ku, COUNT]
    s = bint[ku, START] + count
    su = U(s)
    pool[su, RATE] = rate
    pool[su, ID] = i
    pool[su, T_LAST] = t_last
    if track:
        rec[U(i), SLOT] = s
    count += 1
    bint[ku, COUNT] = count
    flags = 0
    if count > bint[ku, LIMIT]:       # rare: past the extent or near the capacity (one test, not two)
        flags = (STALE if count > bint[ku, EXTENT] else 0) | (FULL if bint[ku, CAP] - count < margin else 0)
    if k == bint.shape[0] - 1 and rate * _BOUND_SAFETY > bflt[ku, BOUND]:
        bflt[ku, BOUND] = rate * _BOUND_SAFETY
        flags |= STALE
    return flags


@njit(cache=True, inline="always")
def bin_remove(pool, bint, rec, k, s, track):
    """Remove pool row s from bin k (the bin's last row fills the hole and is left with γ = 0, and
    if ``track`` its ES learns its new row s); returns (the removed rate, ``STALE`` if the bin fell
    below its floor else 0)."""
    ku, su = U(k), U(s)
    rate = pool[su, RATE]
    count = bint[ku, COUNT] - 1
    last = U(bint[ku, START] + count)
    for c in range(3):
        pool[su, c] = pool[last, c]
    if track:
        rec[U(int(pool[su, ID])), SLOT] = s
    pool[last, RATE] = 0.0
    bint[ku, COUNT] = count
    return rate, STALE if count < bint[ku, FLOOR] else 0


@njit(cache=True)
def build_table(bint, bflt, prob, alias, entries, weights, stack, margin=0):
    """Set every bin's extent and floor from its count (module docstring) and the alias table of
    the bounds B_k = m_k γ̄_k over the bins with m_k > 0 (``prob[:n_table]``, ``alias[:n_table]``);
    returns (B = Σ_k B_k, n_table).  Row c < n_table of ``entries`` (float, 4 columns: 32 bytes)
    describes table entry c for :func:`trial`: (start_k, m_k, γ̄_k, k) of its bin k, so that a
    trial reads one row instead of the entry's bin and then two rows of ``bint`` and ``bflt``, and
    converts no integer.  ``weights`` and ``stack`` are work arrays of one entry per bin.  Sets
    ``bint[k, LIMIT]`` = min(m_k, cap_k − ``margin``) for :func:`bin_insert`."""
    b_sum, n_table = 0.0, 0
    for k in range(bint.shape[0]):
        n = bint[k, COUNT]
        h = int(SLACK * math.sqrt(math.sqrt(n))) + 1 if n > 0 else 0
        m = min(n + h, bint[k, CAP])
        bint[k, EXTENT], bint[k, FLOOR], bint[k, LIMIT] = m, n - h, min(m, bint[k, CAP] - margin)
        if m > 0:
            entries[n_table, E_START], entries[n_table, E_EXTENT] = bint[k, START], m
            entries[n_table, E_BOUND], entries[n_table, E_BIN] = bflt[k, BOUND], k
            weights[n_table] = m * bflt[k, BOUND]
            b_sum += weights[n_table]
            n_table += 1
    scale = n_table / b_sum
    for c in range(n_table):
        weights[c] *= scale
        prob[c], alias[c] = 1.0, c
    alias_fill(weights[:n_table], prob[:n_table], alias[:n_table], stack)
    return b_sum, n_table


@njit(cache=True, inline="always")
def trial(prob, alias, entries, u_bin, u_row):
    """(pool row, acceptance threshold θ, bin) of one trial: bin k ∝ B_k (``prob``, ``alias``,
    ``entries``: the first n_table entries of :func:`build_table`), a row uniform among its m_k
    rows, and θ = u γ̄_k; the trial selects the row's ES if its γ > θ (rows behind the members hold
    γ = 0).  Row and bin are returned as doubles (integers, exact below 2^53; the trial ring of
    :mod:`.composition` stores them so); ⌊x⌋ is ``math.floor`` (one instruction; x ≥ 0).

    One uniform gives both the row and u: x = u_row m_k, row ⌊x⌋, u = x − ⌊x⌋ (the fraction is
    uniform on [0, 1) and independent of ⌊x⌋, resolved to 2^−53 m_k ≤ 2^−33 for m_k ≤ 2^20, as the
    fraction in :func:`.processes.alias_pick`): one random word less per trial."""
    c = U(alias_pick(u_bin, prob, alias))
    x = u_row * entries[c, E_EXTENT]
    r = math.floor(x)
    return entries[c, E_START] + r, (x - r) * entries[c, E_BOUND], entries[c, E_BIN]


@njit(cache=True, inline="always")
def _bin_at(x, bint, bflt, order):
    """Composition step: the bin where the running sum of R_k (in ``order``) first exceeds x ∈ [0, R)
    (−1 if round-off left x ≥ 0 after all bins).  An empty bin has R_k = 0 exactly (a sum over no
    members, :func:`refresh`), so x first turns negative in an occupied bin: no test of the count."""
    for k_ord in range(order.size):
        k = order[k_ord]
        x -= bflt[k, TOTAL]
        if x < 0.0:
            return k
    return -1


@njit(cache=True)
def select(rng, pool, bint, bflt, order, r_total):
    """(pool row, bin) of the next active ES by the textbook composition–rejection, the reference
    for :func:`trial`: bin k with probability R_k/R (a scan in ``order``), then a uniform row of its
    capacity, accepted if occupied with probability γ/γ̄_k (else another row of the same bin)."""
    k = -1
    while k < 0:
        k = _bin_at(uniform(rng) * r_total, bint, bflt, order)
    while True:
        s = bint[k, START] + int(uniform(rng) * bint[k, CAP])
        if s < bint[k, START] + bint[k, COUNT] and uniform(rng) * bflt[k, BOUND] < pool[s, RATE]:
            return s, k


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
    """Put every ES of ``rec`` into its bin (``bint`` starts and capacities set, counts zeroed; the
    pool rows behind the members must hold γ = 0) and set the totals R_k (:func:`refresh`)."""
    bint[:, COUNT] = 0
    n_bins = bint.shape[0]
    for i in range(rec.shape[0]):
        k = bin_of(rec[i, LG], bpar, n_bins)
        bin_insert(pool, bint, bflt, rec, k, i, fast_exp(rec[i, LG]), rec[i, TL], 0, True)
    refresh(pool, bint, bflt)


@njit(cache=True)
def bin_counts(rec, bpar, counts):
    """Number of ES per bin (``counts`` zeroed and filled)."""
    counts[:] = 0
    for i in range(rec.shape[0]):
        counts[bin_of(rec[i, LG], bpar, counts.size)] += 1


class RateBins:
    """The rate bins of one simulation (arrays for the kernels; grows on overflow).

    Parameters
    ----------
    lg_lo, lg_hi : float   range of ln γ [ln(1/τ)] covered by regular bins (outside: the end bins).
    margin : int           free rows an event may need in one bin (1 + links per ES).
    rng : array            generator state of the trials (:mod:`.rng`); with ``ring`` and
                           ``ring_state`` (trials drawn in advance), see :mod:`.composition`.
    ring_shape : tuple     shape of ``ring``.
    bins_per_octave : int  bins per factor 2 in γ: narrower bins reject less (a member's acceptance
                           γ/γ̄_k averages ≈ (1 − e^{−w})/w: 0.85 for 2, 0.92 for 4 per octave) but
                           hold fewer ES, so their counts leave the slack sooner (more rebuilds).
    """

    def __init__(self, lg_lo: float, lg_hi: float, margin: int, rng, ring_shape=(1, 1),
                 bins_per_octave: int = BINS_PER_OCTAVE):
        self.rng, self.ring, self.ring_state = rng, np.zeros(ring_shape), np.zeros(4, np.int64)
        width = math.log(2.0) / bins_per_octave
        n_bins = int(math.ceil((lg_hi - lg_lo) / width)) + 1
        self.bpar = np.array([lg_lo, 1.0 / width])
        self.margin = int(margin)
        self.bint = np.zeros((n_bins, 6), np.int64)
        self.bflt = np.zeros((n_bins, 2))
        self.bflt[:, BOUND] = np.exp(lg_lo + width * np.arange(1, n_bins + 1)) * _BOUND_SAFETY
        self.table = (np.ones(n_bins), np.arange(n_bins, dtype=np.int64), aligned_zeros((n_bins, 4)))
        self.table_work = (np.empty(n_bins), np.empty(n_bins, np.int64))
        self.order = np.arange(n_bins, dtype=np.int64)
        self.pool = np.zeros((0, 2))

    def build(self, rec, extra=None):
        """Size every bin for its current occupancy n_k (+ 8√n_k + 32 + margin, + ``extra``) and fill.

        The slack makes a growth (:meth:`grow`, O(N) in Python: ≈ 0.1 s on 10^6 ES) rare in a run;
        5√n_k + 16 still let a tail bin of 4 bins per octave overflow within 2·10^6 events at
        q = 0.1 on 10^6 ES (n_k 476 → 617).  Spare rows cost memory only: trials use the extent."""
        counts = np.zeros(self.bint.shape[0], np.int64)
        bin_counts(rec, self.bpar, counts)
        cap = counts + (8.0 * np.sqrt(counts)).astype(np.int64) + 32 + self.margin
        cap = np.minimum(cap, rec.shape[0] + self.margin) + (0 if extra is None else extra)
        self.bint[:, CAP] = cap
        self.bint[:, START] = np.concatenate(([0], np.cumsum(cap)[:-1]))
        self.pool = aligned_zeros((int(cap.sum()), 4))      # a 32-byte row never straddles two lines
        fill(self.pool, self.bint, self.bflt, rec, self.bpar)

    def set_order(self, log_rates):
        """Scan bins in order of decreasing expected total rate (for :func:`select`), estimated
        from a sample of ln γ (e.g. many ES drawn from the stationary state); any order is exact."""
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
