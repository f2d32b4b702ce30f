"""Tests of postprocess.landscape: closed forms vs quadrature, limits, sampling, eq. (2)/(3)."""
import math

import numpy as np
import pytest
from scipy import integrate

from postprocess import landscape as L

BETAS = (1.0 / 0.6, 2.0, 1.0 / 0.45)


@pytest.mark.parametrize("sign", (-1, 1))
@pytest.mark.parametrize("liquid_branch", (True, False))
@pytest.mark.parametrize("e_cut", (-25.0, -np.inf))
def test_closed_form_matches_quadrature(sign, liquid_branch, e_cut):
    p = L.TABLE_I.replace(entropic_sign=sign, e_cut=e_cut)
    for n in (-2, -1, 0.5, 1, 2):
        for beta in BETAS:
            closed = L.log_mean_rate_power(n, beta, p, liquid_branch)
            quad = L.mean_rate_power_quad(n, beta, p, liquid_branch)
            assert closed == pytest.approx(quad, abs=1e-8), (n, beta)


def test_printed_a1_is_our_form_with_s_minus_one():
    """Eq. (A1) typed from the paper (V = −V0) equals our untruncated closed form for s = −1."""
    p = L.TABLE_I.replace(e_cut=-np.inf, v0=0.7)
    k, lam, kap, sig2 = p.k_entro, p.lam, p.kappa, p.sigma**2
    for n in (-2, -1, 1, 2):
        for b in BETAS:
            a1 = 0.5 * n * lam * sig2 * ((n * lam - 2) * b**2 + k**2 * kap * (n * lam * kap - 2)
                                         + 2 * b * (k * (kap * (1 - n * lam) + 1) + (-p.v0) / (lam * sig2)))
            ours = L.log_mean_rate_power(n, b, p, liquid_branch=False) - n * math.log(p.gamma0)
            assert ours == pytest.approx(a1, rel=1e-10)
            assert L.mean_rate_power_appendix(n, b, p) == pytest.approx(a1, rel=1e-10)
            flipped = L.log_mean_rate_power(n, b, p.replace(entropic_sign=1), liquid_branch=False)
            assert abs(flipped - n * math.log(p.gamma0) - a1) > 1.0  # s = +1 is not A1


def test_lambda_kappa_one_limit_is_a_perfect_square():
    """λ = κ = 1, s = −1, no cut, single branch: ln⟨(Γ/Γ0)ⁿ⟩ = (n/2)(n−2)σ²(β−k_entro)².

    Derivation: p_eq is N(−βσ², σ²); ln Γ/Γ0 = (β−k)(e−e_c) with e_c = −kσ²; with a = n(β−k),
    ln⟨e^{a(e−e_c)}⟩ = a(kσ² − βσ²) + a²σ²/2 = (n/2)(n−2)σ²(β−k)².
    """
    p = L.TABLE_I.replace(lam=1.0, kappa=1.0, e_cut=-np.inf)
    k = p.k_entro
    for n in (-2, -1, 1, 3):
        for b in (0.5, 1.0, 2.0, 3.0):
            expect = 0.5 * n * (n - 2) * p.sigma**2 * (b - k) ** 2
            got = L.log_mean_rate_power(n, b, p, liquid_branch=False) - n * math.log(p.gamma0)
            assert got == pytest.approx(expect, abs=1e-9)


def test_dos_and_p_eq_are_normalised_gaussians():
    p = L.TABLE_I
    assert integrate.quad(lambda e: L.dos(e, p), p.e_cut, 40)[0] == pytest.approx(1.0, rel=1e-9)
    for b in BETAS:
        norm = integrate.quad(lambda e: L.p_eq(e, b, p), p.e_cut, 40, points=[-b * p.sigma**2])[0]
        assert norm == pytest.approx(1.0, rel=1e-9)
        ratio = L.p_eq(-10.0, b, p) / L.p_eq(-12.0, b, p)
        assert ratio == pytest.approx(L.dos(-10.0, p) / L.dos(-12.0, p) * math.exp(-2 * b))
    assert L.dos(-25.5, p) == 0.0


def test_sample_p_eq_moments():
    rng = np.random.default_rng(1)
    p = L.TABLE_I
    for b in (2.0, 1.0 / 0.45):
        e = L.sample_p_eq(rng, 400_000, b, p)
        assert e.min() >= p.e_cut
        m1 = integrate.quad(lambda x: x * L.p_eq(x, b, p), p.e_cut, 40)[0]
        m2 = integrate.quad(lambda x: x * x * L.p_eq(x, b, p), p.e_cut, 40)[0]
        assert e.mean() == pytest.approx(m1, abs=0.02)
        assert e.var() == pytest.approx(m2 - m1**2, rel=0.01)


def test_escape_rate_branches_and_sign():
    p = L.TABLE_I
    b = 2.0
    assert L.escape_rate(p.e_c + 3.0, b, p) == pytest.approx(p.gamma0)
    slope = (L.log_escape_rate(-15.0, b, p) - L.log_escape_rate(-17.0, b, p)) / 2.0
    assert slope == pytest.approx(p.lam * (b - p.kappa * p.k_entro))
    assert L.escape_rate(-15.0, b, p.replace(v0=1.0)) == pytest.approx(L.escape_rate(-15.0, b, p) * math.exp(-b))


def test_rate_pdf_and_waiting_time_moments_eq2_eq3():
    """Draw γ from ϖ, τ ~ Exp(γ): ⟨τ⟩ = 1/Γ(e), ⟨τ²⟩ = 2e^{σγ²}/Γ², and eq. (3) gives σγ back."""
    rng = np.random.default_rng(2)
    p = L.TABLE_I.replace(sigma_gamma=0.8)
    e, b = -14.0, 2.0
    g = L.sample_rates(rng, np.full(1_000_000, e), b, p)
    tau = rng.exponential(1.0 / g)
    gam = L.escape_rate(e, b, p)
    assert tau.mean() * gam == pytest.approx(1.0, rel=0.01)
    assert np.mean(tau**2) / L.waiting_time_moment(2, e, b, p) == pytest.approx(1.0, rel=0.03)
    sig2 = math.log(L.waiting_time_moment(2, e, b, p) / (2 * L.waiting_time_moment(1, e, b, p) ** 2))
    assert sig2 == pytest.approx(p.sigma_gamma**2)
    norm = integrate.quad(lambda x: L.rate_pdf(np.exp(x), e, b, p) * np.exp(x), -30, 30)[0]
    assert norm == pytest.approx(1.0, rel=1e-6)


def test_bad_parameters_raise_typed_errors():
    from pel_hpc.errors import DeckError

    with pytest.raises(DeckError):
        L.PELParameters(sigma=-1.0)
    with pytest.raises(DeckError):
        L.PELParameters(entropic_sign=0)
    with pytest.raises(DeckError):
        L.PELParameters(e_cut=-5.0)
