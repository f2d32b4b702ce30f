"""Synthetic trap model with known G(e), Γ(e) (eq. (1)) and σ_γ analysed back to its parameters."""
import numpy as np
import pytest

from postprocess import landscape as L
from postprocess.mb_stats import bin_waiting_times, fit_dos, sigma_gamma
from postprocess.pel_fit import fit_pel

TRUE = L.TABLE_I.replace(sigma_gamma=0.8, e0=1.0)
BETAS = (1.0 / 0.6, 1.0 / 0.5, 1.0 / 0.45)


def trap_model(rng, n_mb, beta, p):
    """MB sequence of a trap model: entries ∝ p_eq(e)Γ(e) (rejection), γ ~ ϖ(γ,e), τ ~ Exp(γ)."""
    gmax = np.max(L.escape_rate(np.linspace(p.e_cut, p.e0 + 10 * p.sigma, 2001), beta, p))
    out = []
    while sum(x.size for x in out) < n_mb:
        e = L.sample_p_eq(rng, 4 * n_mb, beta, p)
        out.append(e[rng.random(e.size) < L.escape_rate(e, beta, p) / gmax])
    e = np.concatenate(out)[:n_mb]
    return e, rng.exponential(1.0 / L.sample_rates(rng, e, beta, p))


@pytest.fixture(scope="module")
def sets():
    rng = np.random.default_rng(11)
    return [(b, *trap_model(rng, 150_000, b, TRUE)) for b in BETAS]


def test_dos_recovered_from_time_weighted_mb_energies(sets):
    fit = fit_dos([e for _, e, _ in sets], [t for _, _, t in sets], [b for b, _, _ in sets], e_cut=TRUE.e_cut)
    assert fit.sigma == pytest.approx(TRUE.sigma, abs=max(4 * fit.sigma_err, 0.05))
    assert fit.e0 == pytest.approx(TRUE.e0, abs=max(4 * fit.e0_err, 0.3))


def test_binned_moments_follow_eq1_and_eq2(sets):
    b, e, t = sets[1]
    bins = bin_waiting_times(e, t, b, np.arange(-22.0, -4.0, 1.0), min_count=200)
    model = 1.0 / L.escape_rate(bins.mean_energy, b, TRUE)
    # bins of width 1 ε smear Γ(e) a little: 15 % on ⟨τ⟩, 4 standard errors
    np.testing.assert_array_less(np.abs(np.log(bins.mean_tau / model)), 0.15 + 4 * bins.log_tau_err)
    assert np.median(bins.s_e) > 1.0  # broader than a pure rate process (S = 1)


def test_sigma_gamma_eq3_recovered(sets):
    for b, e, t in sets:
        val, err = sigma_gamma(e, t, b, np.arange(-22.0, -4.0, 0.5), min_count=100)
        assert val == pytest.approx(TRUE.sigma_gamma, abs=max(4 * err, 0.05))


def test_full_table1_fit_recovers_parameters(sets):
    fit = fit_pel(sets, np.arange(-22.0, -4.0, 0.5), e_cut=TRUE.e_cut, min_count=100)
    p, err = fit.params, fit.errors
    for name, tol in (("lam", 0.05), ("e_c", 0.5), ("kappa", 0.1), ("gamma0", 0.5), ("sigma", 0.05)):
        assert getattr(p, name) == pytest.approx(getattr(TRUE, name), abs=max(4 * err[name], tol)), name
    assert fit.chi2_dof < 3.0


def test_reweighted_histograms_collapse_on_one_dos(sets):
    from postprocess.mb_stats import reweighted_log_dos

    energies, weights, betas = [e for _, e, _ in sets], [t for _, _, t in sets], [b for b, _, _ in sets]
    fit = fit_dos(energies, weights, betas, e_cut=TRUE.e_cut)
    centres, curves = reweighted_log_dos(energies, weights, betas, np.arange(-22.0, -8.0, 1.0), fit)
    truth = -0.5 * ((centres - TRUE.e0) / TRUE.sigma) ** 2
    for lg in curves:
        ok = np.isfinite(lg) & (np.abs(centres + 14.0) < 3.5)  # well-populated bins at every T
        resid = lg[ok] - truth[ok]
        assert np.ptp(resid) < 0.6  # one G(e) up to a constant (bins of 1 ε, time-weight noise)


