r"""Exact, rejection-free event-driven kinetics of the coupled landscape model (CLM).

The lattice is a continuous-time Markov chain: ES i leaves its state (e_i, γ_i) at the fixed rate
γ_i (an exponential waiting time; a passive process sets a new γ, and by memorylessness the clock
of an ES may be restarted at any rate change).  Two exact selections of the next active process
share the event body below:

* :func:`.composition.run_events` (large lattices): trials over rate bins (:mod:`.rate_bins`): an
  alias draw of a bin ∝ its bound B_k ≥ R_k, a row, an acceptance test; every trial advances the
  global clock by Exp(1)/B, B = Σ_k B_k (thinning: exact); O(1) per event for any lattice size,
  with the trials drawn and their memory prefetched ahead.
* :func:`run_events_heap` (``engine="heap"`` or ``"scan"``): the next-reaction method, every ES
  with its own absolute firing time, in a 4-ary min-heap (O(log N) per changed ES) or, on a few
  dozen ES, found by a linear scan (:mod:`.heap`).

**Event** = one active process.  Step order of one event (ES i at time t, written once here):

0. take the energy snapshots (all ES) whose times precede t;
1. close i's waiting interval τ = t − t_last[i] (recorded if t lies in the recording window);
2. active process: (e_i, γ_i) from π ∝ Γ p_eq and ϖ (see :mod:`.processes`);
3. for every coupled ES j, with probability q w_ij (× Γ(e_j)/Γ_max for energy-dependent coupling):
   passive process of j (eq. (5)).  The set of fired links is drawn by :mod:`.links`: one alias
   draw over the 2^L subsets for few links (nearest neighbours), geometric skipping otherwise;
4. the selection structure takes the new rates of i and of every j.

Appendix B caveats: with σ_γ > 0 the waiting time at fixed e is not exponential.  Passive processes
here redraw γ from the *time-weighted* ϖ_t (see :mod:`.processes`), which keeps the stationary
time-weighted state and hence ⟨τ⟩ = 1/⟨Γ⟩_eq exactly invariant (Γ(e) ≡ 1/⟨τ(e)⟩ as in
:mod:`postprocess.landscape`).  Redrawing γ from the per-visit ϖ instead would bias the rates upwards
by e^{σ_γ²} at a passive process — a plausible origin of the paper's "≈ 4 %" change of ⟨τ⟩ (not
verified here).

Statistics: each ES starts from the stationary time-weighted state with an age drawn as Exp(γ)
(exact for q = 0), so intervals ending in [t_warm, t_end) sample the per-visit waiting times.
Sums are kept per time block (for error bars by blocking); the energy distribution is sampled by
snapshots of all ES at evenly spaced times (an unbiased sample of the time-weighted p(e)).
Landing states that do not depend on the old state (the active landing, Boltzmann and
energy-dependent passive processes) are drawn in blocks of ``draws.shape[1]`` into ``draws``
(``dpos`` = next unused row per kind) and taken from there: the same i.i.d. draws, but a block of
independent draws overlaps its table loads, which one draw inside the event's dependency chain
cannot (on 27 ES the gain was within the noise of this shared machine, ≤ 15 %).  The log-τ
histogram bin is found without a logarithm (:mod:`.log_bins`) and rates are exponentiated inline
(:mod:`.fast_exp`).  The per-ES state is one row of ``rec`` = (e [ε], ln γ [ln(1/τ)], t_last [τ],
pool row); the composition–rejection engine keeps t_last in the ES's pool row instead
(``rec[:, TL]`` is then only the initial value), so that an active process reads one random cache
line.  The event loops are compiled without numba's reference counting (``_nrt=False``; they allocate nothing):
with it, every inlined helper taking arrays cost atomic incref/decref pairs, ≈ 60 % of an event.
Kernels return ``DONE`` (t_end reached), ``STOPPED`` (``max_events`` done) or ``OVERFLOW`` (a rate
bin is nearly full: the caller grows it and calls again; the state is consistent between events).
"""
from __future__ import annotations

import math

from numba import njit

