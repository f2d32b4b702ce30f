"""Dynamic load balancing (``decomposition.balance``): shifted planes change who computes what,
never the physics.

The measured compute times are replaced by synthetic, rank-dependent ones (the real ones on an
idle machine are nearly equal and would barely move the planes), so the planes do move; the
references are the serial engine (forces, NVE to 1e-9) and the one-rank reproducible run
(bitwise).
"""
import numpy as np
import pytest
from _decomp_systems import SKIN, TABLE, lattice_state, nve, unwrapped_by_tag

from pel_hpc.md.domain import SerialDomain
from pel_hpc.md.forces import compute_forces
from pel_hpc.parallel.comm import MPIComm, SerialComm
from pel_hpc.parallel.domain import DecomposedDomain
from pel_hpc.simulation import Integrator, Simulation

pytestmark = pytest.mark.skipif(MPIComm().size < 2, reason="balancing moves planes between ranks: needs 2 or more")


def _skewed(dom, comm, slow=3.0):
    """Make ``dom`` report synthetic compute times before every rebuild: the rank that is
    'slow' cycles through the ranks, taking ``slow`` times the others' time."""
    rebuild, calls = dom.rebuild, [0]

    def skewed_rebuild(state):
        dom.busy_time = slow if comm.rank == calls[0] % comm.size else 1.0
        calls[0] += 1
        rebuild(state)

    dom.rebuild = skewed_rebuild
    return dom


def test_shifted_planes_keep_ownership_counts_and_serial_forces(world):
    """A rank reported 3x (then 1000x) slower gets thinner slabs along every decomposed dimension,
    no slab thinner than the halo; every particle is owned once, inside its owner's sub-box, and
    the forces, energy and virial equal the serial engine's to 1e-12."""
    comm = MPIComm(world)
    start = lattice_state(13, noise=0.1)
    ref = start.copy()
    sdom = SerialDomain(TABLE.rc_max, SKIN)
    sdom.setup(ref)
    e_ref, w_ref = compute_forces(ref, sdom, TABLE)
    f_ref = sdom.gather_by_tag(ref, ref.f)
    state = start.copy()
    dom = DecomposedDomain(TABLE.rc_max, SKIN, comm, balance=True)
    dom.setup(state)
    uniform = [c.copy() for c in dom.grid.cuts]
    decomposed = [d for d in range(3) if dom.grid.dims[d] > 1]
    for slow in (3.0, 1000.0):
        dom.busy_time = slow if comm.rank == 0 else 1.0
        dom.rebuild(state)
        cuts = dom.grid.cuts
        for d in decomposed:
            widths = np.diff(cuts[d])
            assert widths[0] < np.diff(uniform[d])[0] - 0.1 and widths.min() >= dom.rlist * (1 - 1e-12)
            assert cuts[d][0] == 0.0 and cuts[d][-1] == state.box[d]
        x = state.x[:state.n_local]
        assert np.all(x >= dom.grid.lo) and np.all(x < dom.grid.hi)
        assert comm.allreduce_sum(state.n_local) == 13**3
        assert np.sort(dom.gather_by_tag(state, state.tag)).tolist() == list(range(13**3))
        e, w = compute_forces(state, dom, TABLE)
        f = dom.gather_by_tag(state, state.f)
        assert np.all(np.abs(f - f_ref) <= 1e-12 * np.linalg.norm(f_ref, axis=1, keepdims=True))
        assert e == pytest.approx(e_ref, rel=1e-12) and w == pytest.approx(w_ref, rel=1e-12)
    assert decomposed and np.diff(dom.grid.cuts[decomposed[0]])[0] == pytest.approx(dom.rlist)


def test_balanced_nve_matches_serial(world):
    """200 NVE steps (N = 1000, T = 1) with the planes moving at every rebuild agree with the
    serial trajectory to 1e-9 (the bound of the unbalanced run, test_decomp)."""
    comm = MPIComm(world)
    start = lattice_state(10, temperature=1.0)
    ref = None
    if comm.rank == 0:
        s = start.copy()
        d = SerialDomain(TABLE.rc_max, SKIN)
        nve(s, d, 200)
        ref = unwrapped_by_tag(s, d)
    x_serial = comm.bcast(ref)
    state = start.copy()
    dom = _skewed(DecomposedDomain(TABLE.rc_max, SKIN, comm, balance=True), comm)
    nve(state, dom, 200)
    x = unwrapped_by_tag(state, dom)
    assert np.max(np.abs(x - x_serial)) <= 1e-9 * np.max(np.abs(x_serial))
    assert dom.n_rebuilds > 10 and comm.allreduce_sum(state.n_local) == 1000
    assert not np.allclose(np.diff(dom.grid.cuts[0]), state.box[0] / dom.grid.dims[0])


def test_balanced_reproducible_nvt_is_bitwise_the_one_rank_run(world):
    """Reproducible mode with the planes moving at every rebuild: 300 NVT steps give positions,
    velocities and chain variables bit for bit those of the one-rank run (which has no planes to move)."""
    comm = MPIComm(world)

    def run(c, balance):
        dom = DecomposedDomain(TABLE.rc_max, SKIN, c, reproducible=True, balance=balance)
        if balance:
            _skewed(dom, c)
        sim = Simulation(lattice_state(10, temperature=1.2), dom, TABLE, Integrator(0.005, 0.8, 0.2, 3)).setup()
        sim.run(300, output=False)
        st = sim.state
        return (unwrapped_by_tag(st, dom), dom.gather_by_tag(st, st.v), np.concatenate([st.nhc_eta, st.nhc_veta]),
                dom)

    one = comm.bcast(run(SerialComm(), False)[:3] if comm.rank == 0 else None)
    x, v, chain, dom = run(comm, True)
    assert np.array_equal(x, one[0]) and np.array_equal(v, one[1]) and np.array_equal(chain, one[2])
    assert dom.n_rebuilds > 20 and not np.allclose(np.diff(dom.grid.cuts[0]), dom.grid.box[0] / dom.grid.dims[0])
