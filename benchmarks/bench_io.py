"""H5MD output cost: collective 2-rank write bandwidth vs a serial h5py write, and the I/O share of a run.

1. Bandwidth: ``--frames`` position frames of ``--n`` particles (float64, (N, 3) per frame)
   written through :class:`pel_hpc.io.writer.H5MDWriter` by every rank of ``mpirun -n 2``
   (each rank owns a random half of the tags; rows are exchanged to contiguous tag blocks and
   each rank writes its block, with independent and with collective MPI-IO), against rank 0
   alone writing the same bytes with plain ``h5py`` (``dset[k] = x``).
2. Share of a production step spent in output at the default cadences (thermo 100,
   positions 1000; IS energies every quench): the same serial run with and without output.

Usage (numbers are only comparable within one invocation; the machine is shared)::

    mpirun --oversubscribe -n 2 python benchmarks/bench_io.py [--n 65536] [--frames 40] [--steps 20000]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from pel_hpc.deck.validate import validate_deck  # noqa: E402
from pel_hpc.io import layout as L  # noqa: E402
from pel_hpc.io.session import run_deck  # noqa: E402
from pel_hpc.io.writer import H5MDWriter  # noqa: E402
from pel_hpc.parallel.comm import MPIComm, SerialComm  # noqa: E402


def deck(folder, name, n, **output):
    return validate_deck({"run": {"name": name}, "system": {"n": n, "cutoff": 1.8},
                          "integrator": {"temperature": 0.6}, "stages": [{"name": "p", "steps": 1}],
                          "output": {"thermo": 0, "positions": 1, **output}, "checkpoint": {"file": None}},
                         folder)


def parallel_write(cfg, comm, x, frames: int, collective: bool) -> float:
    """Seconds for ``frames`` position frames from all ranks; each rank owns a random share of the tags."""
    tags = np.sort(np.random.default_rng(0).permutation(cfg.system.n)[comm.rank::comm.size])
    writer = H5MDWriter(cfg, comm, collective).create([10.0] * 3, {0: (tags, np.zeros(len(tags), np.int32))})
    comm.barrier()
    t0 = time.perf_counter()
    for k in range(frames):
        writer.append_particles(L.POSITION, k, {0: (tags, x[tags] + k)})
    writer.close()
    comm.barrier()
    return time.perf_counter() - t0


def verified(path, x, frames: int) -> str:
    """"ok" if every frame on disk equals what was written, else a warning."""
    with h5py.File(path, "r") as f:
        value = f[L.element_path(0, L.POSITION)][L.VALUE]
        good = value.shape[0] == frames and all(np.array_equal(value[k], x + k) for k in range(frames))
    return "verified" if good else "DATA LOST (rows on disk differ from what was written)"


def serial_write(path, x, frames: int) -> float:
    """Seconds for the same frames written by one process with plain h5py."""
    t0 = time.perf_counter()
    with h5py.File(path, "w") as f:
        dset = f.create_dataset("value", shape=(frames,) + x.shape, chunks=(1,) + x.shape, dtype=np.float64)
        for k in range(frames):
            dset[k] = x + k
    return time.perf_counter() - t0


def io_share(folder, n: int, steps: int) -> tuple[float, float]:
    """(seconds with default output, seconds without output) of a serial run of N particles."""
    times = []
    for name, out in (("with", {}), ("without", {"thermo": 0, "positions": 0})):
        d = {"run": {"name": f"share{n}_{name}"}, "system": {"n": n, "cutoff": 1.8},
             "integrator": {"temperature": 0.6}, "stages": [{"name": "p", "steps": steps}],
             "output": out, "checkpoint": {"file": None}}
        cfg = validate_deck(d, folder)
        if not times:  # warm-up: compilation and caches
            run_deck(cfg, SerialComm(), stream=open(os.devnull, "w"))
        t0 = time.perf_counter()
        run_deck(cfg, SerialComm(), stream=open(os.devnull, "w"))
        times.append(time.perf_counter() - t0)
    return times[0], times[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=65536)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--steps", type=int, default=20000)
    args = ap.parse_args()
    comm = MPIComm()
    folder = Path(comm.bcast(tempfile.mkdtemp(prefix="bench_io_") if comm.rank == 0 else None))
    x = np.random.default_rng(1).random((args.n, 3)) * 10.0
    megabytes = args.frames * x.nbytes / 1e6
    ind, coll = deck(folder, "ind", args.n), deck(folder, "coll", args.n)
    t_ind = parallel_write(ind, comm, x, args.frames, collective=False)
    t_coll = parallel_write(coll, comm, x, args.frames, collective=True)
    if comm.rank == 0:
        t_ser = serial_write(folder / "serial.h5", x, args.frames)
        print(f"N = {args.n}, {args.frames} frames, {megabytes:.1f} MB of positions")
        print(f"H5MD writer, {comm.size} ranks, collective MPI-IO (default): {megabytes / t_coll:8.1f} MB/s "
              f"({t_coll:.3f} s) {verified(coll.output.file, x, args.frames)}")
        print(f"H5MD writer, {comm.size} ranks, independent MPI-IO:          {megabytes / t_ind:8.1f} MB/s "
              f"({t_ind:.3f} s) {verified(ind.output.file, x, args.frames)}")
        print(f"plain h5py write, 1 process:                       {megabytes / t_ser:8.1f} MB/s ({t_ser:.3f} s)")
        for n, steps in ((65, args.steps), (2080, args.steps // 10)):
            with_io, without = io_share(folder, n, steps)
            print(f"N = {n}, {steps} steps, default cadences (thermo 100, positions 1000): "
                  f"{with_io:.2f} s with output, {without:.2f} s without -> I/O share "
                  f"{100 * (with_io - without) / with_io:.1f} %")
    comm.barrier()


if __name__ == "__main__":
    main()
