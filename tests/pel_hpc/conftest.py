"""Factories of Kob–Andersen systems for the engine tests (LJ units).

Session-scoped: a random configuration is pushed apart and equilibrated once, tests take
copies.  ``make_sim`` builds a Simulation through the Python API (no deck).
"""
import numpy as np
import pytest

from pel_hpc.md.domain import SerialDomain
from pel_hpc.md.init import random_state, soft_push
from pel_hpc.md.velocities import maxwell_boltzmann
from pel_hpc.physics.kob_andersen import pair_table
from pel_hpc.simulation import Integrator, Simulation


def make_sim(state, cutoff, temperature=0.8, chain=3, dt=0.005, truncation="shift", ops=(), compiled=None,
             skin=0.3):
    """A set-up Simulation of a copy of ``state`` (NVT if chain > 0, else NVE)."""
    table = pair_table(cutoff, truncation)
    sim = Simulation(state.copy(), SerialDomain(table.rc_max, skin), table,
                     Integrator(dt, temperature, 0.5, chain), list(ops), compiled=compiled)
    return sim.setup()


def equilibrated(n, cutoff, temperature, steps, seed=2024):
    """Random start, soft push, MB velocities, then ``steps`` NVT steps at ``temperature``."""
    table = pair_table(cutoff)
    state = random_state(n, 1.2, 0.8, seed)
    soft_push(state, SerialDomain(table.rc_max, 0.3), table)
    maxwell_boltzmann(state, SerialDomain(table.rc_max, 0.3), temperature)
    sim = make_sim(state, cutoff, temperature)
    sim.run(steps)
    state = sim.state.copy()
    state.step = 0
    return state


@pytest.fixture(scope="session")
def liquid65():
    """N = 65, r_c = 1.8, equilibrated 20 000 steps at T = 0.8."""
    return equilibrated(65, 1.8, 0.8, 20000)


@pytest.fixture(scope="session")
def liquid500():
    """N = 500, r_c = 2.5, 1500 NVT steps at T = 0.8 (a liquid, not a quench)."""
    return equilibrated(500, 2.5, 0.8, 1500)


@pytest.fixture(scope="session")
def random1000():
    """N = 1000 pushed apart and then randomly displaced by 0.05 sigma (large forces)."""
    table = pair_table(2.5)
    state = random_state(1000, 1.2, 0.8, 99)
    soft_push(state, SerialDomain(table.rc_max, 0.3), table, max_iter=300)
    state.x[:1000] += np.random.default_rng(5).normal(scale=0.05, size=(1000, 3))
    return state
