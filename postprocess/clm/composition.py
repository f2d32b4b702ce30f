r"""The composition–rejection event loop of the CLM (large lattices), with the next selections prefetched.

Same kinetics as :func:`.kinetics.run_events_heap` (the event body :func:`.kinetics._event` is
shared); the next active ES is drawn by composition–rejection over rate bins (:mod:`.rate_bins`),
the clock advancing by Exp(1)/R.

**Look-ahead (software pipelining).**  On 10^6 ES the per-ES records and the pool do not fit in
cache: an event would wait for a chain of memory loads (pool row of the selected ES → its record →
its neighbours' records → their pool rows).  The selection's uniforms come from their own stream
``rng_sel`` and are drawn two events ahead (``ahead``, a ring of three rows: bin, and two member
attempts).  They do not depend on the state, so using them later is exact; and the pool rows they
pick in the *present* state are almost always the ones they will pick at their event: the bin
totals change little per event, and a member row is drawn over the bin's capacity, not its
count (:func:`.rate_bins.select_from`).  So, while event n is processed, the two candidate pool
rows of event n + 2 are prefetched, and the record and link list of the ES of event n + 1 (whose
pool row was prefetched one event earlier).  A wrong guess costs only a wasted prefetch.
"""
from __future__ import annotations

from numba import njit

from .fast_exp import fast_exp
from .intrinsics import prefetch_row, prefetch_row_read
from .kinetics import DONE, OVERFLOW, P_NOLINK, P_T1, STOPPED, _clock, _event, _flush, _snapshots_before
from .rate_bins import (AHEAD_ROWS, CAP, COUNT, ID, LG, SLOT, START, T_LAST, bin_insert, bin_of, bin_remove,
                        candidate_bin, refresh, select_from)
from .rng import exponential, uniform

LOOK_POOL, LOOK_REC = AHEAD_ROWS - 1, 1      # events ahead: pool rows prefetched, records prefetched


@njit(cache=True, inline="always")
def _look_ahead(rng_sel, rec, pool, bint, bflt, order, r_total, neighbours, links, ahead, h):
    """Ring row h is event n.  Prefetch the record and links of the ES in the pool row guessed for
    event n + ``LOOK_REC`` (``ahead[., 5]``, prefetched ``LOOK_POOL − LOOK_REC`` events ago) and draw
    the uniforms of event n + ``LOOK_POOL`` into the free row, prefetching the pool rows of its two
    member attempts and keeping the first as its guess."""
    h1, h2 = (h + LOOK_REC) % AHEAD_ROWS, (h + LOOK_POOL) % AHEAD_ROWS     # a constant: no division
    s1 = int(ahead[h1, 5])
    if 0 <= s1 < pool.shape[0]:
        i1 = int(pool[s1, ID])
        prefetch_row(rec, i1)
        if links:
            prefetch_row_read(neighbours, i1 * links)
    for c in range(5):
        ahead[h2, c] = uniform(rng_sel)
    k = candidate_bin(bint, bflt, order, r_total, ahead[h2, 0])
    ahead[h2, 5] = -1.0
    if k >= 0:
        ahead[h2, 5] = bint[k, START] + int(ahead[h2, 1] * bint[k, CAP])
        prefetch_row_read(pool, int(ahead[h2, 5]))
        prefetch_row_read(pool, bint[k, START] + int(ahead[h2, 3] * bint[k, CAP]))


