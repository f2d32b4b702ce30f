"""The displacement-check forecast (Integrator.second_half): it skips only checks that would
have found no rebuild needed, so a run that uses it is bitwise the run that checks every step."""
import numpy as np
from _decomp_systems import SKIN, TABLE, lattice_state

from pel_hpc.md.neighbors import list_is_stale
from pel_hpc.parallel.comm import MPIComm
from pel_hpc.parallel.domain import DecomposedDomain
from pel_hpc.simulation import Integrator, Simulation

STEPS = 300


def _simulation(comm, temperature):
    state = lattice_state(10, noise=0.1, temperature=temperature)
    dom = DecomposedDomain(TABLE.rc_max, SKIN, comm)
    return Simulation(state, dom, TABLE, Integrator(0.005, temperature, 0.5, 3)).setup()


def test_reach_bounds_carried_by_the_sum_bound_the_global_maximum(world):
    comm = MPIComm(world)
    dom = DecomposedDomain(TABLE.rc_max, SKIN, comm)
    rng = np.random.default_rng(comm.rank)
    values, reach = rng.uniform(0, 1, 50), tuple(rng.uniform(0, 0.2, 2))
    total, bound = dom.sum_and_reach(values, reach)
    assert total == comm.allreduce_sum(float(values.sum()))
    top, bound = comm.allreduce_max(np.array(reach)), np.array(bound)
    assert np.all(bound >= top) and np.all(bound <= top * comm.size ** (1 / 64) * (1 + 1e-12))


def test_forecast_skips_only_passing_checks_and_keeps_the_trajectory_bitwise(world):
    comm = MPIComm(world)
    for temperature in (0.5, 1.5):
        forecast, plain = _simulation(comm, temperature), _simulation(comm, temperature)
        dom, inner = forecast.domain, forecast.domain.refresh_overlapping
        skipped = []

        def refresh_overlapping(state, work, check=True):
            if not check:  # the forecast said no particle moved skin/2: the exact check must agree
                assert not list_is_stale(state, dom.x_build, dom.skin, comm)
                skipped.append(state.step)
            return inner(state, work, check)

        dom.refresh_overlapping = refresh_overlapping
        forecast.run(STEPS)
        for _ in range(STEPS):
            plain.step()
        assert dom.n_rebuilds == plain.domain.n_rebuilds > 3
        assert len(skipped) > 0.5 * STEPS
        for sim in (forecast, plain):
            sim.x_all = sim.domain.gather_by_tag(sim.state, sim.state.x)
        assert np.array_equal(forecast.x_all, plain.x_all)
        assert np.array_equal(forecast.state.nhc_eta, plain.state.nhc_eta)