from .fast_exp import fast_exp
from .heap import BLOCK, earliest, set_time, sift
from .intrinsics import U, prefetch_row, prefetch_row_read
from .links import accept_link, first_link, next_link
from .log_bins import log_bin
from .processes import BOLTZMANN, GAUSSIAN, alias_pick, draw_state, gaussian_step, landing_state, log_rate_at
from .rate_bins import E, LG, TL
from .rng import exponential, normal_fast, normal_rest, uniform, unit_float, xoshiro_step

# indices into the float parameter vector ``par`` of the kernel
(P_Q, P_A, P_B, P_S, P_ECUT, P_T0, P_T1, P_TBLOCK, P_LOGTMIN, P_DLOGT, P_EHLO, P_EHW,
 P_INV_TBLOCK, P_INV_EHW, P_INV_LOG1MQ, P_NOLINK) = range(16)
N_PAR = 16
DONE, STOPPED, OVERFLOW = 0, 1, 2
TAU_BATCH = 64                          # waiting times buffered before they are tallied (_close_interval)
N_ACC = 7                               # entries of the block accumulator ``acc`` (_close_interval)
SNAP_AHEAD = 128                        # rows of ``rec`` (4 kB) the snapshot scan prefetches ahead


def work_size(n_changed: int) -> int:
    """Length of the kernels' float work array ``work`` (split by :func:`_split_work`)."""
    return N_ACC + n_changed + TAU_BATCH


@njit(cache=True, inline="always")
def _split_work(work, n_changed):
    """(acc, old_lg, taus) of the work array, ``acc`` zeroed (see :func:`_close_interval`)."""
    acc = work[:N_ACC]
    acc[:] = 0.0
    return acc, work[N_ACC:N_ACC + n_changed], work[N_ACC + n_changed:]


@njit(cache=True)
def snapshot(ehist_block, rec, par):
    """Histogram the energies of all ES at one instant (a sample of the time-weighted p(e)).

    The scan prefetches ``SNAP_AHEAD`` rows ahead, one cache line (two rows) at a time: on 10^6 ES
    (32 MB of records, 4 snapshots per run) 1.3–1.9 instead of 2.3–2.5 ms per snapshot, measured;
    the hardware prefetcher alone keeps fewer lines in flight."""
    n = rec.shape[0]
    for i in range(n):
        if i & 1 == 0 and i + SNAP_AHEAD < n:
            prefetch_row_read(rec, i + SNAP_AHEAD)
        x = int((rec[i, E] - par[P_EHLO]) * par[P_INV_EHW])
        if 0 <= x < ehist_block.size:
            ehist_block[x] += 1.0


