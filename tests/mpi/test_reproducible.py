"""Reproducible mode beyond NVE: NVT trajectories and IS quenches bitwise the same on any rank count.

The Nosé–Hoover chain, momentum zeroing, E_pot/virial and the minimisers' force norms are
global sums; in reproducible mode the domain sums them exactly, so a one-rank run and the
world's run (2 or 4 ranks) must agree bit for bit — the chaotic dynamics and a quench from
far off a minimum would amplify any round-off difference to a visible one.  The starts a deck makes
(random, replicated) are the same on any rank count too.
"""
import os

import numpy as np
import pytest
from _decomp_systems import SKIN, TABLE, lattice_state, unwrapped_by_tag

from pel_hpc.md.minimize import quench
from pel_hpc.parallel.comm import MPIComm, SerialComm
from pel_hpc.parallel.domain import DecomposedDomain
from pel_hpc.simulation import Integrator, Simulation


def _nvt(comm, steps):
    """(unwrapped x, v by tag, chain state, thermo) after ``steps`` NVT steps at T = 0.8, N = 1000."""
    dom = DecomposedDomain(TABLE.rc_max, SKIN, comm, reproducible=True)
    sim = Simulation(lattice_state(10, temperature=1.2), dom, TABLE, Integrator(0.005, 0.8, 0.2, 3)).setup()
    sim.run(steps, output=False)
    st = sim.state
    return (unwrapped_by_tag(st, dom), dom.gather_by_tag(st, st.v), np.concatenate([st.nhc_eta, st.nhc_veta]),
            sim.thermo(), dom.n_rebuilds)


def test_nvt_is_bitwise_identical_across_rank_counts(world):
    """400 NVT steps (Nosé–Hoover chain of 3, tau = 0.2): positions, velocities, chain variables and
    the thermo row of all ranks equal the one-rank run's bit for bit."""
    comm = MPIComm(world)
    one = comm.bcast(_nvt(SerialComm(), 400) if comm.rank == 0 else None)
    x, v, chain, thermo, rebuilds = _nvt(comm, 400)
    assert np.array_equal(x, one[0]) and np.array_equal(v, one[1]) and np.array_equal(chain, one[2])
    assert thermo == one[3] and rebuilds > 30
    assert 0.5 < thermo["T"] < 1.2 and np.all(chain != 0.0)  # the thermostat acted (T: 1.2 -> 0.8)


@pytest.mark.parametrize("method", ["lbfgs", "fire"])
def test_quench_is_bitwise_identical_across_rank_counts(world, method):
    """Quench of N = 1000 from a strongly jittered lattice (far from any minimum) to |F| <= 1e-8:
    e_IS and every IS position equal the one-rank quench's bit for bit."""
    comm = MPIComm(world)
    start = lattice_state(10, noise=0.3, seed=9)

    def run(c):
        dom = DecomposedDomain(TABLE.rc_max, SKIN, c, reproducible=True)
        dom.setup(state := start.copy())
        return quench(state, dom, TABLE, tol=1e-8, method=method)

    one = comm.bcast(run(SerialComm()) if comm.rank == 0 else None)
    res = run(comm)
    assert res.converged and one.converged and res.n_iter == one.n_iter > 100
    assert res.e_is == one.e_is and np.array_equal(res.x_is, one.x_is)
    assert -8.0 < res.e_is < -6.5  # a KA inherent structure at density 1.2 [epsilon]


@pytest.mark.parametrize("n", [300, 1000])
def test_random_start_is_pushed_decomposed_and_bitwise_the_one_rank_push(world, n):
    """The deck's random start (``system.init: random``) is pushed apart on the run's ranks, in
    reproducible mode: pushed on the world's ranks it equals the one-rank push bit for bit, by tag,
    so a start never depends on the rank count that made it; N = 1000 is drawn and pushed owned
    (each rank its particles, in tag order).  N = 300 is a box that one rank pushes list-free
    (minimum image, every rank all particles) and two ranks could cut into halo-wide slabs."""
    from pel_hpc.md.init import pushed_random_state

    mine = pushed_random_state(n, 1.2, 0.8, 5, 3, TABLE, SKIN, MPIComm(world))
    ref = pushed_random_state(n, 1.2, 0.8, 5, 3, TABLE, SKIN, SerialComm())
    k, tags = mine.n_local, mine.tag[:mine.n_local]
    assert mine.n_global == ref.n_local == n and np.array_equal(ref.tag, np.arange(n))
    assert np.all(np.diff(tags) > 0) and world.allreduce(k) == (n if n == 1000 else n * world.size)
    if n == 1000 and world.size > 1:
        assert k < n  # drawn and pushed owned: no rank holds them all
    for name in ("x", "image", "typ"):
        assert np.array_equal(getattr(mine, name)[:k], getattr(ref, name)[tags]), name


