"""Restart on 2/3/4 ranks (decomposed N = 320): a run stopped at a checkpoint and continued with
``--restart`` (its deck's production made longer) ends bitwise equal to the uninterrupted run and its file holds every frame once,
on the same rank count and from a checkpoint written on another rank count (reproducible mode)."""
import os

import h5py
import numpy as np
import pytest
import yaml
from _decomp_systems import lattice_state

from pel_hpc.deck.validate import validate_deck
from pel_hpc.io import layout as L
from pel_hpc.io.checkpoint import read_checkpoint
from pel_hpc.io.reader import run_deck_text
from pel_hpc.io.session import run_deck
from pel_hpc.parallel.comm import MPIComm


def deck(folder, name, steps, size, **over):
    data = {"run": {"name": name, "seed": 4}, "system": {"n": 320, "cutoff": 1.8},
            "integrator": {"temperature": 0.8}, "stages": [{"name": "production", "steps": steps}],
            "output": {"thermo": 10, "positions": 10, "velocities": 20, "file": f"{name}.h5"},
            "checkpoint": {"every": 30}, "ensemble": {"ranks_per_replica": size}, **over}
    return validate_deck(data, folder, text=yaml.safe_dump(data))  # its text: what a restart compares


def by_tag(state, name):
    n = state.n_local
    return getattr(state, name)[:n][np.argsort(state.tag[:n])], np.sort(state.tag[:n])


def test_stop_and_restart_is_bitwise(world, tmp_path_factory):
    folder = world.bcast(tmp_path_factory.mktemp("restart") if world.rank == 0 else None)
    comm, devnull = MPIComm(world), open(os.devnull, "w")
    run_deck(deck(folder, "whole", 90, world.size), comm, stream=devnull)
    run_deck(deck(folder, "part", 60, world.size), comm, stream=devnull)  # "killed" after the step-60 checkpoint
    run_deck(deck(folder, "part", 90, world.size), comm, restart=True, stream=devnull)
    a, _ = read_checkpoint(folder / "whole.chk.h5", comm)
    b, _ = read_checkpoint(folder / "part.chk.h5", comm)
    assert a.step == b.step == 90
    for name in ("x", "v", "image"):
        (xa, ta), (xb, tb) = by_tag(a, name), by_tag(b, name)
        assert np.array_equal(ta, tb) and np.array_equal(xa, xb), name
    assert np.array_equal(a.nhc_eta, b.nhc_eta) and np.array_equal(a.nhc_veta, b.nhc_veta)
    if world.rank == 0:
        with h5py.File(folder / "whole.h5", "r") as fa, h5py.File(folder / "part.h5", "r") as fb:
            for path in ("particles/replica_000/position", "particles/replica_000/velocity",
                         "observables/replica_000/temperature"):
                assert np.array_equal(fa[path]["step"][()], fb[path]["step"][()]), path
                assert np.array_equal(fa[path]["value"][()], fb[path]["value"][()]), path
            assert fb["particles/replica_000/position/step"][()].tolist() == list(range(0, 91, 10))
            assert run_deck_text(fb) == deck(folder, "part", 90, world.size).deck_text  # the extension, recorded
            assert list(fb[f"{L.PARAMETERS}/{L.RESTART_DECKS}"]) == ["000000000060"]  # collectively
    world.Barrier()


def final_state(path):
    """Replica 0's full state, in tag order, from a checkpoint (any writing rank count)."""
    from pel_hpc.io.checkpoint import replica_state

    with h5py.File(path, "r") as f:
        return replica_state(f, 0, path)


def test_restart_on_two_ranks_from_one_and_four(world, tmp_path_factory):
    """A checkpoint written on 1 (and, under -n 4, on 4) ranks continues on 2 ranks; reproducible
    mode makes the result bitwise the uninterrupted 2-rank run, file and final state."""
    if world.size < 2:
        return
    folder = world.bcast(tmp_path_factory.mktemp("restart_ranks") if world.rank == 0 else None)
    devnull = open(os.devnull, "w")

    def on(size, name, steps, restart=False):
        inside = world.rank < size
        sub = world.Split(int(inside), world.rank)
        if inside:
            cfg = deck(folder, name, steps, size, decomposition={"reproducible": True})
            run_deck(cfg, MPIComm(sub), restart=restart, stream=devnull)
        sub.Free()
        world.Barrier()

    on(2, "whole2", 90)
    for writer in sorted({1, world.size} - {2}):
        on(writer, f"from{writer}", 60)  # "killed" after its step-60 checkpoint, written on `writer` ranks
        on(2, f"from{writer}", 90, restart=True)
        if world.rank == 0:
            a, b = final_state(folder / "whole2.chk.h5"), final_state(folder / f"from{writer}.chk.h5")
            assert a.step == b.step == 90
            for name in ("x", "v", "image", "nhc_eta", "nhc_veta"):
                assert np.array_equal(getattr(a, name), getattr(b, name)), (writer, name)
            with h5py.File(folder / "whole2.h5", "r") as fa, h5py.File(folder / f"from{writer}.h5", "r") as fb:
                for path in ("particles/replica_000/position", "particles/replica_000/velocity",
                             "observables/replica_000/temperature"):
                    for member in ("step", "value"):
                        assert np.array_equal(fa[path][member][()], fb[path][member][()]), (writer, path, member)
        world.Barrier()



