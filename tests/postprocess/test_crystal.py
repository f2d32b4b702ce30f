"""Crystallisation watch: bond order against exact crystal values and an ideal gas; planted IS-energy drops."""
import numpy as np
import pytest

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


def test_energy_drop_flags_a_planted_step_and_not_noise():
    rng = np.random.default_rng(4)
    noise = rng.normal(-5.0, 0.05, 4000)
    drop, err = energy_drop(noise)
    assert drop < DROP_SIGMAS * err
    stepped = noise.copy()
    stepped[2500:] -= 0.12
    drop, err = energy_drop(stepped)
    assert drop == pytest.approx(0.12 * 0.9, abs=0.04) and drop > DROP_SIGMAS * err
