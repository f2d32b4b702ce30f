"""g(r) against the ideal gas and a brute-force histogram; its first minimum on a lattice."""
import numpy as np
import pytest
from scipy.stats import chi2

from postprocess.structure import (RadialDistribution, expected_pair_fraction, first_minimum,
                                   radial_distribution, shell_volumes)
from pel_hpc.errors import DeckError


def test_ideal_gas_g_is_one_within_error():
    rng = np.random.default_rng(11)
    box = np.array([6.0, 6.0, 7.0])
    x = rng.uniform(0.0, 1.0, size=(20, 400, 3)) * box
    types = (rng.uniform(size=400) < 0.2).astype(np.int32)
    for pair in [(0, 0), (0, 1)]:
        rdf = radial_distribution(x, box, types, pair=pair, n_bins=30)
        ok = rdf.counts > 20
        z = (rdf.g[ok] - 1.0) / rdf.g_err[ok]
        assert ok.sum() >= 25
        assert np.sum(z**2) < chi2.ppf(0.999, ok.sum())
        assert abs(np.average(rdf.g[ok], weights=rdf.counts[ok]) - 1.0) < 0.01


def test_pair_histogram_matches_brute_force():
    rng = np.random.default_rng(12)
    box = np.array([5.0, 5.5, 6.0])
    x = rng.uniform(-3.0, 9.0, size=(3, 120, 3))  # unwrapped: the minimum image must handle it
    types = (rng.uniform(size=120) < 0.3).astype(np.int32)
    rdf = radial_distribution(x, box, types, pair=(0, 1), r_max=2.5, n_bins=25)
    d = x[:, types == 0, None, :] - x[:, None, types == 1, :]
    d -= box * np.rint(d / box)
    reference, _ = np.histogram(np.linalg.norm(d, axis=-1), bins=rdf.edges)
    np.testing.assert_array_equal(rdf.counts, reference)


def test_first_minimum_of_a_vibrating_simple_cubic_lattice_lies_between_its_shells():
    rng = np.random.default_rng(13)
    g = np.arange(6, dtype=float)
    sites = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3)
    x = sites[None] + rng.normal(scale=0.06, size=(10,) + sites.shape)
    rdf = radial_distribution(x, np.full(3, 6.0), np.zeros(len(sites), dtype=np.int32), n_bins=150)
    r_min = first_minimum(rdf)
    assert 1.15 < r_min < 1.3  # shells at 1 and √2 σ, each about 0.085 σ wide
    # the fraction of other particles within r_min is the first shell: 6 of N − 1
    assert expected_pair_fraction(rdf, [0.0, r_min], 216.0)[0] * (len(sites) - 1) == pytest.approx(6.0, rel=0.01)


def test_expected_pair_fraction_of_the_ideal_gas_is_the_shell_volume_over_v():
    rdf = RadialDistribution(np.linspace(0.0, 3.0, 301), np.ones(300), np.zeros(300), np.zeros(300), 1)
    edges = np.array([0.5, 1.0, 2.2, 3.0])
    np.testing.assert_allclose(expected_pair_fraction(rdf, edges, 100.0), shell_volumes(edges) / 100.0, rtol=1e-3)


def test_r_max_beyond_half_box_is_refused():
    with pytest.raises(DeckError, match="r_max"):
        radial_distribution(np.zeros((2, 3)), np.full(3, 4.0), np.zeros(2, dtype=np.int32), r_max=2.5)


def test_first_minimum_of_a_liquid_like_g_is_its_analytic_minimum():
    edges = np.linspace(0.0, 4.0, 401)
    r = 0.5 * (edges[1:] + edges[:-1])
    g = np.where(r > 0.8, 1.0 + 1.5 * np.exp(-1.2 * (r - 1.0)) * np.cos(2.0 * np.pi * (r - 1.05)), 0.0)
    # d/dr [e^{-1.2 u} cos 2π(u − 0.05)] = 0  ⇒  tan 2π(u − 0.05) = −1.2/2π, in the first trough
    exact = 1.0 + 0.05 + (np.pi + np.arctan(-1.2 / (2.0 * np.pi))) / (2.0 * np.pi)
    assert first_minimum(RadialDistribution(edges, g, g, g, 1)) == pytest.approx(exact, abs=0.021)
