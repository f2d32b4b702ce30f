r"""Exact, rejection-free event-driven kinetics of the coupled landscape model (next-reaction method).

Each ES i fires its next active process at an absolute time t_i; the times sit in an indexed 4-ary
min-heap (Gibson & Bruck's next-reaction method), so an event costs O(log N) for the fired ES and
for every ES whose rate changed by a passive process.  Because every waiting time is exponential at
fixed γ, a rate change at time t simply redraws t_j = t + Exp(1)/γ'_j (memorylessness): the
kinetics is exact in continuous time, with no time step and no rejected moves.

Step order of one event (ES i at time t, written once here):

0. take the energy snapshots (all ES) whose times precede t;
1. close i's waiting interval τ = t − t_last[i] (recorded if t lies in the recording window);
2. active process: (e_i, γ_i) from π ∝ Γ p_eq and ϖ (see :mod:`.processes`), t_i = t + Exp/γ_i;
3. for every coupled ES j, with probability q w_ij (× Γ(e_j)/Γ_max for energy-dependent coupling):
   passive process of j, t_j = t + Exp/γ_j.  The links are visited by geometric skipping with the
   largest link probability p_max = q max(w) and thinned by w_ij/max(w) (exact, and O(1 + N_eff q)
   per event instead of one random number per link).

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
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .processes import (BOLTZMANN, ENERGY_DEPENDENT, GAUSSIAN, draw_state, gaussian_step,
                        log_rate_at)
from .rng import exponential, uniform

# indices into the float parameter vector ``par`` of the kernel
(P_Q, P_A, P_B, P_S, P_ECUT, P_T0, P_T1, P_TBLOCK, P_LOGTMIN, P_DLOGT, P_EHLO, P_EHW,
 P_INV_TBLOCK, P_INV_DLOGT, P_INV_EHW, P_INV_LOG1MQ) = range(16)
N_PAR = 16


@njit(cache=True, inline="always")
def _sift(heap, hkey, pos, k, key_new):
    """Give heap slot k the key ``key_new`` and restore the 4-ary min-heap (sift up, then down).

    ``heap[k]`` is the ES in slot k, ``hkey[k]`` its next firing time (kept in heap order so that
    the four children of a slot share one cache line), ``pos[i]`` the slot of ES i.
    """
    i = heap[k]
    while k > 0:
        parent = (k - 1) >> 2
        if hkey[parent] <= key_new:
            break
        heap[k] = heap[parent]
        hkey[k] = hkey[parent]
        pos[heap[k]] = k
        k = parent
    n = heap.size
    while True:
        c = 4 * k + 1
        if c >= n:
            break
        best = c
        for d in range(c + 1, min(c + 4, n)):
            if hkey[d] < hkey[best]:
                best = d
        if hkey[best] >= key_new:
            break
        heap[k] = heap[best]
        hkey[k] = hkey[best]
        pos[heap[k]] = k
        k = best
    heap[k] = i
    hkey[k] = key_new
    pos[i] = k


@njit(cache=True)
def build_heap(key, heap, hkey, pos):
    """Fill the 4-ary heap with all ES ordered by ``key`` (their next firing times); a sorted
    array is a valid heap."""
    order = np.argsort(key)
    for k in range(key.size):
        heap[k] = order[k]
        hkey[k] = key[order[k]]
        pos[order[k]] = k


@njit(cache=True, inline="always")
def _log_tau_bin(tau, par, n_bins):
    """Index of the log-τ histogram bin of τ (0: below the first edge, n_bins − 1: above the last)."""
    if tau <= 0.0:
        return 0
    x = (math.log(tau) - par[P_LOGTMIN]) * par[P_INV_DLOGT]
    return 0 if x < 0.0 else min(int(x) + 1, n_bins - 1)


@njit(cache=True)
def snapshot(ehist_block, e, par):
    """Histogram the energies of all ES at one instant (a sample of the time-weighted p(e))."""
    for i in range(e.size):
        x = int((e[i] - par[P_EHLO]) * par[P_INV_EHW])
        if 0 <= x < ehist_block.size:
            ehist_block[x] += 1.0


@njit(cache=True, inline="always")
def _passive(rng, cache, j, e, lg, mode, gauss_redraw, par, tab, log_rate, act_prob, act_alias,
             pas_prob, pas_alias):
    """Passive process of ES j (eq. (5)): new (e_j, ln γ_j) by the chosen coupling rule."""
    e_lo, h, sg = tab[0], tab[1], tab[2]
    if mode == GAUSSIAN:
        e_new = gaussian_step(rng, cache, e[j], par[P_A], par[P_B], par[P_S], par[P_ECUT], gauss_redraw)
        lg[j] += log_rate_at(e_new, e_lo, h, log_rate) - log_rate_at(e[j], e_lo, h, log_rate)
        e[j] = e_new
    elif mode == BOLTZMANN:
        e[j], lg[j] = draw_state(rng, cache, pas_prob, pas_alias, e_lo, h, log_rate, sg, -1.0)
    else:
        e[j], lg[j] = draw_state(rng, cache, act_prob, act_alias, e_lo, h, log_rate, sg, -1.0)


@njit(cache=True, inline="always")
def _next_link(rng, k, inv_log1mq):
    """Next candidate link after k: Bernoulli(p_max) trials on successive links, done by geometric
    skipping (``inv_log1mq`` = 1/ln(1 − p_max); −inf: none fires; −0: every link is a candidate)."""
    skip = math.log(1.0 - uniform(rng)) * inv_log1mq
    return k + 1 + (int(skip) if skip < 4.0e18 else 4000000000000000000)


@njit(cache=True, inline="always")
def _flush(moments, b, s0, s1, s2, s3):
    moments[b, 0] += s0
    moments[b, 1] += s1
    moments[b, 2] += s2
    moments[b, 3] += s3


@njit(cache=True)
def run_events(rng, cache, e, lg, t_last, heap, hkey, pos, offsets, neighbours, link_accept,
               log_rate, act_prob, act_alias, pas_prob, pas_alias, tab, mode, gauss_redraw,
               par, max_events, moments, thist, ehist, n_snap, counts):
    """Advance the CLM until the next event would pass ``par[P_T1]`` or ``max_events`` were done.

    Arrays ``e`` [ε], ``lg`` (ln γ [ln(1/τ)]), ``t_last`` and the heap (``heap``, ``hkey`` = next
    firing times [τ] in heap order, ``pos``) are updated in place; ``tab`` =
    (e_lo, h, σ_γ, ln Γ_max); ``rng``/``cache`` are the generator state.  ``n_snap`` energy
    snapshots are taken at evenly spaced times of the recording window.  Returns the time reached
    (t_end, or the last event time if ``max_events`` stopped it); ``counts`` += (active, passive).
    See the module docstring for the step order.
    """
    e_lo, h, sg, lr_max = tab[0], tab[1], tab[2], tab[3]
    t0, t_end, n_blocks = par[P_T0], par[P_T1], moments.shape[0]
    dt_snap = (t_end - t0) / n_snap
    k_snap, t_snap = 0, t0 + 0.5 * dt_snap
    cur_b, s0, s1, s2, s3 = 0, 0.0, 0.0, 0.0, 0.0
    t = t_end
    for _ in range(max_events):
        i = heap[0]
        t = hkey[0]
        if t >= t_end:
            t = t_end
            break
        while t >= t_snap and k_snap < n_snap:
            snapshot(ehist[k_snap * n_blocks // n_snap], e, par)
            k_snap += 1
            t_snap = t0 + (k_snap + 0.5) * dt_snap
        tau = t - t_last[i]
        if t >= t0:
            b = min(int((t - t0) * par[P_INV_TBLOCK]), n_blocks - 1)
            if b != cur_b:
                _flush(moments, cur_b, s0, s1, s2, s3)
                cur_b, s0, s1, s2, s3 = b, 0.0, 0.0, 0.0, 0.0
            s0 += 1.0
            s1 += tau
            s2 += tau * tau
            s3 += tau * tau * tau
            k = _log_tau_bin(tau, par, thist.shape[0])
            thist[k, 0] += 1.0
            thist[k, 1] += tau
        t_last[i] = t
        e[i], lg[i] = draw_state(rng, cache, act_prob, act_alias, e_lo, h, log_rate, sg, 1.0)
        _sift(heap, hkey, pos, 0, t + exponential(rng) * math.exp(-lg[i]))
        counts[0] += 1
        k, k_end = offsets[i] - 1, offsets[i + 1]
        while True:
            k = _next_link(rng, k, par[P_INV_LOG1MQ])
            if k >= k_end:
                break
            j = neighbours[k]
            if link_accept[k] < 1.0 and uniform(rng) >= link_accept[k]:   # thinning: q w_k of q w_max
                continue
            if mode == ENERGY_DEPENDENT:      # thinning: accept with Γ(e_j)/Γ_max
                if uniform(rng) >= math.exp(log_rate_at(e[j], e_lo, h, log_rate) - lr_max):
                    continue
            _passive(rng, cache, j, e, lg, mode, gauss_redraw, par, tab, log_rate, act_prob, act_alias,
                     pas_prob, pas_alias)
            _sift(heap, hkey, pos, pos[j], t + exponential(rng) * math.exp(-lg[j]))
            counts[1] += 1
    _flush(moments, cur_b, s0, s1, s2, s3)
    while t >= t_end and k_snap < n_snap:
        snapshot(ehist[k_snap * n_blocks // n_snap], e, par)
        k_snap += 1
    return t


@njit(cache=True)
def initial_state(rng, cache, pas_prob, pas_alias, log_rate, tab, e, lg, t_next, t_last):
    """Draw every ES from the stationary time-weighted state at t = 0.

    e from p_eq, ln γ from the time-weighted ϖ_t (eq. (2)), age Exp(γ) (so t_last < 0), next event
    at Exp(γ) (memoryless).  Exact stationarity for q = 0.
    """
    for i in range(e.size):
        e[i], lg[i] = draw_state(rng, cache, pas_prob, pas_alias, tab[0], tab[1], log_rate, tab[2], -1.0)
        inv_rate = math.exp(-lg[i])
        t_last[i] = -exponential(rng) * inv_rate
        t_next[i] = exponential(rng) * inv_rate
