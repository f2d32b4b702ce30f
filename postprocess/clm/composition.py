r"""The event loop of the CLM on large lattices: exact trials over rate bins (:mod:`.rate_bins`), drawn ahead.

Same kinetics as :func:`.kinetics.run_events_heap` (the event body :func:`.kinetics._event` is
shared); the next active ES is found by trials (:func:`.rate_bins.trial`: an alias draw of a bin
∝ its bound, a row, an acceptance test), each trial advancing the clock by Exp(1)/B, rejected
ones included (thinning; derived in :mod:`.rate_bins`).

**Trials drawn ahead (software pipelining).**  On 10^6 ES the per-ES records and the pool do not fit
in cache: an event would wait for a chain of memory loads (pool row of the selected ES → its
record → its neighbours' records → their pool rows).  A trial's random numbers (bin, row and
acceptance from one uniform, Exp(1), and the first uniform of the event's link draw) come from their own stream
``rng_sel`` and do not depend on the state, so they are drawn in blocks of ``HALF`` into the ring
``ring`` (``RING`` rows) long before they are used: exact.  The row a trial tests depends on the
state only through the table of bounds, which changes only at a rebuild, so it is computed
("staged") when its half of the ring is drawn — a block of independent load chains that overlap —
and the whole ring is staged again when the table is rebuilt (about once per 3000 events on 10^6
ES: cheaper than testing every trial for a stale row).  The
pool row is prefetched ``LOOK_ROW`` trials ahead; ``LOOK_REC`` trials ahead the row has arrived,
and if it would accept now (almost always the final verdict) the record and link list of its ES
are prefetched; ``LOOK_NB`` trials ahead, the records of the coupled ES its event would hit.
"""
from __future__ import annotations

from numba import njit

from .fast_exp import fast_exp
from .intrinsics import U, prefetch_row, prefetch_row_read
from .kinetics import (DONE, OVERFLOW, P_NOLINK, P_T1, STOPPED, _clock, _event, _flush, _snapshots_before,
                       _split_work)
from .processes import alias_pick
from .rate_bins import (COUNT, FULL, ID, LG, RATE, SLOT, STALE, START, T_LAST, bin_insert, bin_of, bin_remove,
                        build_table, trial)
from .rng import exponential_fast, exponential_rest, unit_float, xoshiro_step

RING, HALF = 64, 32                   # rows of the trial ring; rows drawn at a time
U_BIN, U_ROW, EXP, U_LINK, ROW, THETA, BIN = range(7)      # ring columns
RING_SHAPE = (RING, 7)
NEXT_ROW, DRAWN, TRIALS, BUILDS = range(4)                  # entries of ``ring_state``
LOOK_ROW, LOOK_REC, LOOK_NB = 8, 4, 2   # trials ahead of each prefetch stage (_next_trial)


@njit(cache=True, inline="always")
def _stage(ring, h, table):
    """Ring row h: the pool row, threshold and bin of its trial under the present table
    (``table`` = (prob, alias, entries), see :func:`.rate_bins.build_table`)."""
    hu = U(h)
    s, theta, k = trial(table[0], table[1], table[2], ring[hu, U_BIN], ring[hu, U_ROW])
    ring[hu, ROW], ring[hu, THETA], ring[hu, BIN] = s, theta, k


@njit(cache=True)
def _stage_all(ring, table):
    """Stage every ring row again under a rebuilt table."""
    for h in range(RING):
        _stage(ring, h, table)


@njit(cache=True)
def _draw_half(rng_sel, ring, h0, links, table):
    """Random numbers of the trials in ring rows h0 … h0 + HALF − 1 (state-independent; U_LINK only
    if ``links``), with the generator state held in registers (:func:`.rng.xoshiro_step`), and
    their trials staged under the present table (independent chains of loads, which overlap)."""
    s0, s1, s2, s3 = rng_sel[0], rng_sel[1], rng_sel[2], rng_sel[3]
    for h in range(U(h0), U(h0 + HALF)):
        w_bin, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
        w_row, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
        ring[h, U_BIN], ring[h, U_ROW] = unit_float(w_bin), unit_float(w_row)
        if links:
            w_link, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
            ring[h, U_LINK] = unit_float(w_link)
        w_exp, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
        z, accepted = exponential_fast(w_exp)
        if not accepted:
            rng_sel[0], rng_sel[1], rng_sel[2], rng_sel[3] = s0, s1, s2, s3
            z = exponential_rest(rng_sel, w_exp)
            s0, s1, s2, s3 = rng_sel[0], rng_sel[1], rng_sel[2], rng_sel[3]
        ring[h, EXP] = z
        _stage(ring, h, table)
    rng_sel[0], rng_sel[1], rng_sel[2], rng_sel[3] = s0, s1, s2, s3


