"""The three-system example of Sect. III B: closed forms (exact rationals) and exact simulation."""
from fractions import Fraction as F

import numpy as np
import pytest

from postprocess.clm.three_systems import FIRST, RATE_WEIGHTED, exact_ratios, simulate_ratios

P_2_4 = ([2, 4], [F(1, 2), F(1, 2)])


def test_closed_forms_match_hand_derivations():
    # "first event after the initial one": N_m/N_r = (11/15)/(4/15), τ ratio = (86/330)/(34/120)
    assert exact_ratios(*P_2_4, FIRST) == (F(11, 4), F(86, 330) / F(34, 120))
    # the paper's rate-weighted numbers: 3 and 11/12
    assert exact_ratios(*P_2_4, RATE_WEIGHTED) == (F(3), F(11, 12))
    # no rate distribution: ratio 1 (the paper's Γ_m = Γ and Γ_m = 2Γ cases)
    for g in (1, 2):
        for d in (FIRST, RATE_WEIGHTED):
            assert exact_ratios([g], [1], d) == (F(g), F(1))


@pytest.mark.parametrize("definition", [FIRST, RATE_WEIGHTED])
def test_simulation_agrees_with_closed_form(definition):
    n_exact, t_exact = (float(x) for x in exact_ratios(*P_2_4, definition))
    sim = simulate_ratios([2.0, 4.0], [0.5, 0.5], definition, n_realisations=200_000, seed=3)
    assert abs(sim.n_ratio - n_exact) < 4 * sim.n_ratio_err
    assert abs(sim.tau_ratio - t_exact) < 4 * sim.tau_ratio_err
    assert sim.tau_ratio_err < 0.01


def test_ratio_one_without_rate_distribution_and_falling_with_width():
    sim = simulate_ratios([2.0], [1.0], FIRST, n_realisations=200_000, seed=5)
    assert abs(sim.tau_ratio - 1.0) < 4 * sim.tau_ratio_err
    widths = [F(0), F(1, 2), F(1), F(3, 2), F(2), F(5, 2)]
    for d in (FIRST, RATE_WEIGHTED):
        ratios = [exact_ratios([3 - w, 3 + w], [1, 1], d)[1] for w in widths]
        assert ratios[0] == 1 and all(np.diff([float(r) for r in ratios]) < 0)
    sims = [simulate_ratios([3.0 - w, 3.0 + w], [0.5, 0.5], FIRST, 200_000, seed=7) for w in (0.0, 2.5)]
    assert sims[0].tau_ratio - sims[1].tau_ratio > 4 * np.hypot(sims[0].tau_ratio_err, sims[1].tau_ratio_err)
