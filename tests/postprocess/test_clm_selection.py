"""CLM event selection: composition–rejection is an exact Gillespie selection, its bins stay consistent,
the ziggurat variates are exact, and the new engine reproduces the statistics of the next-reaction heap.

References are analytic (P(i) = γ_i/R, exponential waiting times, N(0,1), Exp(1)) or the heap engine.
"""
import dataclasses
import math

import numpy as np
import pytest
from numba import njit
from scipy import stats

from postprocess.clm.observables import waiting_time_stats
from postprocess.clm.rate_bins import CAP, COUNT, LG, SLOT, START, TOTAL, RateBins, fill, refresh, select
from postprocess.clm.rng import exponential, new_cache, normal, seed_state
from postprocess.clm.simulation import CLMConfig, CLMSimulation
from postprocess.ctrw import predicted_mean_tau
from selection_stats import ALPHA, assert_rate_share_and_exponential_intervals


@njit
def _variates(rng, cache, n, which):
    out = np.empty(n)
    for k in range(n):
        out[k] = normal(rng, cache) if which == 0 else exponential(rng)
    return out


@pytest.mark.parametrize("which,dist,r", [(0, "norm", 3.6541528853610088), (1, "expon", 7.69711747013104972)])
def test_ziggurat_variates_are_exact(which, dist, r):
    """KS against N(0,1) / Exp(1), and the share beyond the ziggurat base r (the tail branch) within 4σ."""
    x = _variates(seed_state(11), new_cache(), 2_000_000, which)
    assert stats.kstest(x, dist).pvalue > ALPHA
    p_tail = 2 * stats.norm.sf(r) if which == 0 else math.exp(-r)
    share = np.mean(np.abs(x) > r)
    assert abs(share - p_tail) < 4 * math.sqrt(p_tail / x.size)


def _bins_with_rates(log_rates):
    """Rate bins over ln γ ∈ [−5, 5] holding ES with the given ln γ (some outside the range)."""
    rec = np.zeros((log_rates.size, 4))
    rec[:, LG] = log_rates
    bins = RateBins(-5.0, 5.0, margin=2, rng=seed_state(0, stream=2))
    bins.build(rec)
    bins.set_order(log_rates[::-1])
    return rec, bins


@njit
def _gillespie(rng, pool, bint, bflt, order, n_events, watched, intervals):
    """Select n_events ES at fixed rates with the clock t += Exp/R; count selections per ES and
    collect the intervals between successive selections of ES ``watched``."""
    r_total = refresh(pool, bint, bflt)
    hits = np.zeros(int(pool[:, 1].max()) + 1)
    t, t_prev, n_int = 0.0, 0.0, 0
    for _ in range(n_events):
        t += exponential(rng) / r_total
        i = int(pool[select(rng, pool, bint, bflt, order, r_total)[0], 1])
        hits[i] += 1.0
        if i == watched and n_int < intervals.size:
            intervals[n_int], t_prev, n_int = t - t_prev, t, n_int + 1
    return hits, n_int


def test_selection_frequency_equals_rate_share_and_waiting_times_are_exponential():
    """Rates over 13 decades, two below and two above the binned range: P(i) = γ_i/R (χ²), and the
    intervals between selections of one ES are Exp(γ_i) (KS), for an ES inside and above the range."""
    rng = np.random.default_rng(5)
    lg = np.concatenate([rng.uniform(-4.9, 4.9, 40), [-15.0, -7.0, 6.0, 7.5]])
    rec, bins = _bins_with_rates(lg)
    rates = np.exp(lg)
    for watched in (int(np.argsort(rates)[-6]), lg.size - 1):
        intervals = np.empty(20000)
        hits, n_int = _gillespie(seed_state(3 + watched), bins.pool, bins.bint, bins.bflt, bins.order,
                                 1_000_000, watched, intervals)
        assert_rate_share_and_exponential_intervals(hits, rates, intervals[1:n_int], watched)


def _assert_bins_consistent(sim):
    """Every ES sits once in the pool at rec[i, SLOT], with its rate, in the bin of its ln γ."""
    b = sim.bins
    used = b.used_rows()
    assert np.all(b.bint[:, COUNT] <= b.bint[:, CAP])
    ids = b.pool[used, 1].astype(int)
    assert np.array_equal(np.sort(ids), np.arange(sim.rec.shape[0]))
    assert np.array_equal(sim.rec[ids, SLOT].astype(int), used)
    np.testing.assert_allclose(b.pool[used, 0], np.exp(sim.rec[ids, LG]), rtol=1e-12)
    refresh(b.pool, b.bint, b.bflt)          # R_k are not kept by the event loop: recomputed for select()
    bin_of_row = np.repeat(np.arange(b.bint.shape[0]), b.bint[:, COUNT])
    totals = np.bincount(bin_of_row, weights=np.exp(sim.rec[ids, LG]), minlength=b.bint.shape[0])
    np.testing.assert_allclose(totals, b.bflt[:, TOTAL], rtol=1e-9, atol=1e-12 * totals.sum())


