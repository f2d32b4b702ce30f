"""Ensemble statistics of structural events: N(d)/N_av(d) (Fig. 4), ⟨τ12⟩(d) and τ01 (Fig. 11).

Synthetic ensembles of event tables on a fixed, structured configuration (a vibrating simple-cubic
lattice, so that N_av(d) must follow its g(r) and not the ideal-gas shell volume).
"""
import numpy as np
import pytest
from scipy.stats import chi2

from postprocess.events import EventTable, distance_statistics, first_event_pairs
from postprocess.structure import radial_distribution

L = 8
BOX = np.full(3, float(L))
EDGES = np.arange(0.6, 4.0, 0.3)


def configuration(seed=21):
    rng = np.random.default_rng(seed)
    g = np.arange(L, dtype=float)
    sites = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3)
    return rng, sites + rng.normal(scale=0.15, size=sites.shape)


def table(x, particles, times, structural=None):
    """An EventTable of events by ``particles`` at ``times`` (structural unless told otherwise)."""
    particles, times = np.asarray(particles), np.asarray(times, dtype=float)
    flags = np.ones(len(particles), bool) if structural is None else np.asarray(structural)
    msd = np.where(flags, 5.0, 0.5)
    return EventTable(np.arange(len(particles)), times, particles, x[particles], msd, flags)


def minimum_image_distance(a, b):
    d = a - b
    d -= BOX * np.rint(d / BOX)
    return np.linalg.norm(d, axis=-1)


def ensemble_statistics(x, pairs):
    tables = [table(x, [i, j], [1.0, 2.0]) for i, j in pairs]
    rdf = radial_distribution(x, BOX, np.zeros(len(x), dtype=np.int32), n_bins=400)
    return distance_statistics(first_event_pairs(tables, BOX), rdf, EDGES, float(np.prod(BOX)))


def random_pairs(rng, n, m):
    first = rng.integers(n, size=m)
    return np.stack([first, (first + rng.integers(1, n, size=m)) % n], axis=1)


def test_ratio_is_flat_for_second_events_at_random_particles():
    rng, x = configuration()
    stats = ensemble_statistics(x, random_pairs(rng, len(x), 6000))
    ok = stats.n_av > 10
    assert ok.sum() >= 10 and stats.n.sum() > 2000
    z = (stats.n[ok] - stats.n_av[ok]) / np.sqrt(stats.n_av[ok])
    assert np.sum(z**2) < chi2.ppf(0.999, ok.sum())
    assert np.all(np.abs(stats.ratio[ok] - 1.0) < 4.0 * stats.ratio_err[ok] + 1e-12)


def test_ratio_decays_for_events_planted_in_close_pairs():
    rng, x = configuration()
    pairs = random_pairs(rng, len(x), 6000)
    close = rng.uniform(size=len(pairs)) < 0.5  # half the second events hit a neighbour within 1.5 σ
    for row in np.flatnonzero(close):
        near = np.flatnonzero((minimum_image_distance(x, x[pairs[row, 0]]) < 1.5))
        pairs[row, 1] = rng.choice(near[near != pairs[row, 0]])
    stats = ensemble_statistics(x, pairs)
    r = 0.5 * (EDGES[1:] + EDGES[:-1])
    near, far = (r < 1.5) & (stats.n_av > 10), r > 2.5
    assert np.all(stats.ratio[near] > 5.0)
    # beyond the planted range only the random half remains: N/N_av = 1/2 within errors
    assert np.all(np.abs(stats.ratio[far] - 0.5) < 4.0 * stats.ratio_err[far])
    assert stats.ratio[near].min() > 5.0 * stats.ratio[far].max()


