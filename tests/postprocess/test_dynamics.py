"""Tests of postprocess.dynamics and postprocess.kww: Brownian walk, direction average, KWW."""
import numpy as np
import pytest
from scipy import integrate

from postprocess import dynamics, kww


@pytest.fixture(scope="module")
def brownian():
    rng = np.random.default_rng(21)
    d_true, dt = 0.5, 0.01
    steps = rng.normal(0.0, np.sqrt(2 * d_true * dt), size=(2000, 300, 3))
    return np.cumsum(steps, axis=0), d_true, dt


def test_brownian_walk_fs_and_msd(brownian):
    pos, d_true, dt = brownian
    k = np.array([0.5, 2.0, 7.25, 20.0])
    res = dynamics.scattering(pos, dt, k, n_origins=200)
    exact = np.exp(-np.outer(res.time, k**2) * d_true)
    well_sampled = res.time <= 5.0  # a quarter of the run: many independent origins
    np.testing.assert_allclose(res.fs[well_sampled], exact[well_sampled], atol=0.01)
    np.testing.assert_allclose(res.msd[well_sampled], 6 * d_true * res.time[well_sampled], rtol=0.03)
    d, err = dynamics.diffusion_from_msd(res.time, res.msd, t_min=0.5, t_max=5.0)
    assert d == pytest.approx(d_true, rel=0.05 + 3 * err / d_true)


def test_spherical_average_equals_random_direction_average():
    rng = np.random.default_rng(22)
    pos = np.cumsum(rng.normal(0, 0.3, size=(5, 50, 3)), axis=0)
    k = np.array([3.0, 15.0, 400.0])
    res = dynamics.scattering(pos, 1.0, k, lags=np.array([1, 3]), n_origins=10)
    u = rng.normal(size=(20000, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    for il, lag in enumerate((1, 3)):
        disp = (pos[lag:] - pos[:-lag]).reshape(-1, 3)
        for ik, kk in enumerate(k):
            brute = np.mean(np.cos(kk * disp @ u.T))
            assert res.fs[il, ik] == pytest.approx(brute, abs=0.01)


def test_metabasin_positions_piecewise_constant():
    x = np.arange(6, dtype=float)[:, None, None] * np.ones((6, 2, 3))
    mb = dynamics.metabasin_positions(x, frame_of_mb=[1, 3, 5], mb_start=[0, 2, 5], mb_stop=[1, 4, 5])
    assert mb[:, 0, 0].tolist() == [1, 1, 3, 3, 3, 5]


@pytest.mark.parametrize("amp", (1.0, 0.85))
def test_kww_fit_of_exact_stretched_exponential(amp):
    t = np.geomspace(0.01, 1e4, 200)
    tau0, beta = 37.0, 0.62
    f = amp * np.exp(-((t / tau0) ** beta))
    fit = kww.fit_kww(t, f)
    assert fit.tau0 == pytest.approx(tau0, rel=1e-6) and fit.beta == pytest.approx(beta, rel=1e-6)
    assert fit.amplitude == pytest.approx(amp, rel=1e-6)
    assert fit.tau_alpha == pytest.approx(integrate.quad(lambda s: np.exp(-((s / tau0) ** beta)), 0, np.inf)[0],
                                          rel=1e-6)


def test_crossover_wavevector():
    k = np.geomspace(1, 400, 50)
    tau0_cont = 1e3 / k  # falls through the plateau value 50 at k = 20
    assert kww.crossover_wavevector(k, tau0_cont, 50.0) == pytest.approx(20.0, rel=1e-6)


def test_kww_scan_rejects_decays_faster_than_the_first_frame():
    t = np.geomspace(0.1, 1e3, 80)
    fs = np.column_stack([np.exp(-((t / 50.0) ** 0.5)), 0.5 * np.exp(-((t / 1e-3) ** 0.3))])
    tau0, beta = kww.kww_scan(t, fs, [1.0, 100.0])
    assert tau0[0] == pytest.approx(50.0, rel=1e-4) and np.isnan(tau0[1]) and np.isnan(beta[1])