@njit(cache=True, inline="always")
def _prefetch_fired(ring, h, pool, rec, neighbours, links, patterns):
    """Ring row h: if its trial would accept now and the links are drawn from pattern tables, find
    the coupled ES its event would hit (the pattern from the row's U_LINK) and prefetch their
    records.  (Geometric skipping: prefetched in the event.  Their pool rows, one more dependent
    stage, are prefetched in :func:`_update_bins`: a stage for them did not pay, measured.)"""
    pat_prob, pat_alias, pat_links = patterns
    hu = U(h)
    su = U(int(ring[hu, ROW]))
    if links == 0 or pat_prob.size == 0 or pool[su, RATE] <= ring[hu, THETA]:
        return
    k_begin, m = int(pool[su, ID]) * links, U(alias_pick(ring[hu, U_LINK], pat_prob, pat_alias))
    for c in range(pat_links[m, 0]):
        prefetch_row(rec, neighbours[U(k_begin + pat_links[m, c + 1])])


@njit(cache=True, inline="always")
def _next_trial(rng_sel, ring, p, pool, rec, bint, table, neighbours, links, patterns):
    """Take the trial in ring row p and run the prefetch stages of the trials ahead: pool row
    (``LOOK_ROW``), then, where the trial would accept now, record and link list of its ES
    (``LOOK_REC``) and the records of the coupled ES its event would hit (``LOOK_NB``); each stage
    reads lines the previous one fetched.  Draws the next half of the ring when p crosses into
    it.  Returns (accepted, Exp(1), pool row, bin, u_link, p + 1)."""
    pu = U(p)
    s, e, theta, k, u_link = int(ring[pu, ROW]), ring[pu, EXP], ring[pu, THETA], int(ring[pu, BIN]), ring[pu, U_LINK]
    prefetch_row_read(pool, int(ring[U((p + LOOK_ROW) % RING), ROW]))
    h = U((p + LOOK_REC) % RING)
    s_ahead = U(int(ring[h, ROW]))
    if pool[s_ahead, RATE] > ring[h, THETA]:
        i = int(pool[s_ahead, ID])
        prefetch_row(rec, i)
        if links:                             # (else no slots are kept: no record to update, run_events)
            prefetch_row_read(neighbours, i * links)
            kb = U(int(ring[h, BIN]))         # the ES that will fill its row (the bin's last member)
            prefetch_row(rec, int(pool[U(bint[kb, START] + bint[kb, COUNT] - 1), ID]))
    _prefetch_fired(ring, (p + LOOK_NB) % RING, pool, rec, neighbours, links, patterns)
    p = (p + 1) % RING
    if p % HALF == 0:
        _draw_half(rng_sel, ring, (p + HALF) % RING, links, table)
    return pool[U(s), RATE] > theta, e, s, k, u_link, p


@njit(cache=True, inline="always")
def _update_bins(pool, bint, bflt, bpar, rec, changed, old_lg, n, s, k, margin, track):
    """Move the n changed ES (the active one in pool row s of bin k, then the passive ones) to the
    bins of their new rates, keeping their slots ``rec[:, SLOT]`` if ``track``; returns the flags of
    :mod:`.rate_bins` (``STALE``, ``FULL``)."""
    for c in range(1, n):           # start the passive ES's pool-row loads together
        prefetch_row(pool, int(rec[U(changed[c]), SLOT]))
    flags, n_bins = 0, bint.shape[0]
    for c in range(n):
        j = changed[c]
        ju = U(j)
        if c > 0:
            s, k = int(rec[ju, SLOT]), bin_of(old_lg[c], bpar, n_bins)
        tl = pool[U(s), T_LAST]
        flags |= bin_remove(pool, bint, rec, k, s, track)[1]
        lg = rec[ju, LG]
        flags |= bin_insert(pool, bint, bflt, rec, bin_of(lg, bpar, n_bins), j, fast_exp(lg), tl, margin, track)
    return flags