@pytest.mark.parametrize("where", ["skeleton on rank 0", "rows on the last rank", "rows, h5py's message"])
def test_a_checkpoint_write_failing_on_one_rank_fails_on_all_and_keeps_the_last(world, tmp_path_factory,
                                                                                 monkeypatch, where):
    """Disk full or a quota on one rank: rank 0 creating the file, or one rank writing its rows. The
    other ranks used to wait at a barrier the failed rank never reached (the job hung to its time
    limit); now every rank raises the failure, no ``.tmp`` is left, and the previous checkpoint is
    still readable."""
    import errno

    from pel_hpc.io import checkpoint as C

    folder = world.bcast(tmp_path_factory.mktemp("chk_fail") if world.rank == 0 else None)
    comm, path = MPIComm(world), str(folder / "run.chk.h5")
    state = lattice_state(4)
    state.step = 7
    C.write_checkpoint(path, state, comm)
    target, fails_here = (("_create_skeleton", world.rank == 0) if where.startswith("skeleton")
                          else ("write_rows", world.rank == world.size - 1))
    real = getattr(C, target)

    h5py_like = where.endswith("message")  # h5py raises OSError("Can't write data (file write failed)")

    def broken(*args, **kw):
        if fails_here:
            raise OSError("Can't write data (file write failed)") if h5py_like else \
                OSError(errno.ENOSPC, "No space left on device", path + ".tmp")
        return real(*args, **kw)

    monkeypatch.setattr(C, target, broken)
    state.step = 8
    with pytest.raises(OSError) as info:
        C.write_checkpoint(path, state, comm)
    if h5py_like:  # named after the checkpoint, so the run's one-line error names the file
        assert info.value.filename == path and info.value.strerror == "Can't write data (file write failed)"
    else:
        assert info.value.errno == errno.ENOSPC and info.value.strerror == "No space left on device"
    world.Barrier()
    assert not os.path.exists(path + ".tmp")
    back, _ = read_checkpoint(path, comm)
    assert back.step == 7


def test_a_checkpoint_redistributed_on_several_ranks_is_read_owned(world, tmp_path_factory, monkeypatch):
    """``--restart`` of a one-rank checkpoint on a group of several ranks: each rank reads only the
    particles it owns on the run's grid (a chunk of rows at a time), every tag once over the group, with
    the written rows; a checkpoint holding a tag twice is refused on every rank."""
    import h5py

    from pel_hpc.errors import CorruptFileError
    from pel_hpc.io import checkpoint as C
    from pel_hpc.parallel import grid
    from pel_hpc.parallel.comm import SerialComm
    from pel_hpc.parallel.grid import owned_by

    folder = world.bcast(tmp_path_factory.mktemp("chk_owned") if world.rank == 0 else None)
    path = str(folder / "one.chk.h5")
    state = lattice_state(10, temperature=0.5)
    state.step = 40
    if world.rank == 0:
        C.write_checkpoint(path, state, SerialComm())
    world.Barrier()
    comm = MPIComm(world)
    keep = lambda box: owned_by(comm, box, 2.8)  # noqa: E731
    monkeypatch.setattr(grid, "ROWS_PER_CHUNK", 97)
    (mine,) = C.read_restart_states(path, comm, [0], comm, keep)
    n = mine.n_local
    assert mine.step == 40 and mine.n_global == 1000 and world.allreduce(n) == 1000
    assert world.size == 1 or n < 1000
    tags = mine.tag[:n]
    for name in ("x", "v", "typ", "image"):
        assert np.array_equal(getattr(mine, name)[:n], getattr(state, name)[tags]), name
    if world.size > 1:
        world.Barrier()
        if world.rank == 0:
            with h5py.File(path, "r+") as f:
                f["particles/tag"][5] = 6  # tag 6 twice, tag 5 never
        world.Barrier()
        with pytest.raises(CorruptFileError, match="does not hold tags 0..999 once each"):
            C.read_restart_states(path, comm, [0], comm, keep)
    world.Barrier()
