r"""Exact, rejection-free event-driven kinetics of the coupled landscape model (next-reaction method).

Each ES i fires its next active process at an absolute time t_i; the times sit in an indexed binary
min-heap (Gibson & Bruck's next-reaction method), so an event costs O(log N) for the fired ES and
for every ES whose rate changed by a passive process.  Because every waiting time is exponential at
fixed γ, a rate change at time t simply redraws t_j = t + Exp(1)/γ'_j (memorylessness): the
kinetics is exact in continuous time, with no time step and no rejected moves.

Step order of one event (ES i at time t, written once here):

1. close i's waiting interval τ = t − t_last[i] (recorded if t lies in the recording window);
2. charge the time spent since i's last state change to the time-weighted energy histogram;
3. active process: (e_i, γ_i) from π ∝ Γ p_eq and ϖ (see :mod:`.processes`), t_i = t + Exp/γ_i;
4. for every coupled ES j, with probability q w_ij (× Γ(e_j)/Γ_max for energy-dependent coupling):
   charge j's histogram, passive process of j, t_j = t + Exp/γ_j.

Appendix B caveats: with σ_γ > 0 the waiting time at fixed e is not exponential; our Γ(e) ≡ 1/⟨τ(e)⟩
(see :mod:`postprocess.landscape`) keeps ⟨τ⟩ = 1/⟨Γ⟩_eq exactly invariant under passive processes,
whereas defining Γ(e) as the mean rate ⟨γ⟩_ϖ would shift ⟨τ⟩ by a few per cent (the paper's ≈ 4 %).

Statistics: each ES starts from the stationary time-weighted state with an age drawn as Exp(γ)
(exact for q = 0), so intervals ending in [t_warm, t_end) sample the per-visit waiting times.
Sums are kept per time block (for error bars by blocking).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .processes import (BOLTZMANN, ENERGY_DEPENDENT, GAUSSIAN, draw_state, gaussian_step,
                        log_rate_at)
from .rng import exponential, uniform

# indices into the float parameter vector ``par`` of the kernel
P_Q, P_A, P_B, P_S, P_ECUT, P_T0, P_T1, P_TBLOCK, P_LOGTMIN, P_DLOGT, P_EHLO, P_EHW = range(12)
N_PAR = 12


@njit(cache=True, inline="always")
def _sift(heap, pos, key, k):
    """Restore the min-heap property around heap slot k (sift up, then down)."""
    i = heap[k]
    ki = key[i]
    while k > 0:
        parent = (k - 1) >> 1
        j = heap[parent]
        if key[j] <= ki:
            break
        heap[k] = j
        pos[j] = k
        k = parent
    n = heap.size
    while True:
        c = 2 * k + 1
        if c >= n:
            break
        if c + 1 < n and key[heap[c + 1]] < key[heap[c]]:
            c += 1
        j = heap[c]
        if key[j] >= ki:
            break
        heap[k] = j
        pos[j] = k
        k = c
    heap[k] = i
    pos[i] = k


@njit(cache=True)
def build_heap(key, heap, pos):
    """Fill ``heap``/``pos`` with all ES ordered by ``key`` (their next firing times)."""
    order = np.argsort(key)
    for k in range(key.size):
        heap[k] = order[k]
        pos[order[k]] = k


@njit(cache=True, inline="always")
def charge_energy(ehist, e, t_from, t_to, par):
    """Add the time spent at energy e within [t_from, t_to] ∩ recording window to its block/bin."""
    t0 = max(t_from, par[P_T0])
    b = int((t0 - par[P_T0]) / par[P_TBLOCK])
    x = int((e - par[P_EHLO]) / par[P_EHW])
    while t0 < t_to and b < ehist.shape[0]:
        t1 = min(t_to, par[P_T0] + (b + 1) * par[P_TBLOCK])
        if t1 > t0 and 0 <= x < ehist.shape[1]:
            ehist[b, x] += t1 - t0
        t0 = max(t0, t1)
        b += 1


@njit(cache=True, inline="always")
def _record_interval(moments, thist, tau, t, par):
    """Add a waiting time τ that ended at t to the block moments and the log-τ histogram."""
    b = int((t - par[P_T0]) / par[P_TBLOCK])
    if t < par[P_T0] or b >= moments.shape[0]:
        return
    moments[b, 0] += 1.0
    moments[b, 1] += tau
    moments[b, 2] += tau * tau
    moments[b, 3] += tau * tau * tau
    x = (math.log(tau) - par[P_LOGTMIN]) / par[P_DLOGT] if tau > 0.0 else -1.0
    k = 0 if x < 0.0 else min(int(x) + 1, thist.shape[0] - 1)
    thist[k, 0] += 1.0
    thist[k, 1] += tau


@njit(cache=True)
def run_events(rng, e, lg, t_next, t_last, t_change, heap, pos, offsets, neighbours, link_q,
               log_rate, act_prob, act_alias, pas_prob, pas_alias, tab, mode, gauss_redraw,
               par, max_events, moments, thist, ehist, counts):
    """Advance the CLM until the next event would pass ``par[P_T1]`` or ``max_events`` were done.

    Arrays ``e`` [ε], ``lg`` (ln γ [ln(1/τ)]) and the times [τ] are updated in place; ``tab`` =
    (e_lo, h, σ_γ, ln Γ_max); ``rng`` is the generator state.  Returns the time reached (t_end, or
    the last event time if ``max_events`` stopped it); ``counts`` += (active, passive) events.
    See the module docstring for the step order.
    """
    e_lo, h, sg, lr_max = tab[0], tab[1], tab[2], tab[3]
    t_end = par[P_T1]
    t = t_end
    for _ in range(max_events):
        i = heap[0]
        t = t_next[i]
        if t >= t_end:
            return t_end
        _record_interval(moments, thist, t - t_last[i], t, par)
        charge_energy(ehist, e[i], t_change[i], t, par)
        t_last[i] = t
        t_change[i] = t
        e[i], lg[i] = draw_state(rng, act_prob, act_alias, e_lo, h, log_rate, sg, 1.0)
        t_next[i] = t + exponential(rng) * math.exp(-lg[i])
        _sift(heap, pos, t_next, pos[i])
        counts[0] += 1
        for k in range(offsets[i], offsets[i + 1]):
            j = neighbours[k]
            pj = link_q[k]
            if mode == ENERGY_DEPENDENT:
                pj *= math.exp(log_rate_at(e[j], e_lo, h, log_rate) - lr_max)
            if uniform(rng) >= pj:
                continue
            charge_energy(ehist, e[j], t_change[j], t, par)
            t_change[j] = t
            if mode == GAUSSIAN:
                e_new = gaussian_step(rng, e[j], par[P_A], par[P_B], par[P_S], par[P_ECUT], gauss_redraw)
                lg[j] += log_rate_at(e_new, e_lo, h, log_rate) - log_rate_at(e[j], e_lo, h, log_rate)
                e[j] = e_new
            elif mode == BOLTZMANN:
                e[j], lg[j] = draw_state(rng, pas_prob, pas_alias, e_lo, h, log_rate, sg, -1.0)
            else:
                e[j], lg[j] = draw_state(rng, act_prob, act_alias, e_lo, h, log_rate, sg, -1.0)
            t_next[j] = t + exponential(rng) * math.exp(-lg[j])
            _sift(heap, pos, t_next, pos[j])
            counts[1] += 1
    return t


@njit(cache=True)
def charge_open_sojourns(ehist, e, t_change, t_end, par):
    """Charge every ES's current sojourn up to t_end to the time-weighted energy histogram."""
    for i in range(e.size):
        charge_energy(ehist, e[i], t_change[i], t_end, par)


@njit(cache=True)
def initial_state(rng, pas_prob, pas_alias, log_rate, tab, e, lg, t_next, t_last, t_change):
    """Draw every ES from the stationary time-weighted state at t = 0.

    e from p_eq, ln γ from the time-weighted ϖ_t (eq. (2)), age Exp(γ) (so t_last < 0), next event
    at Exp(γ) (memoryless).  Exact stationarity for q = 0.
    """
    for i in range(e.size):
        e[i], lg[i] = draw_state(rng, pas_prob, pas_alias, tab[0], tab[1], log_rate, tab[2], -1.0)
        inv_rate = math.exp(-lg[i])
        t_last[i] = -exponential(rng) * inv_rate
        t_change[i] = t_last[i]
        t_next[i] = exponential(rng) * inv_rate
