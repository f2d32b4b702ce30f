"""Buffered block output on 2, 3 and 4 ranks keeps every row (rows were lost under mpio, HDF5 1.10.8).

305 frames of two replicas, particles owned by a different random rank every frame, written
in blocks of 7 frames (observables 11 rows), flushed at "checkpoints", closed (and trimmed)
mid-run as after SIGTERM, re-opened at an earlier checkpoint step as ``--restart`` does and
continued past the deck's preallocated rows (extension, then a trim that frees chunks): every
row of every dataset on disk is the value written for it, each step is there once, and the
close returns (see :mod:`pel_hpc.io.plan` for the two ways shrinking under mpio failed).
"""
import numpy as np

from pel_hpc.deck.validate import validate_deck
from pel_hpc.io import plan
from pel_hpc.io import layout as L
from pel_hpc.io.writer import H5MDWriter
from pel_hpc.parallel.comm import MPIComm

N, REPLICAS, PLANNED, EXTRA = 130, 2, 300, 5


def position(step, replica, tags):
    return np.stack([step + 1000.0 * replica + tags / 1000.0, -tags, np.full(len(tags), step)], axis=1)


def temperature(step, replica):
    return 0.001 * step + replica


def owned(comm, step):
    """This rank's tags at ``step`` (a fresh random split every frame, as after migration)."""
    perm = np.random.default_rng(step + 1).permutation(N)
    return {r: np.sort(perm[(comm.rank + r) % comm.size::comm.size]) for r in range(REPLICAS)}


def write(writer, comm, steps, flush_at=()):
    for step in steps:
        mine = owned(comm, step)
        writer.append_particles(L.POSITION, step, {r: (t, position(step, r, t)) for r, t in mine.items()})
        writer.append_particles(L.IMAGE, step, {r: (t, np.full((len(t), 3), step % 7, np.int32))
                                                for r, t in mine.items()})
        if step % 3 == 0:
            lead = {r: {L.TEMPERATURE: temperature(step, r)} for r in range(REPLICAS) if r % comm.size == comm.rank}
            writer.append_observables(step, lead, (L.TEMPERATURE,))
        if step in flush_at:
            writer.flush()


def test_every_row_of_many_blocked_frames(world, tmp_path_factory, monkeypatch):
    monkeypatch.setattr(plan, "BUFFER_BYTES", 7 * REPLICAS * N * 3 * 8)
    monkeypatch.setattr(plan, "OBSERVABLE_BLOCK", 11)
    comm = MPIComm(world)
    folder = world.bcast(tmp_path_factory.mktemp("blocks") if world.rank == 0 else None)
    cfg = validate_deck({"run": {"name": "blocks"}, "system": {"n": N, "cutoff": 1.8},
                         "integrator": {"temperature": 0.6}, "stages": [{"name": "p", "steps": PLANNED - 1}],
                         "ensemble": {"replicas": REPLICAS},
                         "output": {"thermo": 3, "positions": 1}}, folder)
    writer = H5MDWriter(cfg, comm).create([5.0] * 3, {r: (t, (t % 5 == 0).astype(np.int32))
                                                     for r, t in owned(comm, -1).items()})
    write(writer, comm, range(0, 151), flush_at=(50, 101))
    writer.close()  # SIGTERM at step 150: trimmed to the written rows
    writer = H5MDWriter(cfg, comm).reopen(101)  # --restart from the step-101 checkpoint
    write(writer, comm, range(102, PLANNED + EXTRA), flush_at=(200,))
    writer.close()
    if world.rank == 0:
        check_file(cfg.output.file)
    world.Barrier()


def check_file(path):
    import h5py

    steps = np.arange(PLANNED + EXTRA)
    tags = np.arange(N)
    with h5py.File(path, "r") as f:
        for r in range(REPLICAS):
            pos, img = f[L.element_path(r, L.POSITION)], f[L.element_path(r, L.IMAGE)]
            assert np.array_equal(pos[L.STEP][()], steps) and np.array_equal(img[L.STEP][()], steps)
            assert np.array_equal(pos[L.TIME][()], steps * 0.005)
            value = pos[L.VALUE][()]
            bad = [k for k in steps if not np.array_equal(value[k], position(k, r, tags))]
            assert not bad, f"replica {r}: {len(bad)} position frames differ, first {bad[:5]}"
            assert np.array_equal(img[L.VALUE][()], np.broadcast_to((steps % 7)[:, None, None], (len(steps), N, 3)))
            obs = f[L.observable_path(r, L.TEMPERATURE)]
            assert np.array_equal(obs[L.STEP][()], steps[::3])
            assert np.array_equal(obs[L.VALUE][()], temperature(steps[::3], r))
            assert np.array_equal(f[f"{L.particles_path(r)}/{L.SPECIES}"][()], (tags % 5 == 0).astype(np.int32))