@njit(cache=True)
def _fill_ring(rng_sel, ahead, ahead_state):
    """First call: uniforms for the next ``LOOK_POOL`` events, no guessed rows yet."""
    for c in range(LOOK_POOL * 5):
        ahead[(ahead_state[0] + c // 5) % AHEAD_ROWS, c % 5] = uniform(rng_sel)
    ahead[:, 5] = -1.0
    ahead_state[1] = 1


@njit(cache=True, inline="always")
def _update_bins(pool, bint, bflt, bpar, rec, changed, old_lg, n, s, k, margin, r_total):
    """Move the n changed ES (the active one in pool row s of bin k, then the passive ones) to the
    bins of their new rates; returns (R, overflow flag)."""
    for c in range(1, n):           # start the passive ES's pool-row loads together
        prefetch_row(pool, int(rec[changed[c], SLOT]))
    full, n_bins = False, bint.shape[0]
    for c in range(n):
        j = changed[c]
        if c > 0:
            s, k = int(rec[j, SLOT]), bin_of(old_lg[c], bpar, n_bins)
        tl = pool[s, T_LAST]
        r_total -= bin_remove(pool, bint, bflt, rec, k, s)
        rate = fast_exp(rec[j, LG])
        full |= bin_insert(pool, bint, bflt, rec, bin_of(rec[j, LG], bpar, n_bins), j, rate, tl, margin)
        r_total += rate
    return r_total, full


@njit(cache=True, _nrt=False)
def run_events(rng, cache, draws, dpos, rec, pool, bint, bflt, order, bpar, margin, rng_sel, ahead, ahead_state,
               offsets, neighbours, link_accept, patterns, log_rate, act_prob, act_alias, pas_prob, pas_alias, tab,
               mode, gauss_redraw, par, clock, istate, max_events, moments, thist, lbins, ehist, n_snap, counts,
               changed, work):
    """Advance the CLM by composition–rejection until t_end = ``par[P_T1]``, ``max_events`` events or
    a bin overflow; returns the status (``DONE``, ``STOPPED``, ``OVERFLOW``).

    ``rec`` (per-ES state) and the bins (``pool``, ``bint``, ``bflt``, ``order``, ``bpar``; see
    :mod:`.rate_bins`) are updated in place; ``rng_sel`` (generator of the selections), ``ahead``
    (``AHEAD_ROWS`` × 6: uniforms of the bin and two member attempts, guessed pool row) and
    ``ahead_state`` = (ring row of the next event, rows filled) persist between calls; ``clock[0]``
    is the time [τ], ``istate`` = (snapshots taken, events since the last refresh of the bin
    totals, done every max(N, 2^16) events); the other arguments as in
    :func:`.kinetics.run_events_heap`.
    """
    t, t_end = clock[0], par[P_T1]
    links = offsets[1] - offsets[0] if par[P_NOLINK] < 1.0 else 0       # 0: no passive process can happen
    acc, old_lg, taus, t_last = work[:6], work[6:6 + changed.size], work[6 + changed.size:], pool[:, T_LAST]
    acc[:] = 0.0
    r_total = refresh(pool, bint, bflt)
    refresh_every = max(rec.shape[0], 65536)
    if ahead_state[1] == 0:
        _fill_ring(rng_sel, ahead, ahead_state)
    status = STOPPED
    t_snap = _snapshots_before(t, rec, par, ehist, istate, n_snap)
    for _ in range(max_events):
        t_next = t + exponential(rng) / r_total
        done, t, t_snap = _clock(t_next, t_end, t_snap, rec, par, ehist, istate, n_snap)
        if done:
            status = DONE
            break
        h = ahead_state[0]
        s, k = select_from(rng_sel, pool, bint, bflt, order, r_total, ahead[h, 0], ahead[h, 1], ahead[h, 2],
                           ahead[h, 3], ahead[h, 4])
        i = int(pool[s, ID])
        prefetch_row(rec, i)                                                    # written below
        prefetch_row(rec, int(pool[bint[k, START] + bint[k, COUNT] - 1, ID]))   # moved within bin k
        _look_ahead(rng_sel, rec, pool, bint, bflt, order, r_total, neighbours, links, ahead, h)
        ahead_state[0] = (h + 1) % AHEAD_ROWS
        n = _event(rng, cache, draws, dpos, i, t, rec, t_last, s, offsets, neighbours, link_accept, patterns,
                   log_rate, act_prob, act_alias, pas_prob, pas_alias, tab, mode, gauss_redraw, par, acc, taus,
                   moments, thist, lbins, changed, old_lg)
        r_total, full = _update_bins(pool, bint, bflt, bpar, rec, changed, old_lg, n, s, k, margin, r_total)
        counts[0] += 1
        counts[1] += n - 1
        istate[1] += 1
        if istate[1] >= refresh_every:
            istate[1], r_total = 0, refresh(pool, bint, bflt)
        if full:
            status = OVERFLOW
            break
    _flush(moments, acc, taus, thist, lbins)
    _snapshots_before(t, rec, par, ehist, istate, n_snap)
    clock[0] = t
    return status
