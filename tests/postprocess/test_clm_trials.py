"""CLM trials over rate-bin bounds: an exact selection and an exact (thinning) clock, bounds that hold
through a run, and the statistics of the next-reaction heap.

References are analytic (P(i) = γ_i/R; the intervals between selections of one ES are Exp(γ_i))
or the heap engine.  The clock test also shows that it discriminates: charging Exp(B) once per
accepted trial (rejected trials taking no time) is rejected.
"""
import dataclasses
import math

import numpy as np
import pytest
from numba import njit
from scipy import stats

from postprocess.clm.composition import BUILDS
from postprocess.clm.observables import waiting_time_stats
from postprocess.clm.rate_bins import (BOUND, CAP, COUNT, EXTENT, FLOOR, ID, LG, RATE, START, RateBins, build_table,
                                       trial)
from postprocess.clm.rng import exponential, seed_state, uniform
from postprocess.clm.simulation import CLMConfig, CLMSimulation
from selection_stats import assert_rate_share_and_exponential_intervals

THINNING, EXP_R_PER_EVENT, EXP_B_PER_EVENT = 0, 1, 2      # clocks: exact, exact, wrong


@njit
def _trials(rng, pool, bint, bflt, table, b_sum, r_total, n_events, watched, intervals, clock):
    """Select n_events ES at fixed rates by trials; the clock advances by Exp(1)/B per trial
    (THINNING), by Exp(1)/R per selection (EXP_R_PER_EVENT) or by Exp(1)/B per selection only
    (EXP_B_PER_EVENT).  Counts selections per ES, trials, and the intervals of ES ``watched``."""
    hits = np.zeros(int(pool[:, ID].max()) + 1)
    t, t_prev, n_int, n_trials = 0.0, 0.0, 0, 0
    for _ in range(n_events):
        while True:
            u_bin, u_row = uniform(rng), uniform(rng)
            s, theta, k = trial(table[0], table[1], table[2], u_bin, u_row)
            n_trials += 1
            if clock == THINNING:
                t += exponential(rng) / b_sum
            if pool[int(s), RATE] > theta:
                break
        if clock == EXP_R_PER_EVENT:
            t += exponential(rng) / r_total
        elif clock == EXP_B_PER_EVENT:
            t += exponential(rng) / b_sum
        i = int(pool[int(s), ID])
        hits[i] += 1.0
        if i == watched and n_int < intervals.size:
            intervals[n_int], t_prev, n_int = t - t_prev, t, n_int + 1
    return hits, n_int, n_trials


def _bins(log_rates):
    """Rate bins over ln γ ∈ [−5, 5] holding ES with the given ln γ, and their table."""
    rec = np.zeros((log_rates.size, 4))
    rec[:, LG] = log_rates
    bins = RateBins(-5.0, 5.0, margin=2, rng=seed_state(0, stream=2))
    bins.build(rec)
    b_sum, n_table = build_table(bins.bint, bins.bflt, *bins.table, *bins.table_work)
    prob, alias, entries = bins.table
    return bins, b_sum, (prob[:n_table], alias[:n_table], entries)


@pytest.mark.parametrize("clock", [THINNING, EXP_R_PER_EVENT])
def test_trials_select_by_rate_and_both_exact_clocks_give_exponential_intervals(clock):
    """Rates over 13 decades, two below and two above the binned range, bins with empty rows:
    P(i) = γ_i/R (χ²), and the intervals between selections of one ES are Exp(γ_i) (KS)."""
    rng = np.random.default_rng(5)
    lg = np.concatenate([rng.uniform(-4.9, 4.9, 40), [-15.0, -7.0, 6.0, 7.5]])
    bins, b_sum, table = _bins(lg)
    rates = np.exp(lg)
    assert b_sum > 1.05 * rates.sum()                       # rejections do happen
    for watched in (int(np.argsort(rates)[-6]), lg.size - 1):
        intervals = np.empty(20000)
        hits, n_int, n_trials = _trials(seed_state(3 + watched), bins.pool, bins.bint, bins.bflt, table, b_sum,
                                        rates.sum(), 1_000_000, watched, intervals, clock)
        assert_rate_share_and_exponential_intervals(hits, rates, intervals[1:n_int], watched)
        assert n_trials / 1e6 == pytest.approx(b_sum / rates.sum(), rel=0.01)     # a trial accepts w.p. R/B


