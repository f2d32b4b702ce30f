"""Collective H5MD output on 2, 3 and 4 ranks equals the 1-rank file dataset by dataset.

Two levels: the writer alone (random tag ownership, two replica groups, rows written by
their owners) must give a file bitwise equal to the serial writer's; a short decomposed
KA run (N = 320, reproducible sums; a box 3 ranks can cut into halo-wide slabs) must equal the
serial run of the same deck within the engine's decomposition tolerance, and its checkpoint
must restart on the same rank count.
"""
import os

import h5py
import numpy as np

from pel_hpc.deck.validate import validate_deck
from pel_hpc.io import layout as L
from pel_hpc.io.session import run_deck
from pel_hpc.io.writer import H5MDWriter
from pel_hpc.parallel.comm import MPIComm, SerialComm


def shared_tmp(world, tmp_path_factory):
    path = tmp_path_factory.mktemp("h5md") if world.rank == 0 else None
    return world.bcast(path, root=0)


def datasets(path) -> dict:
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def deck(folder, name, **over):
    d = {"run": {"name": name, "seed": 3}, "system": {"n": 320, "cutoff": 1.8},
         "integrator": {"temperature": 0.8}, "stages": [{"name": "production", "steps": 40}],
         "output": {"thermo": 10, "positions": 20, "velocities": 20}, "decomposition": {"reproducible": True}}
    d.update(over)
    return validate_deck(d, folder)


def write_synthetic(cfg, comm, owned: dict):
    rng = np.random.default_rng(7)
    x = rng.random((3, 2, 65, 3))
    w = H5MDWriter(cfg, comm)
    w.create([3.78] * 3, {r: (t, (t >= 52).astype(np.int32)) for r, t in owned.items()})
    for k, step in enumerate((0, 10, 20)):
        w.append_particles(L.POSITION, step, {r: (t, x[k, r, t]) for r, t in owned.items()})
        w.append_particles(L.IMAGE, step, {r: (t, np.full((len(t), 3), k, np.int32)) for r, t in owned.items()})
        w.append_observables(step, {r: {L.TEMPERATURE: 0.1 * k + r} for r in owned if t_lead(owned, r, comm)})
    w.close()


def t_lead(owned, r, comm):
    return comm.rank == min(_owners(comm, r))


def _owners(comm, r):
    return [rank for rank in range(comm.size) if rank % 2 == r % 2] if comm.size > 1 else [0]


def test_writer_files_equal_serial_bitwise(world, tmp_path_factory):
    comm, folder = MPIComm(world), shared_tmp(world, tmp_path_factory)
    small = {"system": {"n": 65, "cutoff": 1.8}, "ensemble": {"replicas": 2},
             "output": {"thermo": 10, "positions": 10}, "decomposition": {}}
    par = deck(folder, "par", **small)
    ser = deck(folder, "ser", **small)
    perm = np.random.default_rng(1).permutation(65)
    owned = {}
    for r in range(2):
        mine = [i for i, rank in enumerate(_owners(comm, r)) if rank == comm.rank]
        if mine:
            k, m = mine[0], len(_owners(comm, r))
            owned[r] = perm[k::m]
    write_synthetic(par, comm, owned)
    if world.rank == 0:
        write_synthetic(ser, SerialComm(), {0: np.arange(65), 1: np.arange(65)})
        a, b = datasets(par.output.file), datasets(ser.output.file)
        assert sorted(a) == sorted(b)
        for name in a:
            if name != f"{L.PARAMETERS}/{L.DECK}":
                assert np.array_equal(a[name], b[name]), name
    world.Barrier()


def test_decomposed_run_file_equals_serial_run(world, tmp_path_factory):
    folder = shared_tmp(world, tmp_path_factory)
    devnull = open(os.devnull, "w")
    par = deck(folder, "run_par", ensemble={"ranks_per_replica": world.size})
    run_deck(par, MPIComm(world), stream=devnull)
    if world.rank == 0:
        run_deck(deck(folder, "run_ser"), SerialComm(), stream=devnull)
        a, b = datasets(par.output.file), datasets(str(folder / "run_ser.h5"))
        assert sorted(a) == sorted(b)
        for name, value in a.items():
            if name.startswith(L.PARAMETERS):
                continue
            if value.dtype.kind == "f":
                assert np.allclose(value, b[name], rtol=0, atol=1e-9), name
            else:
                assert np.array_equal(value, b[name]), name
        assert a["particles/replica_000/position/value"].shape == (3, 320, 3)
    world.Barrier()


def test_collective_transfers_write_the_same_file(world, tmp_path_factory):
    """output.transfer: collective (two-phase MPI-IO) and the default independent transfers give
    the same datasets, bit for bit, for a decomposed run in reproducible mode."""
    folder = shared_tmp(world, tmp_path_factory)
    devnull = open(os.devnull, "w")
    files = []
    for transfer in ("independent", "collective"):
        cfg = deck(folder, f"tr_{transfer}", ensemble={"ranks_per_replica": world.size},
                   output={"thermo": 10, "positions": 20, "velocities": 20, "transfer": transfer})
        run_deck(cfg, MPIComm(world), stream=devnull)
        files.append(cfg.output.file)
    if world.rank == 0:
        a, b = datasets(files[0]), datasets(files[1])
        assert sorted(a) == sorted(b)
        for name in a:
            if not name.startswith(L.PARAMETERS):
                assert np.array_equal(a[name], b[name]), name
    world.Barrier()
