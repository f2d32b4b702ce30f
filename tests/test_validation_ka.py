"""The KA validation benchmark's own arithmetic: literature table, cut-off corrections, D fit.

``benchmarks/validation_ka.py`` compares our MD with published numbers; these checks make sure
the numbers it compares are read and corrected correctly, against independent references
(analytic pair terms, the engine's own energy with and without the shift, a random walk).
"""
import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from pel_hpc.md.domain import SerialDomain
from pel_hpc.md.forces import compute_forces
from pel_hpc.physics.kob_andersen import pair_table, types_for
from pel_hpc.state import State

SPEC = importlib.util.spec_from_file_location(
    "validation_ka", Path(__file__).resolve().parents[1] / "benchmarks" / "validation_ka.py")
val = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(val)


def test_literature_table_parses_to_the_published_values():
    rows = {r["quantity"]: r for r in val.literature()}
    assert set(rows) == {"U", "w", "gamma"}
    assert rows["U"]["T"] == 1.028 and rows["U"]["value"] == -5.974 and rows["U"]["err"] == 0.0005
    assert rows["w"]["value"] == 7.444 and rows["gamma"]["value"] == 5.11
    # p = ρ(T + w) (the data set's own liquid.py) puts the row on its isobar p = 10.19 (10.166)
    assert 1.2 * (1.028 + rows["w"]["value"]) == pytest.approx(10.19, abs=0.03)
    assert all("Phys. Rev. Lett. 120, 165501 (2018)" in r["source"] for r in rows.values())


def test_cutoff_corrections_of_one_ab_pair_are_the_analytic_cutoff_terms():
    table = pair_table(2.5)
    x = np.array([[1.0, 1.0, 1.0], [2.5, 1.0, 1.0]])  # r = 1.5 < r_c,AB = 2.0
    u_c = 4 * 1.5 * (0.4**12 - 0.4**6)  # u_AB(2.5 σ_AB), ε_AB = 1.5, σ_AB/r_c = 0.4
    f_c = 24 * 1.5 / 2.0 * (2 * 0.4**12 - 0.4**6)  # radial force at r_c (attractive: < 0)
    du, dw = val.cutoff_corrections(x, np.array([0, 1]), np.full(3, 10.0), table)
    assert du == pytest.approx(u_c / 2, rel=1e-12)
    assert dw == pytest.approx(-1.5 * f_c / 6, rel=1e-12) and dw > 0
    x[1, 0] = 3.5  # r = 2.5 > r_c,AB: no pair
    assert val.cutoff_corrections(x, np.array([0, 1]), np.full(3, 10.0), table) == (0.0, 0.0)


def _engine_energy_and_virial(x, typ, box, table):
    state = State.from_arrays(x.copy(), typ, box)
    domain = SerialDomain(table.rc_max, 0.3)
    domain.setup(state)
    return compute_forces(state, domain, table)


def test_cutoff_corrections_equal_the_engine_differences_between_truncations():
    rng = np.random.default_rng(3)
    n_side = 7
    box = np.full(3, (n_side**3 / 1.2) ** (1 / 3))
    grid = np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    x = (grid + 0.5 + rng.uniform(-0.15, 0.15, grid.shape)) * box / n_side
    typ = rng.permutation(types_for(len(x)))
    shifted = pair_table(2.5)
    e_s, w_s = _engine_energy_and_virial(x, typ, box, shifted)
    e_u, _ = _engine_energy_and_virial(x, typ, box, dataclasses.replace(shifted, ushift=np.zeros(4)))
    _, w_f = _engine_energy_and_virial(x, typ, box, pair_table(2.5, "force_shift"))
    du, dw = val.cutoff_corrections(x, typ, box, shifted)
    assert (e_u - e_s) / len(x) < -0.4  # ~ 40 neighbours within r_c at ρ = 1.2, u(r_c) ≈ −0.016…−0.024
    assert du == pytest.approx((e_u - e_s) / len(x), rel=1e-10)
    assert dw == pytest.approx((w_f - w_s) / (3 * len(x)), rel=1e-10)


def test_diffusion_fit_recovers_a_random_walk():
    rng = np.random.default_rng(11)
    d_true, dt = 0.02, 0.5
    steps = rng.normal(0.0, np.sqrt(2 * d_true * dt), size=(2000, 400, 3))
    out = val.diffusion(np.cumsum(steps, axis=0), dt)
    assert out["D_A"] == pytest.approx(d_true, rel=0.1)  # one realisation: a few % statistical error
    assert 0.0 < out["D_A_err"] < 0.1 * d_true
    assert abs(out["D_A"] - d_true) < 4 * out["D_A_err"]
    assert out["msd_end"] == pytest.approx(6 * d_true * dt * 1000, rel=0.1)


def test_n_sigma_combines_errors_in_quadrature():
    assert val.n_sigma(1.0, 0.3, 1.5, 0.4) == pytest.approx(1.0)