def test_pel_hpc_run_pushes_its_random_start_on_its_ranks(world, tmp_path_factory):
    """Through :func:`~pel_hpc.io.session.run_deck` (``pel-hpc run``): the report names the world's
    rank count, and the step-0 frame written is the one-rank push (unwrapped, as the set-up may wrap
    a particle that the push left just outside the box)."""
    import io

    from pel_hpc.deck.validate import validate_deck
    from pel_hpc.io.reader import read_frame
    from pel_hpc.io.session import run_deck
    from pel_hpc.md.init import pushed_random_state

    folder = world.bcast(tmp_path_factory.mktemp("random_start") if world.rank == 0 else None)
    cfg = validate_deck({"run": {"seed": 8}, "system": {"n": 1000}, "integrator": {"temperature": 0.5},
                         "stages": [{"name": "start", "steps": 0}], "quench": {"every": 0},
                         "output": {"thermo": 1, "positions": 1, "file": "start.h5"}}, folder)
    report = io.StringIO()
    run_deck(cfg, MPIComm(world), stream=report)
    ref = pushed_random_state(1000, 1.2, 0.8, 8, 0, TABLE, SKIN, SerialComm())
    if world.rank == 0:
        ranks = f"{world.size} rank{'s' if world.size > 1 else ''}"
        assert f"1000 particles pushed apart on {ranks} in" in report.getvalue()
        fr = read_frame(folder / "start.h5")
        assert fr.step == 0
        np.testing.assert_allclose(fr.x + fr.image * fr.box, ref.x + ref.image * ref.box, rtol=0, atol=1e-13)
    world.Barrier()


@pytest.mark.parametrize("init", [{"kind": "replicate", "file": "seed.h5", "replicate": [2, 1, 2]},
                                  {"kind": "file", "file": "seed.h5"},
                                  {"kind": "file", "file": "seed.h5", "source": "inherent_structure"}],
                         ids=["replicate", "file", "file IS"])
def test_file_starts_are_read_owned_by_each_rank_and_equal_the_one_rank_start(world, tmp_path_factory, init):
    """File starts on several ranks: each rank reads (and replicates) only the particles it owns on the
    run's grid (none holds the whole system, so 10⁷ particles need not fit on one rank), and the start,
    velocities included (the file's, or fresh ones with exact sums), equals the one-rank start bit for
    bit by tag."""
    from pel_hpc.build import initial_state
    from pel_hpc.deck.validate import validate_deck
    from pel_hpc.io.session import run_deck

    folder = world.bcast(tmp_path_factory.mktemp("replicate") if world.rank == 0 else None)
    base = {"run": {"seed": 4}, "integrator": {"temperature": 0.6}, "stages": [{"name": "s", "steps": 0}],
            "quench": {"every": 0}}
    seed_cfg = validate_deck({**base, "run": {"seed": 4, "name": "seed"}, "system": {"n": 1000},
                              "quench": {"every": 1, "tolerance": 1e-6},
                              "output": {"thermo": 1, "positions": 1, "velocities": 1, "is_positions": 1,
                                         "file": "seed.h5"}}, folder)
    run_deck(seed_cfg, MPIComm(world), stream=open(os.devnull, "w"), overwrite=True)
    cfg = validate_deck({**base, "system": {"init": init}, "output": {"thermo": 1, "file": "big.h5"}}, folder)
    mine = initial_state(cfg, MPIComm(world), TABLE)
    ref = initial_state(cfg, SerialComm(), TABLE)
    n, total = mine.n_local, 4000 if init["kind"] == "replicate" else 1000
    assert mine.n_global == ref.n_global == ref.n_local == total
    assert world.allreduce(n) == total and (world.size == 1 or n < total)
    order = np.argsort(mine.tag[:n])
    tags = mine.tag[:n][order]
    for name in ("x", "v", "typ", "image"):
        assert np.array_equal(getattr(mine, name)[:n][order], getattr(ref, name)[tags]), name