def test_escape_rate_fit_survives_a_bin_with_zero_spread():
    """Quantised waiting times can give a bin whose MBs all lasted one quench interval (error 0)."""
    from postprocess.mb_stats import BinnedWaitingTimes
    from postprocess.pel_fit import _log_rate_model, fit_escape_rate

    truth = np.array([np.log(4.8), 0.5, -11.9, 0.6])
    binned = []
    for beta in (1.25, 1.5, 1.75):
        e = np.linspace(-20.0, -5.0, 12)
        tau = np.exp(-_log_rate_model(truth, e, np.full(e.size, beta), 0.0, 2.9, -1, False))
        err = np.full(e.size, 0.05)
        err[-1] = 0.0  # the liquid-like plateau bin: every MB exactly one interval
        binned.append(BinnedWaitingTimes(beta, np.linspace(-20.5, -4.5, 13), e, np.full(e.size, 50), e, tau,
                                         2 * tau**2, err))
    theta, theta_err, _, undetermined = fit_escape_rate(binned, 0.0, 2.9, -1, False, guess=(1.0, 0.4, -11.0, 0.5, 0.0))
    np.testing.assert_allclose(theta, truth, rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(theta_err)) and undetermined == ()



# Γ(e) bins of the laptop study's two N = 65 runs (T = 0.7, 0.8; 220 and 286 MBs) after the start's
# push changed: (mean MB energy [ε], ⟨τ⟩ [τ], error of ln⟨τ⟩) per bin.  Γ shows no energy dependence
# beyond its noise.
FLAT_GAMMA = {1 / 0.7: [(-373.39, 0.390, 0.194), (-372.44, 0.395, 0.230), (-371.50, 0.321, 0.081),
                        (-370.55, 0.273, 0.083)],
              1 / 0.8: [(-375.48, 0.430, 0.284), (-374.62, 0.349, 0.210), (-373.51, 0.340, 0.123),
                        (-372.57, 0.509, 0.233), (-371.48, 0.263, 0.033), (-370.58, 0.271, 0.053),
                        (-369.52, 0.262, 0.045)]}


def test_escape_rate_fit_keeps_e_c_in_the_data_when_gamma_shows_no_energy_dependence():
    """On these bins an unbounded Levenberg–Marquardt fit sent e_c to −2.8·10⁴ (and λ to 2·10⁴), below
    e_cut, and Table I failed.  e_c must stay between e_cut and the highest binned energy, the fit must
    not be worse than that run-away, and a bound it ends on is reported with a NaN error."""
    from postprocess.mb_stats import BinnedWaitingTimes
    from postprocess.pel_fit import fit_escape_rate

    binned = []
    for beta, rows in FLAT_GAMMA.items():
        e, tau, err = (np.array(c) for c in zip(*rows))
        binned.append(BinnedWaitingTimes(beta, np.append(e - 0.5, e[-1] + 0.5), e, np.full(e.size, 20), e, tau,
                                         2 * tau**2, err))
    e0, sigma, e_cut = -362.96, 2.889, -379.83  # the DOS fit of the same runs
    theta, theta_err, chi2, undetermined = fit_escape_rate(binned, e0, sigma, -1, False, e_cut=e_cut)
    assert e_cut < theta[2] <= -369.52
    assert chi2 < 3.77  # the run-away's χ²/dof
    for k, name in enumerate(("gamma0", "lam", "e_c", "kappa")):
        assert (name in undetermined) == np.isnan(theta_err[k]), name