@njit(cache=True)
def _snapshots_before(t, rec, par, ehist, istate, n_snap):
    """Step 0: take the snapshots k (at t0 + (k + ½)(t_end − t0)/n_snap) with times ≤ t; returns the
    time of the next one (inf: none left), which the event loops compare with t before calling again."""
    t0 = par[P_T0]
    dt = (par[P_T1] - t0) / n_snap
    while istate[0] < n_snap and t >= t0 + (istate[0] + 0.5) * dt:
        snapshot(ehist[istate[0] * ehist.shape[0] // n_snap], rec, par)
        istate[0] += 1
    return t0 + (istate[0] + 0.5) * dt if istate[0] < n_snap else math.inf


@njit(inline="always", cache=True)
def _clock(t_next, t_end, t_snap, rec, par, ehist, istate, n_snap):
    """Move the clock to the next event at ``t_next`` [τ]: returns (done, t, t_snap).

    Done when ``t_next`` lies at or beyond ``t_end`` (the clock then stops at ``t_end``);
    otherwise the snapshots due before ``t_next`` are taken (:func:`_snapshots_before`).
    The one clock rule of every event loop (heap, scan, composition).
    """
    if t_next >= t_end:
        return True, t_end, t_snap
    if t_next >= t_snap:
        t_snap = _snapshots_before(t_next, rec, par, ehist, istate, n_snap)
    return False, t_next, t_snap


@njit(cache=True)
def _tally(acc, taus, thist, lbins):
    """Add the buffered waiting times ``taus[:acc[5]]`` to the running block sums ``acc[1:5]`` =
    (n, Στ, Στ², Στ³) and to the log-τ histogram, in the order they were recorded; empty the buffer.
    ``lbins`` = (cells, edges) of :mod:`.log_bins`."""
    n = int(acc[5])
    s1, s2, s3 = acc[2], acc[3], acc[4]
    for c in range(n):
        tau = taus[c]
        s1 += tau
        s2 += tau * tau
        s3 += tau * tau * tau
        k = U(log_bin(tau, lbins[0], lbins[1]))
        thist[k, 0] += 1.0
        thist[k, 1] += tau
    acc[1] += n
    acc[2], acc[3], acc[4], acc[5] = s1, s2, s3, 0.0


@njit(cache=True)
def _flush(moments, acc, taus, thist, lbins):
    """Tally the buffered τ, then add the running block sums to ``moments[acc[0]]`` and zero them."""
    _tally(acc, taus, thist, lbins)
    b = int(acc[0])
    for c in range(4):
        moments[b, c] += acc[c + 1]
        acc[c + 1] = 0.0


@njit(cache=True, inline="always")
def _close_interval(t_last, r, t, par, acc, taus, moments, thist, lbins):
    """Step 1: τ = t − t_last[r] into the buffer ``taus`` (if t ≥ t0); t_last[r] = t.

    ``acc`` = (block, n, Στ, Στ², Στ³, buffered τ, t_check); zeroed at the start of a kernel call.
    The buffer is tallied (:func:`_tally`) when it is full or the time block changes: the tallies of
    one τ are a chain of dependent loads (log-τ bin, histogram row) that a batch of independent τ
    overlaps (measured on 27 ES: the tallies cost ≈ 16–20 ns per event inside the event, ≈ 5 in
    batches).  Sums and histogram are bitwise those of tallying every τ at once.

    The block b = min(⌊(t − t0)/t_block⌋, n_blocks − 1) is computed only from t_check on, a time
    below the next block's start t0 + (b + 1) t_block by 10^−9 (|t0| + (b + 1) t_block), far more
    than the rounding of the formula: before t_check it gives b again (t only grows), so the blocks
    are bitwise those of computing b for every τ."""
    if t >= par[P_T0]:
        tau = t - t_last[U(r)]
        if t >= acc[6]:
            b = min(int((t - par[P_T0]) * par[P_INV_TBLOCK]), moments.shape[0] - 1)
            if b != acc[0]:
                _flush(moments, acc, taus, thist, lbins)
                acc[0] = b
            ahead = (b + 1) * par[P_TBLOCK]
            acc[6] = par[P_T0] + ahead - 1e-9 * (abs(par[P_T0]) + ahead) if b < moments.shape[0] - 1 else math.inf
        if acc[5] >= taus.size:
            _tally(acc, taus, thist, lbins)
        taus[U(int(acc[5]))] = tau
        acc[5] += 1.0
    t_last[U(r)] = t


@njit(cache=True)
def _refill(rng, buf, prob, alias, tab, log_rate, sign):
    """Fill ``buf`` (B × 2) with independent (e, ln γ) draws: the words of B calls of
    :func:`.processes.draw_state`, in the same order, with the generator state held in registers
    (:func:`.rng.xoshiro_step`; it is written back only around the rare ziggurat rejection)."""
    e_lo, h, sigma_gamma = tab[0], tab[1], tab[2]
    s0, s1, s2, s3 = rng[0], rng[1], rng[2], rng[3]
    for b in range(buf.shape[0]):
        w_cell, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
        w_f, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
        z = 0.0
        if sigma_gamma > 0.0:
            w_z, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
            z, accepted = normal_fast(w_z)
            if not accepted:
                rng[0], rng[1], rng[2], rng[3] = s0, s1, s2, s3
                z = normal_rest(rng, w_z)
                s0, s1, s2, s3 = rng[0], rng[1], rng[2], rng[3]
        buf[b, 0], buf[b, 1] = landing_state(unit_float(w_cell), unit_float(w_f), z, prob, alias, e_lo, h,
                                             log_rate, sigma_gamma, sign)
    rng[0], rng[1], rng[2], rng[3] = s0, s1, s2, s3


@njit(cache=True, inline="always")
def _next_draw(rng, cache, draws, dpos, kind, prob, alias, tab, log_rate, sign):
    """The next buffered draw of ``kind`` (0: active landing, 1: Boltzmann passive, 2: energy-dependent)."""
    p = dpos[kind]
    if p >= draws.shape[1]:
        _refill(rng, draws[kind], prob, alias, tab, log_rate, sign)
        p = 0
    dpos[kind] = p + 1
    return draws[kind, U(p), 0], draws[kind, U(p), 1]


@njit(cache=True, inline="always")
def _passive(rng, cache, draws, dpos, j, rec, mode, gauss_redraw, par, tab, log_rate, act_prob, act_alias,
             pas_prob, pas_alias):
    """Passive process of ES j (eq. (5)): new (e_j, ln γ_j) by the chosen coupling rule."""
    e_lo, h = tab[0], tab[1]
    ju = U(j)
    if mode == GAUSSIAN:
        e_old = rec[ju, E]
        e_new = gaussian_step(rng, cache, e_old, par[P_A], par[P_B], par[P_S], par[P_ECUT], gauss_redraw)
        rec[ju, LG] += log_rate_at(e_new, e_lo, h, log_rate) - log_rate_at(e_old, e_lo, h, log_rate)
        rec[ju, E] = e_new
    elif mode == BOLTZMANN:
        rec[ju, E], rec[ju, LG] = _next_draw(rng, cache, draws, dpos, 1, pas_prob, pas_alias, tab, log_rate, -1.0)
    else:
        rec[ju, E], rec[ju, LG] = _next_draw(rng, cache, draws, dpos, 2, act_prob, act_alias, tab, log_rate, -1.0)


@njit(cache=True, inline="always")
def _couple(rng, cache, draws, dpos, n, k, j, rec, link_accept, mode, gauss_redraw, par, tab, log_rate, act_prob,
            act_alias, pas_prob, pas_alias, changed, old_lg):
    """Link k → j fired: after its thinning, the passive process of j, recorded as ``changed[n]``;
    returns the new n."""
    if not accept_link(rng, k, rec[U(j), E], link_accept, mode, tab, log_rate):
        return n
    changed[n], old_lg[n] = j, rec[U(j), LG]
    _passive(rng, cache, draws, dpos, j, rec, mode, gauss_redraw, par, tab, log_rate, act_prob, act_alias, pas_prob,
             pas_alias)
    return n + 1


@njit(cache=True, inline="always")
def _fired_links(rng, u_link, i, rec, links, neighbours, patterns, par, cand):
    """Candidate links of ES i (step 3, :mod:`.links`) into ``cand[1:]``; returns 1 + their number.
    ``u_link`` is the first uniform of the draw (the pattern, or the first skip), the rest come
    from ``rng``.  The records of their ES are prefetched: they are read only after the active
    process is drawn."""
    pat_prob, pat_alias, pat_links = patterns
    n, k_begin, k_end = 1, i * links, (i + 1) * links
    if par[P_NOLINK] >= 1.0:
        return n
    if pat_prob.size:
        m = alias_pick(u_link, pat_prob, pat_alias)
        for c in range(pat_links[m, 0]):
            cand[n] = k_begin + pat_links[m, c + 1]
            prefetch_row(rec, neighbours[U(cand[n])])
            n += 1
        return n
    k = first_link(u_link, k_begin, k_end, par[P_INV_LOG1MQ], par[P_NOLINK])
    while k < k_end:
        cand[n] = k
        prefetch_row(rec, neighbours[U(k)])
        n += 1
        k = next_link(rng, k, par[P_INV_LOG1MQ])
    return n


@njit(cache=True, inline="always")
def _event(rng, cache, draws, dpos, u_link, i, t, rec, t_last, r, offsets, neighbours, link_accept, patterns,
           log_rate, act_prob, act_alias, pas_prob, pas_alias, tab, mode, gauss_redraw, par, acc, taus, moments,
           thist, lbins, changed, old_lg):
    """Steps 1–3 for ES i at time t (its t_last in ``t_last[r]``); the passively changed ES and their
    old ln γ go to ``changed[1:]``, ``old_lg[1:]``; returns 1 + the number of passive processes.
    ``u_link``: the first uniform of the link draw (:func:`_fired_links`).
    ``patterns`` = (prob, alias, links) of :func:`.links.link_patterns` (empty: geometric skipping);
    ``link_accept`` empty: no thinning by w (pattern tables)."""
    _close_interval(t_last, r, t, par, acc, taus, moments, thist, lbins)
    n_cand = _fired_links(rng, u_link, i, rec, offsets[1] - offsets[0], neighbours, patterns, par, changed)
    changed[0] = i
    rec[U(i), E], rec[U(i), LG] = _next_draw(rng, cache, draws, dpos, 0, act_prob, act_alias, tab, log_rate, 1.0)
    n = 1
    for c in range(1, n_cand):      # changed[c] (a link) is read before changed[n ≤ c] is overwritten
        k = changed[c]
        n = _couple(rng, cache, draws, dpos, n, k, neighbours[U(k)], rec, link_accept, mode, gauss_redraw, par, tab,
                    log_rate, act_prob, act_alias, pas_prob, pas_alias, changed, old_lg)
    return n


@njit(cache=True, _nrt=False)
def run_events_heap(rng, cache, draws, dpos, rec, heap, hkey, pos, offsets, neighbours, link_accept, patterns,
                    log_rate, act_prob, act_alias, pas_prob, pas_alias, tab, mode, gauss_redraw, par,
                    clock, istate, max_events, moments, thist, lbins, ehist, n_snap, counts, changed, work):
    """The same kinetics by the next-reaction method (the reference for :func:`.composition.run_events`).

    ``draws`` (3 × B × 2) and ``dpos`` (3): buffered landing states, see the module docstring.
    ``heap``, ``hkey`` (next firing times [τ] in heap order), ``pos``: see :mod:`.heap`; with an
    empty ``heap``, the blocked scan of :mod:`.heap` (faster than any tree on a few dozen ES):
    ``hkey`` = (firing time of every ES, +inf padded to ``pos.size`` blocks | the block minima) and
    ``pos`` = the ES of each block minimum.  The other arguments and the returned status as in
    :func:`.composition.run_events`.
    """
    t, t_end = clock[0], par[P_T1]
    acc, old_lg, taus = _split_work(work, changed.size)
    t_last = rec[:, TL]
    status = STOPPED
    scan = heap.size == 0
    key, bmin = hkey[:pos.size * BLOCK], hkey[pos.size * BLOCK:]          # blocked scan (heap empty)
    t_snap = _snapshots_before(t, rec, par, ehist, istate, n_snap)
    for _ in range(max_events):
        if scan:
            b, t_next = earliest(bmin)
            i = pos[b]
        else:
            i, t_next = heap[0], hkey[0]
        done, t, t_snap = _clock(t_next, t_end, t_snap, rec, par, ehist, istate, n_snap)
        if done:
            status = DONE
            break
        u_link = uniform(rng) if par[P_NOLINK] < 1.0 else 0.0     # the stream order of the link draw
        n = _event(rng, cache, draws, dpos, u_link, i, t, rec, t_last, i, offsets, neighbours, link_accept, patterns,
                   log_rate, act_prob, act_alias, pas_prob, pas_alias, tab, mode, gauss_redraw, par, acc, taus,
                   moments, thist, lbins, changed, old_lg)
        for c in range(n):          # i sits at the root: reading pos[i] would be a needless cache miss
            j = changed[c]
            t_j = t + exponential(rng) * fast_exp(-rec[j, LG])
            if scan:
                set_time(key, bmin, pos, j, t_j)
            else:
                sift(heap, hkey, pos, 0 if c == 0 else pos[j], t_j)
        counts[0] += 1
        counts[1] += n - 1
    _flush(moments, acc, taus, thist, lbins)
    _snapshots_before(t, rec, par, ehist, istate, n_snap)
    clock[0] = t
    return status


@njit(cache=True)
def initial_state(rng, cache, pas_prob, pas_alias, log_rate, tab, rec, t_next):
    """Draw every ES from the stationary time-weighted state at t = 0.

    e from p_eq, ln γ from the time-weighted ϖ_t (eq. (2)), age Exp(γ) (so t_last < 0), next event
    at Exp(γ) (memoryless; used by the heap, the composition–rejection clock redraws it).  Exact
    stationarity for q = 0.
    """
    for i in range(rec.shape[0]):
        rec[i, E], rec[i, LG] = draw_state(rng, cache, pas_prob, pas_alias, tab[0], tab[1], log_rate,
                                           tab[2], -1.0)
        inv_rate = fast_exp(-rec[i, LG])
        rec[i, TL] = -exponential(rng) * inv_rate
        t_next[i] = exponential(rng) * inv_rate
