"""Replica ensembles: per-replica results independent of the rank count, replicas distinct."""
import os

import numpy as np

from pel_hpc.deck.validate import validate_deck
from pel_hpc.io.session import build_group
from pel_hpc.md.box import unwrapped
from pel_hpc.parallel.comm import MPIComm, SerialComm
from pel_hpc.parallel.ensemble import gather_replica_results, replica_states, split_world
from pel_hpc.physics.kob_andersen import pair_table


def _deck(tmp_path_factory, mode):
    data = {"run": {"seed": 7}, "system": {"n": 65, "cutoff": 1.8},
            "integrator": {"temperature": 0.8}, "stages": [{"name": "production", "steps": 300}],
            "ensemble": {"replicas": 8, "mode": mode}}
    return validate_deck(data, tmp_path_factory.getbasetemp())


def _run_ensemble(cfg, comm, steps: int) -> dict:
    """The deck's replicas on ``comm`` as ``pel-hpc run`` groups them (one compiled batch per rank),
    ``steps`` NVT steps: ``{replica: (E_pot [epsilon], unwrapped positions by tag [sigma])}``."""
    layout, group_comm = split_world(comm, cfg.ensemble.replicas, 1)
    states = replica_states(cfg, layout.replicas, pair_table(cfg.system.cutoff))
    group = build_group(cfg, layout, group_comm, states, open(os.devnull, "w"))
    group.run(steps, output=False)
    assert group.batched and group.batch.x.shape[0] == len(layout.replicas)
    mine = {m.state.replica: (m.epot, m.domain.gather_by_tag(m.state, unwrapped(m.state.x, m.state.image,
                                                                                  m.state.box)))
            for m in group.members}
    return gather_replica_results(comm, layout, mine)


def test_eight_replicas_same_results_on_any_rank_count(world, tmp_path_factory):
    """8 iso-configurational replicas of N = 65 at T = 0.8, 300 NVT steps in batches: the world's
    results equal one rank running all eight in one batch, bit for bit; the replicas differ."""
    cfg = _deck(tmp_path_factory, "iso_configurational")
    comm = MPIComm(world)
    alone = comm.bcast(_run_ensemble(cfg, SerialComm(), 300) if comm.rank == 0 else None)
    spread = _run_ensemble(cfg, comm, 300)
    assert sorted(spread) == list(range(8))
    for k in range(8):
        assert spread[k][0] == alone[k][0] and np.array_equal(spread[k][1], alone[k][1])
    energies = [spread[k][0] for k in range(8)]
    assert len(set(energies)) == 8
    assert all(-7.5 < e / 65 < -4.0 for e in energies)  # a KA liquid near T = 0.8, not exploded


def test_iso_configurational_starts(world, tmp_path_factory):
    """Same positions, different velocities, each replica's velocities fixed by (seed, replica)."""
    cfg = _deck(tmp_path_factory, "iso_configurational")
    table = pair_table(1.8)
    comm = MPIComm(world)
    layout, _ = split_world(comm, 8, 1)
    states = replica_states(cfg, layout.replicas, table)
    again = replica_states(cfg, [layout.replicas[-1]], table)[0]
    assert np.array_equal(again.v, states[-1].v)
    for s in states[1:]:
        assert np.array_equal(s.x, states[0].x) and not np.allclose(s.v, states[0].v)
    x0 = comm.allgather(states[0].x)
    assert all(np.array_equal(x, x0[0]) for x in x0)


def test_independent_replicas_start_from_their_own_configurations(world, tmp_path_factory):
    """Independent mode: each replica's start is its own pushed random configuration."""
    cfg = _deck(tmp_path_factory, "independent")
    a, b = replica_states(cfg, [0, 1], pair_table(1.8))
    assert not np.allclose(a.x, b.x) and not np.allclose(a.v, b.v)
    assert np.array_equal(MPIComm(world).bcast(a.x), a.x)  # rank-independent
