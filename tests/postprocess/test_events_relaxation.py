"""Δt ≈ τα of the structural-event analysis from the ensemble's own data (postprocess.ice.relaxation).

Reference: Brownian particles with diffusion constant D have the exact Gaussian self-intermediate
scattering function F_s(k, t) = exp(−k²Dt), i.e. KWW with β = 1 and τα = 1/(k²D).  A frozen
ensemble has no τα at all (the analysis must ask for --lag); a given lag overrides the data.
"""
import numpy as np
import pytest

from pel_hpc.errors import DeckError
from postprocess.figures.fig04 import footer
from postprocess.ice import Ensemble, IceOptions, analyse, relaxation

N, FRAMES, DT, D, BOX = 200, 400, 0.05, 0.02, 8.0
K = 7.25
TAU = 1.0 / (K * K * D)  # 0.951 tau


def brownian(r, d=D):
    rng = np.random.default_rng(30 + r)
    start = np.random.default_rng(0).uniform(0, BOX, size=(N, 3))  # one configuration, as in an ICE
    steps = rng.normal(scale=np.sqrt(2 * d * DT), size=(FRAMES, N, 3))
    steps[0] = 0.0
    return DT * np.arange(FRAMES), start + np.cumsum(steps, axis=0)


TYPES = np.where(np.arange(N) < 160, 0, 1).astype(np.int32)


def test_tau_alpha_of_brownian_ensemble_is_one_over_k2_d():
    relax = relaxation(Ensemble(TYPES, np.full(3, BOX), 8, brownian), IceOptions())
    assert relax.tau_alpha == pytest.approx(TAU, rel=0.05)
    assert relax.fit.beta == pytest.approx(1.0, abs=0.1)  # 1280 particles, one origin: ~5 % noise
    assert relax.lag == relax.tau_alpha and "F_s(k=7.25)" in relax.source
    np.testing.assert_allclose(relax.fs, np.exp(-K * K * D * relax.time), atol=0.02)


def test_tau_alpha_beyond_the_run_is_refused():
    slow = Ensemble(TYPES, np.full(3, BOX), 4, lambda r: brownian(r, d=D / 40))  # tau_alpha = 38 tau > 20 tau
    with pytest.raises(DeckError, match="exceeds the run .*give --lag"):
        relaxation(slow, IceOptions())


def test_given_lag_overrides_and_frozen_ensemble_needs_one():
    ensemble = Ensemble(TYPES, np.full(3, BOX), 4, lambda r: brownian(r, d=0.0))
    with pytest.raises(DeckError, match="no tau_alpha from the ensemble.*give --lag"):
        relaxation(ensemble, IceOptions())
    relax = relaxation(ensemble, IceOptions(lag=3.0))
    assert relax.lag == 3.0 and relax.source == "--lag" and np.isnan(relax.tau_alpha)


def test_analysis_uses_the_measured_tau_alpha_and_reports_it():
    result = analyse(Ensemble(TYPES, np.full(3, BOX), 4, brownian), IceOptions(window=0.25, rdf_frames=4))
    assert result.rule.lag == round(result.relaxation.tau_alpha / DT)
    assert f"Δt = {result.relaxation.lag:.3g} τ (τα of F_s(k=7.25), KWW" in footer(result)
