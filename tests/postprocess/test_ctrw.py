"""Tests of postprocess.ctrw: τα vs ∫S0, eq. (4), eq. (A2), ξ, CTRW predictions vs simulation."""
import numpy as np
import pytest

from postprocess import ctrw
from postprocess import landscape as L


def test_tau_alpha_equals_integral_of_simulated_persistence():
    rng = np.random.default_rng(6)
    tau = rng.exponential(1.0, 20_000) * np.exp(rng.normal(0.0, 1.0, 20_000))  # broad, like MB times
    jumps = np.cumsum(tau)
    t = np.linspace(0.0, 60.0 * tau.mean(), 20_001)
    s0 = ctrw.persistence_from_jumps(t, jumps[:-1], 0.0, jumps[-1], n_origins=400_000)
    assert s0[0] == pytest.approx(1.0, abs=1e-4) and s0[-1] < 1e-3
    integral = np.trapezoid(s0, t)
    assert integral == pytest.approx(ctrw.tau_alpha(tau[1:]), rel=0.03)
    np.testing.assert_allclose(s0, ctrw.persistence(t, tau[1:]), atol=0.01)


def test_exponential_waiting_times_give_exponential_persistence():
    tau = np.random.default_rng(7).exponential(2.0, 200_000)
    t = np.linspace(0, 8, 9)
    np.testing.assert_allclose(ctrw.persistence(t, tau), np.exp(-t / 2.0), atol=0.01)
    assert ctrw.tau_alpha(tau) == pytest.approx(2.0, rel=0.02)


@pytest.mark.parametrize("sign", (-1, 1))
def test_eq4_and_a2_are_the_untruncated_closed_form(sign):
    p = L.TABLE_I.replace(entropic_sign=sign, e_cut=-np.inf)
    for b in (1.5, 2.0, 2.5):
        lg1 = L.log_mean_rate_power(1, b, p, liquid_branch=False) - np.log(p.gamma0)
        lgm1 = L.log_mean_rate_power(-1, b, p, liquid_branch=False) + np.log(p.gamma0)
        d_part, t_part = ctrw.appendix_a2(b, p)
        assert d_part == pytest.approx(lg1, rel=1e-10) and t_part == pytest.approx(lgm1, rel=1e-10)
        assert ctrw.log_stokes_einstein(b, p, exact=False) == pytest.approx(lg1 + lgm1, rel=1e-10)


def test_xi_low_temperature_limit():
    assert ctrw.xi_low_temperature(0.5) == pytest.approx(0.4)
    for lam in (0.5, 1.0):
        p = L.TABLE_I.replace(lam=lam, e_cut=-np.inf)
        for sign in (-1, 1):
            xi = ctrw.xi_effective(200.0, p.replace(entropic_sign=sign), liquid_branch=False)
            assert xi == pytest.approx(2 * lam / (2 + lam), rel=2e-2)


def test_predicted_moments_match_a_simulated_trap_model():
    """MBs of energy e ~ p_eq entered with frequency ∝ Γ(e), γ from ϖ, τ ~ Exp(γ): ⟨τ⟩, τα, D."""
    rng = np.random.default_rng(8)
    p, b = L.TABLE_I, 1.0 / 0.6
    e = L.sample_p_eq(rng, 2_000_000, b, p)
    entry = L.escape_rate(e, b, p)  # entry frequency weight of each sampled MB
    tau = rng.exponential(1.0 / L.sample_rates(rng, e, b, p))
    mean_tau = np.sum(entry * tau) / entry.sum()
    t_alpha = np.sum(entry * tau**2) / (2.0 * np.sum(entry * tau))
    assert mean_tau == pytest.approx(ctrw.predicted_mean_tau(b, p), rel=0.01)
    assert t_alpha == pytest.approx(ctrw.predicted_tau_alpha(b, p), rel=0.03)
    assert ctrw.diffusion_constant(2.0, 65, mean_tau) == pytest.approx(
        ctrw.predicted_diffusion(b, 2.0, 65, p), rel=0.01)


def test_effective_jump_length_removes_back_and_forth_noise():
    """R_j = W_j + η_j (random walk + iid scatter): single jump a²_w + 2v, effective a²_w."""
    rng = np.random.default_rng(9)
    n_mb, n_part = 20_000, 4
    walk = np.cumsum(rng.normal(0, 0.2, (n_mb, n_part, 3)), axis=0)  # a²_w = 4·3·0.04 = 0.48
    noise = rng.normal(0, 0.3, (n_mb, n_part, 3))  # v = 4·3·0.09 = 1.08
    single, eff = ctrw.jump_length_squared(walk + noise, n_min=16, n_max=200)
    assert single == pytest.approx(0.48 + 2 * 1.08, rel=0.03)
    assert eff == pytest.approx(0.48, rel=0.1)
