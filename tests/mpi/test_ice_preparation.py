"""The one-deck ICE campaign on P and P/2 ranks: preparation, lowest IS, 2x2x2 copy, ensemble.

A deck with a preparation (two N = 65 replicas at T = 0.8, an IS every 100 steps from step 0) whose lowest IS,
copied 2x2x2 into N = 520, starts an iso-configurational ensemble of 4 replicas.  Run by the whole
world (2 or 4 ranks: the preparation on 2 of them) and by half of it (1 or 2 ranks) in separate
folders, every replica's trajectory and the preparation's IS trajectory are bitwise equal; with the
2- and 4-rank sessions this chains 1 = 2 = 4 ranks.
"""
import h5py
import numpy as np

from pel_hpc.deck.validate import validate_deck
from pel_hpc.io import layout as L
from pel_hpc.io.session import run_deck
from pel_hpc.parallel.comm import MPIComm

REPLICAS = 4


def _deck(folder):
    return validate_deck({
        "run": {"name": "ice", "seed": 2},
        "system": {"cutoff": 1.8, "init": {"kind": "lowest_inherent_structure", "replicate": [2, 2, 2]}},
        "integrator": {"temperature": 0.6}, "stages": [{"name": "production", "steps": 100}],
        "output": {"thermo": 50, "positions": 25}, "checkpoint": {"every": 0},
        "ensemble": {"replicas": REPLICAS, "mode": "iso_configurational"},
        "preparation": {"n": 65, "temperature": 0.8, "steps": 1500, "quench_every": 100, "replicas": 2}},
        folder)


def test_campaign_same_per_replica_trajectories_on_half_the_ranks(tmp_path_factory, world):
    folder = world.bcast(tmp_path_factory.mktemp("ice_prep") if world.rank == 0 else None)
    if world.rank == 0:
        (folder / "all").mkdir(), (folder / "half").mkdir()
    world.Barrier()
    devnull = open("/dev/null", "w")
    run_deck(_deck(folder / "all"), MPIComm(world), stream=devnull)
    inside = world.rank < max(1, world.size // 2)
    half = world.Split(int(inside), world.rank)
    if inside:
        run_deck(_deck(folder / "half"), MPIComm(half), stream=devnull)
    half.Free()
    world.Barrier()
    if world.rank == 0:
        with h5py.File(folder / "all" / "ice.h5", "r") as a, h5py.File(folder / "half" / "ice.h5", "r") as b:
            assert len(a[L.PARTICLES]) == REPLICAS
            finals = []
            for k in range(REPLICAS):
                for element in (L.POSITION, L.IMAGE):
                    path = f"{L.element_path(k, element)}/{L.VALUE}"
                    assert a[path].shape == (5, 520, 3) and np.array_equal(a[path][()], b[path][()]), (k, path)
                finals.append(a[f"{L.element_path(k, L.POSITION)}/{L.VALUE}"][-1])
            first = a[f"{L.element_path(0, L.POSITION)}/{L.VALUE}"][0]
            assert all(np.array_equal(first, a[f"{L.element_path(k, L.POSITION)}/{L.VALUE}"][0])
                       for k in range(REPLICAS))  # one configuration ...
            assert all(not np.array_equal(finals[0], x) for x in finals[1:])  # ... different velocities
        with h5py.File(folder / "all" / "ice.prep.h5", "r") as a, h5py.File(folder / "half" / "ice.prep.h5", "r") as b:
            for r in range(2):
                path = f"{L.element_path(r, L.INHERENT_STRUCTURE)}/{L.VALUE}"
                assert a[path].shape == (16, 65, 3) and np.array_equal(a[path][()], b[path][()])
            assert dict(a[L.LOWEST_IS].attrs) == dict(b[L.LOWEST_IS].attrs)
    world.Barrier()
