"""Crystallisation watch: bond order against exact crystal values and an ideal gas; planted IS-energy drops.

The order parameter lives in pel_hpc.analysis.bond_order (shared with the preparation's crystal guard);
the watch must use that one, not a copy.
"""
import numpy as np
import pytest
from scipy.special import sph_harm_y

from pel_hpc.analysis import bond_order as engine
from postprocess import crystal
from postprocess.crystal import DROP_SIGMAS, bond_order, energy_drop


def fcc(cells: int, a: float = 1.55):
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.indices((cells,) * 3).reshape(3, -1).T
    return ((grid[:, None, :] + basis[None]) * a).reshape(-1, 3), np.full(3, cells * a)


def test_fcc_has_the_exact_q6_and_is_all_solid():
    x, box = fcc(4)
    order = bond_order(x, box, r_cut=1.3)  # 12 neighbours at a/√2 = 1.096
    assert order.q6_local == pytest.approx(0.57452, abs=1e-4)   # Steinhardt et al. 1983, fcc
    assert order.q6_global == pytest.approx(0.57452, abs=1e-4)
    assert order.solid_fraction == 1.0


def test_thermally_shaken_fcc_stays_solid_and_ideal_gas_is_liquid_like():
    rng = np.random.default_rng(3)
    x, box = fcc(4)
    assert bond_order(x + rng.normal(0, 0.05, x.shape), box, 1.3).solid_fraction > 0.9
    gas = rng.random((400, 3)) * 6.5
    order = bond_order(gas, np.full(3, 6.5), 1.4)
    assert order.solid_fraction < 0.02
    assert order.q6_global < 0.1                      # no common orientation: ~1/sqrt(bonds)
    assert crystal.crystalline(1.0) and not crystal.crystalline(order.solid_fraction)
    assert not crystal.crystalline(float("nan"))      # not measurable: never called a crystal


def test_energy_drop_flags_a_planted_step_and_not_noise():
    rng = np.random.default_rng(4)
    noise = rng.normal(-5.0, 0.05, 4000)
    drop, err = energy_drop(noise)
    assert drop < DROP_SIGMAS * err
    stepped = noise.copy()
    stepped[2500:] -= 0.12
    drop, err = energy_drop(stepped)
    assert drop == pytest.approx(0.12 * 0.9, abs=0.04) and drop > DROP_SIGMAS * err
    assert crystal.drop_text(drop, err) == f"{drop:.3f} ± {err:.3f}"
    short = energy_drop(stepped[:19])  # fewer than two per block: not measured, never flagged (was 0 ± inf)
    assert np.isnan(short).all() and crystal.drop_text(*short) == "not measured (too few IS energies)"


def test_explicit_harmonics_equal_scipy_and_the_watch_uses_the_engine_code():
    """Y_6m(û) of the closed form (m = −6..6, poles included) equal scipy's sph_harm_y to 1e-13."""
    rng = np.random.default_rng(5)
    u = rng.normal(size=(300, 3))
    u[:2] = [[0, 0, 1], [0, 0, -1]]
    u /= np.linalg.norm(u, axis=1)[:, None]
    theta, phi = np.arccos(np.clip(u[:, 2], -1, 1)), np.arctan2(u[:, 1], u[:, 0])
    ref = np.stack([sph_harm_y(6, m, theta, phi) for m in range(-6, 7)], axis=1)
    assert np.abs(engine.spherical_harmonics_6(u) - ref).max() < 1e-13
    assert crystal.bond_order is engine.bond_order and crystal.SOLID_FRACTION_FLAG is engine.SOLID_FRACTION_FLAG