@njit(cache=True, _nrt=False)
def run_events(rng, cache, draws, dpos, rec, pool, bint, bflt, table_arrays, table_work, bpar, margin, rng_sel, ring,
               ring_state, offsets, neighbours, link_accept, patterns, log_rate, act_prob, act_alias, pas_prob,
               pas_alias, tab, mode, gauss_redraw, par, clock, istate, max_events, moments, thist, lbins, ehist,
               n_snap, counts, changed, work):
    """Advance the CLM by trials until t_end = ``par[P_T1]``, ``max_events`` events or a bin
    overflow; returns the status (``DONE``, ``STOPPED``, ``OVERFLOW``).

    ``rec`` (per-ES state) and the bins (``pool``, ``bint``, ``bflt``, ``table_arrays`` = (prob, alias,
    entries) of the alias table with its work arrays ``table_work``, ``bpar``; see :mod:`.rate_bins`) are
    updated in place;
    ``rng_sel`` (generator of the trials), ``ring`` (``RING_SHAPE``) and ``ring_state`` = (next
    ring row, drawn, trials, table builds; the last two for diagnostics) persist between calls; ``clock[0]`` is the time [τ], ``istate`` = (snapshots
    taken, unused); the other arguments as in :func:`.kinetics.run_events_heap`.

    **Slots only with couplings.**  ``rec[i, SLOT]`` (the pool row of ES i) serves to find the row
    of an ES hit by a passive process.  Without couplings (q = 0: ``links`` = 0) nothing reads it,
    and it is not kept: a removal would write the slot of the ES moved into the hole, a random
    record whose prefetch (``LOOK_REC``) names the bin's last member of that moment — another ES by
    the event in a quarter of the events on 10^6 ES (counted) —, so the store missed (measured:
    3–4 % of the time of an event).  The slots are then stale after the call; a rebuild of the bins
    (:meth:`.rate_bins.RateBins.build`) sets them again.

    The bin totals R_k (``bflt[:, TOTAL]``) are neither read nor kept here: the trials use only the
    bounds B_k; users of R_k (:func:`.rate_bins.select`) recompute them first
    (:func:`.rate_bins.refresh`).
    """
    t, t_end = clock[0], par[P_T1]
    links = offsets[1] - offsets[0] if par[P_NOLINK] < 1.0 else 0       # 0: no passive process can happen
    acc, old_lg, taus = _split_work(work, changed.size)
    t_last = pool[:, T_LAST]
    p, n_trials, n_builds = ring_state[NEXT_ROW], ring_state[TRIALS], ring_state[BUILDS] + 1
    prob, alias, entries = table_arrays
    b_sum, n_table = build_table(bint, bflt, prob, alias, entries, table_work[0], table_work[1], margin)
    inv_b, table = 1.0 / b_sum, (prob[:n_table], alias[:n_table], entries)
    if ring_state[DRAWN] == 0:
        _draw_half(rng_sel, ring, 0, links, table)
        _draw_half(rng_sel, ring, HALF, links, table)
        ring_state[DRAWN] = 1
    else:                                                # the table was rebuilt (bins may have grown)
        _stage_all(ring, table)
    status = STOPPED
    t_snap = _snapshots_before(t, rec, par, ehist, istate, n_snap)
    n_events, n_passive = 0, 0              # kept in registers, stored after the loop
    for _ in range(max_events):
        dt = 0.0
        accepted = False
        while not accepted:
            accepted, e, s, k, u_link, p = _next_trial(rng_sel, ring, p, pool, rec, bint, table, neighbours,
                                                       links, patterns)
            dt += e
            n_trials += 1
        done, t, t_snap = _clock(t + dt * inv_b, t_end, t_snap, rec, par, ehist, istate, n_snap)
        if done:
            status = DONE
            break
        i = int(pool[U(s), ID])
        n = _event(rng, cache, draws, dpos, u_link, i, t, rec, t_last, s, offsets, neighbours, link_accept, patterns,
                   log_rate, act_prob, act_alias, pas_prob, pas_alias, tab, mode, gauss_redraw, par, acc, taus,
                   moments, thist, lbins, changed, old_lg)
        flags = _update_bins(pool, bint, bflt, bpar, rec, changed, old_lg, n, s, k, margin, links > 0)
        n_events += 1
        n_passive += n - 1
        if flags & FULL:
            status = OVERFLOW
            break
        if flags & STALE:
            b_sum, n_table = build_table(bint, bflt, prob, alias, entries, table_work[0], table_work[1], margin)
            inv_b, table = 1.0 / b_sum, (prob[:n_table], alias[:n_table], entries)
            _stage_all(ring, table)
            n_builds += 1
    ring_state[NEXT_ROW], ring_state[TRIALS], ring_state[BUILDS] = p, n_trials, n_builds
    counts[0] += n_events
    counts[1] += n_passive
    _flush(moments, acc, taus, thist, lbins)
    _snapshots_before(t, rec, par, ehist, istate, n_snap)
    clock[0] = t
    return status
