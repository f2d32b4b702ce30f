"""Simulation orchestration: compiled loop = Python loop, batched replicas, overflow, triggers."""
import io

import numpy as np
import pytest

from conftest import make_sim
from pel_hpc.operations import QuenchOp, ThermoOp
from pel_hpc.parallel.batch import ReplicaBatch
from pel_hpc.trigger import Or, Periodic


@pytest.mark.parametrize("chain", [0, 3])
def test_compiled_loop_equals_python_loop(liquid65, chain):
    a = make_sim(liquid65, 1.8, chain=chain, compiled=True)
    b = make_sim(liquid65, 1.8, chain=chain, compiled=False)
    a.run(200)  # rounding differences (inlining) grow chaotically: compare before they do
    b.run(200)
    assert a.domain.n_rebuilds == b.domain.n_rebuilds > 5
    assert np.allclose(a.state.x, b.state.x, rtol=0, atol=1e-11)
    assert np.allclose(a.state.v, b.state.v, rtol=0, atol=1e-11)
    assert a.thermo()["H"] == pytest.approx(b.thermo()["H"], abs=1e-12)


@pytest.mark.parametrize("fixture, cutoff, compiled", [("liquid65", 1.8, True), ("liquid65", 1.8, False),
                                                      ("liquid500", 2.5, False)])
def test_trajectory_does_not_depend_on_which_steps_report_energies(request, fixture, cutoff, compiled):
    """E_pot and W are evaluated only on steps that report them, in a second pass: the forces and so
    the trajectory are bitwise the same with thermo every 7 steps as with none."""
    state = request.getfixturevalue(fixture)
    quiet = make_sim(state, cutoff, compiled=compiled)
    busy = make_sim(state, cutoff, compiled=compiled, ops=[ThermoOp(7, io.StringIO())])
    quiet.run(150)
    busy.run(150)
    assert len(busy.operations[0].rows) == 22 and quiet.domain.n_rebuilds > 3
    n = quiet.state.n_local
    assert np.array_equal(quiet.state.x[:n], busy.state.x[:n]) and np.array_equal(quiet.state.v[:n], busy.state.v[:n])
    assert quiet.thermo() == busy.thermo()


def test_thermostat_input_does_not_depend_on_where_a_run_is_split(liquid500):
    """The carried 2K (``state.nhc_ke2``) survives operations: the thermostat sees bitwise the same 2K at
    every step of a run split every 3 steps as of one unsplit run (a fresh sum of |v|² would differ from
    the carried 2K·s² in the last bits, and a 90-step run would then differ from a 60-step run
    restarted to 90 steps)."""
    seen = {}
    for name, ops in (("quiet", []), ("busy", [ThermoOp(3, io.StringIO())])):
        sim = make_sim(liquid500, 2.5, compiled=False, ops=ops)
        log = seen[name] = []
        scale = sim.integrator._chain_scale
        sim.integrator._chain_scale = lambda st, ke2, scale=scale, log=log: (log.append(ke2), scale(st, ke2))[1]
        sim.run(60)
    assert len(seen["quiet"]) == 120 and seen["quiet"] == seen["busy"]


def test_list_overflow_is_grown_on_rebuild(liquid500):
    """A list buffer that is too small is grown at the rebuild, and the forces stay exact."""
    ref = make_sim(liquid500, 2.5, compiled=False)
    small = make_sim(liquid500, 2.5, compiled=False)
    small.domain.capacity = 8
    small.domain.rebuild(small.state)
    assert small.domain.capacity >= small.domain.count.max() > 8
    ref.run(20)
    small.run(20)
    assert np.allclose(small.thermo()["H"], ref.thermo()["H"], rtol=0, atol=1e-12)


def test_batch_of_replicas_equals_independent_runs(liquid65):
    """A ReplicaBatch of 3 replicas (NVT, NVE) gives bitwise the lone runs; members view its arrays."""
    for chain in (3, 0):
        sims = [make_sim(liquid65, 1.8, chain=chain) for _ in range(3)]
        singles = [make_sim(liquid65, 1.8, chain=chain) for _ in range(3)]
        for group in (sims, singles):
            group[1].state.v[:65] *= -1.0  # different trajectories
            group[2].state.v[:65] *= 1.1
        batch = ReplicaBatch(sims)
        batch.advance(150)
        for s in singles:
            s.run(150)
        sims[2].setup()  # rebinds x_build (as after a checkpoint): the batch re-attaches
        singles[2].setup()
        batch.advance(250)
        for s in singles:
            s.run(250)
        for a, b in zip(sims, singles):
            assert a.state.x.base is batch.x and a.state.step == b.state.step == 400
            for name in ("x", "v", "f", "image", "nhc_eta", "nhc_veta"):
                assert np.array_equal(getattr(a.state, name), getattr(b.state, name)), name
            assert a.epot == b.epot and a.virial == b.virial
        assert not np.array_equal(sims[0].state.x, sims[1].state.x)


def test_operations_fire_on_their_steps_and_stages_skip_output(liquid65):
    thermo, quench = ThermoOp(100, io.StringIO()), QuenchOp(250)
    sim = make_sim(liquid65, 1.8, ops=[quench, thermo])
    sim.run(500, output=False)
    assert [r["step"] for r in thermo.rows] == [0, 100, 200, 300, 400, 500]
    assert quench.e_is == []
    sim.run(500)
    assert [s for s, _ in quench.e_is] == [750, 1000]  # step 500 was acted (without output) already
    assert [r["step"] for r in thermo.rows][-5:] == [600, 700, 800, 900, 1000]
    text = thermo.stream.getvalue().splitlines()
    assert text[0].split() == ["step", "time", "T", "E_pot", "E_kin", "H", "P"] and len(text) == 12
    assert all(e < thermo.rows[0]["E_pot"] for _, e in quench.e_is)


def test_triggers():
    p = Periodic(10, phase=5)
    assert [s for s in range(40) if p(s)] == [5, 15, 25, 35]
    assert p.next_after(0) == 5 and p.next_after(5) == 15 and p.next_after(14) == 15
    assert Periodic(0).next_after(3) is None and not Periodic(0)(0)
    both = Or(Periodic(4), Periodic(6))
    assert [s for s in range(1, 13) if both(s)] == [4, 6, 8, 12] and both.next_after(8) == 12
