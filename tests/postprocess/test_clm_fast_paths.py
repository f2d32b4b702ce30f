"""CLM kernel fast paths equal their plain references bitwise.

The branch-free alias draw against the branching one, the landing-state refill (generator state in
registers) against repeated :func:`draw_state` calls on the same stream, the blocked scan against
``argmin`` (first on ties), and the batched waiting-time tallies against tallying every τ at once.
"""
import math

import numpy as np
import pytest
from numba import njit

from postprocess.clm import kinetics as kin
from postprocess.clm.heap import BLOCK, build_blocks, earliest, set_time
from postprocess.clm.log_bins import log_bin, log_bin_table
from postprocess.clm.processes import alias_pick, build_tables, draw_state
from postprocess.clm.rng import new_cache, seed_state


@njit
def _picks(u, prob, alias):
    out = np.empty(u.size, np.int64)
    for c in range(u.size):
        out[c] = alias_pick(u[c], prob, alias)
    return out


def test_alias_pick_equals_the_branching_draw():
    tb = build_tables(0.6)
    prob, alias = tb.active_prob, tb.active_alias
    u = np.concatenate([np.random.default_rng(4).random(200_000), [0.0, np.nextafter(1.0, 0.0)]])
    x = u * prob.size
    k = np.minimum(x.astype(np.int64), prob.size - 1)
    expected = np.where(x - k < prob[k], k, alias[k])
    np.testing.assert_array_equal(_picks(u, prob, alias), expected)


@njit
def _draw_states(rng, cache, out, prob, alias, tab, log_rate, sign):
    for b in range(out.shape[0]):
        out[b, 0], out[b, 1] = draw_state(rng, cache, prob, alias, tab[0], tab[1], log_rate, tab[2], sign)


@pytest.mark.parametrize("sigma_gamma,sign", [(1.0, 1.0), (1.0, -1.0), (0.0, 1.0)])
def test_refill_equals_repeated_draw_state(sigma_gamma, sign):
    """4096 draws (≈ 40 ziggurat rejections for σ_γ > 0): same values and same generator state after."""
    tb = build_tables(0.6)
    tab = np.array([tb.e_lo, tb.h, sigma_gamma, tb.log_rate_max])
    fast, slow = np.empty((4096, 2)), np.empty((4096, 2))
    rng_fast, rng_slow = seed_state(9), seed_state(9)
    kin._refill(rng_fast, fast, tb.active_prob, tb.active_alias, tab, tb.log_rate, sign)
    _draw_states(rng_slow, new_cache(), slow, tb.active_prob, tb.active_alias, tab, tb.log_rate, sign)
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(rng_fast, rng_slow)


@njit
def _blocked_vs_argmin(key, bmin, barg, n, updates, times):
    """After each update, (earliest by the blocked scan) == (first argmin of the plain times)."""
    bad = 0
    for c in range(updates.size):
        set_time(key, bmin, barg, updates[c], times[c])
        b, t = earliest(bmin)
        i = barg[b]
        j = np.argmin(key[:n])
        bad += (i != j) + (t != key[j])
    return bad


@pytest.mark.parametrize("n", [1, 4, 27, 30, 64])
def test_blocked_scan_finds_the_first_earliest_time(n):
    """Random updates of random times on n ES (padded to whole blocks), ties included."""
    rng = np.random.default_rng(n)
    n_blk = -(-n // BLOCK)
    hkey = np.full(n_blk * (BLOCK + 1), np.inf)
    hkey[:n] = rng.random(n)
    key, bmin, barg = hkey[:n_blk * BLOCK], hkey[n_blk * BLOCK:], np.empty(n_blk, np.int32)
    build_blocks(key, bmin, barg)
    updates = rng.integers(0, n, 20_000)
    times = np.round(rng.random(20_000) * 50) / 50          # coarse grid: many ties
    assert _blocked_vs_argmin(key, bmin, barg, n, updates, times) == 0


@njit
def _close_all(ts, t_lasts, par, acc, taus, moments, thist, lbins):
    t_last = np.zeros(1)
    for c in range(ts.size):
        t_last[0] = t_lasts[c]
        kin._close_interval(t_last, 0, ts[c], par, acc, taus, moments, thist, lbins)
    kin._flush(moments, acc, taus, thist, lbins)


@njit
def _close_each(ts, t_lasts, t0, inv_tblock, moments, thist, lbins):
    """Reference: every τ tallied at once, block sums kept per block in recording order."""
    acc = np.zeros(5)
    for c in range(ts.size):
        if ts[c] < t0:
            continue
        tau = ts[c] - t_lasts[c]
        b = min(int((ts[c] - t0) * inv_tblock), moments.shape[0] - 1)
        if b != acc[0]:
            for m in range(4):
                moments[int(acc[0]), m] += acc[m + 1]
                acc[m + 1] = 0.0
            acc[0] = b
        acc[1] += 1.0
        acc[2] += tau
        acc[3] += tau * tau
        acc[4] += tau * tau * tau
        k = log_bin(tau, lbins[0], lbins[1])
        thist[k, 0] += 1.0
        thist[k, 1] += tau
    for m in range(4):
        moments[int(acc[0]), m] += acc[m + 1]


def test_batched_tallies_equal_tallying_every_waiting_time():
    """Events over a warm-up and 7 time blocks (buffer flushed when full and at block changes)."""
    rng = np.random.default_rng(12)
    ts = np.sort(rng.random(5000) * 8.0)
    t_lasts = ts - rng.exponential(0.3, ts.size)
    par = np.zeros(kin.N_PAR)
    par[kin.P_T0], par[kin.P_TBLOCK], par[kin.P_INV_TBLOCK] = 1.0, 1.0, 1.0
    cells, edges = log_bin_table(math.log(1e-4), math.log(10.0) / 20, 121)
    out = []
    for _ in range(2):
        out.append((np.zeros((7, 4)), np.zeros((edges.size + 1, 2))))
    _close_all(ts, t_lasts, par, np.zeros(kin.N_ACC), np.empty(kin.TAU_BATCH), *out[0], (cells, edges))
    _close_each(ts, t_lasts, 1.0, 1.0, *out[1], (cells, edges))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])
    assert out[0][0][:, 0].sum() == np.sum(ts >= 1.0)