def test_poisson_events_give_flat_tau12_and_tau01_of_the_superposed_rate():
    """Independent particles with rate Γ: τ01 ~ Exp(NΓ) and τ12 ~ Exp((N−1)Γ), whatever d."""
    rng, x = configuration(22)
    n, rate, replicas = len(x), 1e-3, 3000
    tables = []
    for _ in range(replicas):
        t = rng.exponential(1.0 / rate, size=n)
        order = np.argsort(t)[:3]
        tables.append(table(x, order, t[order]))
    pairs = first_event_pairs(tables, BOX)
    np.testing.assert_allclose(pairs.d, minimum_image_distance(x[[tb.particle[1] for tb in tables]],
                                                               x[[tb.particle[0] for tb in tables]]))
    rdf = radial_distribution(x, BOX, np.zeros(n, dtype=np.int32), n_bins=400)
    stats = distance_statistics(pairs, rdf, EDGES, float(L**3))
    assert stats.tau01 == pytest.approx(1.0 / (n * rate), abs=4 * stats.tau01_err)
    assert stats.tau01_err == pytest.approx(1.0 / (n * rate) / np.sqrt(replicas), rel=0.1)
    ok = stats.n > 30
    z = (stats.tau12[ok] - 1.0 / ((n - 1) * rate)) / stats.tau12_err[ok]
    assert np.sum(z**2) < chi2.ppf(0.999, ok.sum())


def test_first_pairs_skip_non_structural_same_particle_and_merged_events():
    _, x = configuration()
    t = table(x, [5, 7, 5, 9, 11], [1.0, 2.0, 3.0, 3.5, 6.0], structural=[False, True, True, True, True])
    pairs = first_event_pairs([t, table(x, [3], [4.0]), table(x, [1], [1.0], [False])], BOX,
                              t_start=0.5, merge_time=1.5)
    # first structural: particle 7 at t = 2; particle 5 at 3 and 9 at 3.5 are within the merge time
    np.testing.assert_allclose(pairs.tau01, [1.5, 3.5, np.nan])
    np.testing.assert_allclose(pairs.tau12, [4.0, np.nan, np.nan])
    assert pairs.d[0] == pytest.approx(minimum_image_distance(x[11], x[7]))
    assert np.isnan(pairs.d[1:]).all()


def test_coupling_with_a_rate_distribution_shortens_tau12_near_the_first_event():
    """Sect. III B model: after the first event its 6 neighbours get a common rate Γm ∈ {5Γ, 50Γ}
    (probability ½ each), all other particles keep Γ.  The next event is an exponential race, so
    P(near | Γm) = 6Γm/R, ⟨τ12 | Γm⟩ = 1/R with R = 6Γm + n_far Γ; averaging over Γm gives the
    expected N(d)/N_av(d) and ⟨τ12⟩ near and far (independent of the analysis code)."""
    rng = np.random.default_rng(23)
    side = 4
    g = np.arange(side, dtype=float)
    x = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3)
    box, n, n_near, replicas = np.full(3, float(side)), side**3, 6, 4000
    rates = np.array([5.0, 50.0])
    first = rng.integers(n, size=replicas)
    gamma_m = rng.choice(rates, size=replicas)
    d_all = x[None, :, :] - x[first, None, :]
    d_all = np.linalg.norm(d_all - box * np.rint(d_all / box), axis=-1)
    rate = np.where(np.abs(d_all - 1.0) < 1e-9, gamma_m[:, None], 1.0)
    rate[np.arange(replicas), first] = 0.0
    with np.errstate(divide="ignore"):
        wait = rng.exponential(size=rate.shape) / rate  # inf for the first particle itself
    second, tau12 = np.argmin(wait, axis=1), np.min(wait, axis=1)
    t1 = rng.exponential(1.0 / n, size=replicas)
    tables = [table(x, [i, j], [a, a + b]) for i, j, a, b in zip(first, second, t1, tau12)]
    rdf = radial_distribution(x, box, np.zeros(n, dtype=np.int32), n_bins=400)
    # bins: the 6 nearest neighbours at 1 σ, and the 12 + 8 particles at √2 and √3 σ
    stats = distance_statistics(first_event_pairs(tables, box), rdf, [0.5, 1.2, 1.9], float(side**3))
    total = n_near * rates + (n - 1 - n_near)  # R for each Γm
    expected_ratio = [np.mean((n - 1) * rates / total), np.mean((n - 1) / total)]
    expected_tau = [np.mean(rates / total**2) / np.mean(rates / total), np.mean(1 / total**2) / np.mean(1 / total)]
    assert np.all(np.abs(stats.ratio - expected_ratio) < 4.0 * stats.ratio_err)
    assert np.all(np.abs(stats.tau12 - expected_tau) < 4.0 * stats.tau12_err)
    assert expected_ratio[0] > 10.0 * expected_ratio[1] and expected_tau[0] < 0.7 * expected_tau[1]
