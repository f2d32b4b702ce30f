"""Finite-size analysis (Sect. IV A): D scaling, τα(q) = τα(0)/(1+c√q) fit, inversion for q(T)."""
import numpy as np
import pytest

from pel_hpc.errors import DeckError
from postprocess import finite_size as fs


def test_sqrt_law_fit_recovers_parameters_with_noise():
    rng = np.random.default_rng(3)
    q = np.array([0.0, 0.003, 0.01, 0.03, 0.1, 0.3])
    y = fs.sqrt_law(q, 40.0, 2.5) * (1 + 0.01 * rng.standard_normal(q.size))
    (t0, c), (t0_err, c_err) = fs.fit_sqrt_law(q, y, 0.01 * y)
    assert abs(t0 - 40.0) < 3 * t0_err and abs(c - 2.5) < 3 * c_err


def test_coupling_inverts_the_clm_reduction():
    q = np.linspace(0, 0.4, 41) ** 2
    ratio = 1.0 / (1.0 + 2.0 * np.sqrt(q))
    for q_true in (0.004, 0.05, 0.12):
        assert fs.coupling_from_reduction(q, ratio, 1 / (1 + 2 * np.sqrt(q_true))) == pytest.approx(q_true, rel=2e-3)
    with pytest.raises(DeckError, match="outside"):
        fs.coupling_from_reduction(q, ratio, 0.1)


def test_hydrodynamic_scaling_and_md_table(tmp_path):
    # D_N = 1.1 D_min: a τα(N) lowered only by hydrodynamics gives R_MD = 1
    assert fs.md_reduction(10.0 / 1.1, 1.1, 10.0, 1.0) == pytest.approx(1.0)
    path = tmp_path / "md.csv"
    path.write_text("T,N,tau_alpha,D\n0.5,65,40,0.01\n0.5,8320,20,0.011\n0.6,65,5,0.05\n")
    t, r = fs.md_reduction_table(fs.read_md_table(path))
    assert t.tolist() == [0.5] and r[0] == pytest.approx(20 * 1.1 / 40)


def test_q_eff_is_n_eff_times_q():
    assert fs.q_eff_master([0.1, 0.2], [6.0, 10.0]) == pytest.approx(np.array([[0.6, 1.2], [1.0, 2.0]]))


def test_sqrt_law_fit_with_known_tau_alpha_0():
    q = np.array([0.003, 0.01, 0.1])
    (t0, c), (_, c_err) = fs.fit_sqrt_law(q, fs.sqrt_law(q, 40.0, 2.5), 0.001 * np.ones(3), tau_alpha_0=40.0)
    assert t0 == 40.0 and c == pytest.approx(2.5, rel=1e-6)