def test_bins_grow_on_overflow_and_stay_consistent():
    """Bins shrunk to the minimum capacity overflow many times; the run still gives ⟨τ⟩ = 1/⟨Γ⟩."""
    sim = CLMSimulation(CLMConfig(temperature=1.0, q=0.3, shape=(6, 6, 6), duration=300.0), engine="composition")
    b = sim.bins
    b.bint[:, CAP] = b.bint[:, COUNT] + b.margin
    b.bint[:, START] = np.concatenate(([0], np.cumsum(b.bint[:, CAP])[:-1]))
    b.pool = np.zeros((int(b.bint[:, CAP].sum()), 4))
    fill(b.pool, b.bint, b.bflt, sim.rec, b.bpar)
    cap0 = b.bint[:, CAP].sum()
    st = waiting_time_stats(sim.run())
    assert b.bint[:, CAP].sum() > cap0 + 10 * b.margin        # it did grow
    _assert_bins_consistent(sim)
    assert abs(st.mean_tau - predicted_mean_tau(1.0)) < 4 * st.mean_tau_err


def test_without_couplings_the_slots_are_restored_by_a_rebuild():
    """q = 0: the kernel keeps no slots (nothing looks an ES up); after a rebuild of the bins
    (``grow``, as on an overflow) every ES sits once in the pool at rec[i, SLOT], with its rate."""
    sim = CLMSimulation(CLMConfig(temperature=1.0, q=0.0, shape=(6, 6, 6), duration=300.0), engine="composition")
    st = waiting_time_stats(sim.run())
    sim.bins.grow(sim.rec)
    _assert_bins_consistent(sim)
    assert abs(st.mean_tau - predicted_mean_tau(1.0)) < 4 * st.mean_tau_err


@pytest.mark.slow
def test_composition_reproduces_the_heap_engine():
    """Same configuration, both engines: ⟨τ⟩, τα, passive/active and the log-τ histogram agree."""
    cfg = CLMConfig(temperature=0.8, q=0.2, shape=(6, 6, 6), duration=2000.0, n_blocks=20)
    out = {}
    for engine in ("composition", "heap"):
        sim = CLMSimulation(dataclasses.replace(cfg, seed=7), engine=engine)
        tal = sim.run()
        out[engine] = (tal, waiting_time_stats(tal))
        if engine == "composition":
            _assert_bins_consistent(sim)
    (ta, sa), (tb, sb) = out["composition"], out["heap"]
    assert abs(sa.mean_tau - sb.mean_tau) < 4 * math.hypot(sa.mean_tau_err, sb.mean_tau_err)
    assert abs(sa.tau_alpha - sb.tau_alpha) < 4 * math.hypot(sa.tau_alpha_err, sb.tau_alpha_err)
    ra, rb = ta.n_passive / ta.n_active, tb.n_passive / tb.n_active
    assert abs(ra - rb) < 4 * math.sqrt(6 * 0.2 * 0.8 * (1 / ta.n_active + 1 / tb.n_active))
    ha, hb = ta.tau_hist[:, 0], tb.tau_hist[:, 0]
    keep = (ha + hb) > 40
    table = np.vstack([np.append(ha[keep], ha[~keep].sum()), np.append(hb[keep], hb[~keep].sum())])
    assert stats.chi2_contingency(table)[1] > ALPHA


def test_composition_same_seed_same_result():
    cfg = CLMConfig(temperature=0.7, q=0.2, shape=(8, 8, 8), duration=100.0)
    a, b = (CLMSimulation(cfg, engine="composition").run() for _ in range(2))
    assert np.array_equal(a.moments, b.moments) and np.array_equal(a.energy_hist, b.energy_hist)
    assert np.array_equal(a.tau_hist, b.tau_hist) and a.n_passive == b.n_passive


def test_scan_and_heap_are_the_same_trajectory():
    """Both next-reaction variants consume the generator identically: bitwise the same run."""
    cfg = CLMConfig(temperature=0.7, q=0.2, shape=(3, 3, 3), duration=2000.0)
    a, b = (CLMSimulation(cfg, engine=engine).run() for engine in ("scan", "heap"))
    assert np.array_equal(a.moments, b.moments) and np.array_equal(a.energy_hist, b.energy_hist)
    assert np.array_equal(a.tau_hist, b.tau_hist) and a.n_passive == b.n_passive > 0