def test_clock_without_the_rejected_trials_is_detected():
    """Exp(B) once per selection (rejected trials taking no time) runs fast by R/B: KS rejects."""
    rng = np.random.default_rng(5)
    lg = np.concatenate([rng.uniform(-4.9, 4.9, 40), [-15.0, -7.0, 6.0, 7.5]])
    bins, b_sum, table = _bins(lg)
    rates = np.exp(lg)
    watched = int(np.argsort(rates)[-6])
    intervals = np.empty(20000)
    n_int = _trials(seed_state(9), bins.pool, bins.bint, bins.bflt, table, b_sum, rates.sum(), 1_000_000, watched,
                    intervals, EXP_B_PER_EVENT)[1]
    assert stats.kstest(intervals[1:n_int] * rates[watched], "expon").pvalue < 1e-6


def _assert_bounds_hold(sim):
    """Every bin: count ≤ extent ≤ capacity, members' γ < γ̄_k, rows behind the members hold γ = 0."""
    b = sim.bins
    assert np.all(b.bint[:, COUNT] <= b.bint[:, CAP])
    for k in range(b.bint.shape[0]):
        start, count, cap = b.bint[k, START], b.bint[k, COUNT], b.bint[k, CAP]
        assert np.all(b.pool[start:start + count, RATE] < b.bflt[k, BOUND])
        assert np.all(b.pool[start + count:start + cap, RATE] == 0.0)
    assert np.all(b.bint[:, COUNT] <= b.bint[:, EXTENT]) and np.all(b.bint[:, COUNT] >= b.bint[:, FLOOR])


def test_bounds_hold_through_runs_with_many_rebuilds():
    """A small lattice with strong coupling rebuilds its table often; the bounds hold after each
    window and the run still gives the q-invariant ⟨τ⟩ = 1/⟨Γ⟩ (heap engine as reference)."""
    cfg = CLMConfig(temperature=0.8, q=0.3, shape=(5, 5, 5), duration=400.0, n_blocks=16)
    sim = CLMSimulation(cfg, engine="composition")
    st = waiting_time_stats(sim.run())
    _assert_bounds_hold(sim)
    builds = sim.bins.ring_state[BUILDS]
    assert builds > 100
    st_heap = waiting_time_stats(CLMSimulation(cfg, engine="heap").run())
    assert abs(st.mean_tau - st_heap.mean_tau) < 4 * math.hypot(st.mean_tau_err, st_heap.mean_tau_err)
    sim.run()
    _assert_bounds_hold(sim)


@pytest.mark.parametrize("coupling,q", [("gaussian", 0.3), ("energy_dependent", 0.6)])
def test_trial_engine_reproduces_the_heap_engine(coupling, q):
    """⟨τ⟩, τα and passive/active of the trial engine and the heap agree within 4 σ (the link
    draw's first uniform comes from the trial ring here, from the event stream there)."""
    cfg = CLMConfig(temperature=0.8, q=q, coupling=coupling, shape=(6, 6, 6), duration=600.0, n_blocks=16)
    out = {}
    for engine in ("composition", "heap"):
        tal = CLMSimulation(dataclasses.replace(cfg, seed=11), engine=engine).run()
        out[engine] = (tal, waiting_time_stats(tal))
    (ta, sa), (tb, sb) = out["composition"], out["heap"]
    assert abs(sa.mean_tau - sb.mean_tau) < 4 * math.hypot(sa.mean_tau_err, sb.mean_tau_err)
    assert abs(sa.tau_alpha - sb.tau_alpha) < 4 * math.hypot(sa.tau_alpha_err, sb.tau_alpha_err)
    ra, rb = ta.n_passive / ta.n_active, tb.n_passive / tb.n_active
    assert abs(ra - rb) < 4 * math.sqrt(6 * q * (1 / ta.n_active + 1 / tb.n_active))


def test_continued_run_equals_one_run_of_the_same_seed():
    """Two windows of one simulation and the same two windows of a second one: bitwise equal
    (ring, epoch and table state persist between kernel calls)."""
    cfg = CLMConfig(temperature=0.7, q=0.2, shape=(7, 7, 7), duration=50.0)
    a, b = CLMSimulation(cfg, engine="composition"), CLMSimulation(cfg, engine="composition")
    for _ in range(2):
        ta, tb = a.run(), b.run()
        assert np.array_equal(ta.moments, tb.moments) and np.array_equal(ta.tau_hist, tb.tau_hist)
    assert np.array_equal(a.rec, b.rec)
