"""Simulation orchestration: compiled loop = Python loop, batched replicas, overflow, triggers."""
import io

import numpy as np
import pytest

from conftest import make_sim
from pel_hpc.md import loop
from pel_hpc.md.box import shift_table
from pel_hpc.operations import QuenchOp, ThermoOp
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
    """loop.advance with R = 2 replicas gives exactly two R = 1 runs."""
    sims = [make_sim(liquid65, 1.8) for _ in range(2)]
    sims[1].state.v *= -1.0  # a different trajectory
    singles = [make_sim(liquid65, 1.8) for _ in range(2)]
    singles[1].state.v *= -1.0
    for s in singles:
        s.run(400)
    st, d, t, integ = [s.state for s in sims], [s.domain for s in sims], sims[0].table, sims[0].integrator
    stack = lambda name, src: np.stack([getattr(o, name) for o in src])  # noqa: E731
    x, v, f, img, typ = (stack(k, st) for k in ("x", "v", "f", "image", "typ"))
    xb, nl, ct = (stack(k, d) for k in ("x_build", "nlist", "count"))
    eta, veta = stack("nhc_eta", st), stack("nhc_veta", st)
    box = stack("box", st)
    shifts = np.stack([shift_table(b) for b in box])
    info = np.zeros((2, 4))
    loop.advance(x, v, f, img, xb, typ, box, shifts, nl, ct, t.eps4, t.sig2, t.rc2, t.ushift, t.fc, t.rc,
                 t.force_shift, d[0].rlist, d[0].skin, integ.dt, eta, veta, integ.q, integ.ndof,
                 integ.temperature, np.array([400, 400]), np.zeros(2, np.int8), info)
    for r in range(2):
        assert np.array_equal(x[r], singles[r].state.x)
        assert np.array_equal(eta[r], singles[r].state.nhc_eta)


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
