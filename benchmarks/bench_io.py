"""H5MD output cost: collective 2-rank write bandwidth vs a serial h5py write, and the I/O share of a run.

1. Bandwidth: ``--frames`` position frames of ``--n`` particles (float64, (N, 3) per frame)
   written through :class:`pel_hpc.io.writer.H5MDWriter` by every rank of ``mpirun -n 2``
   (each rank owns a random half of the tags, rows written by their owners, collective
   MPI-IO), against rank 0 alone writing the same bytes with plain ``h5py`` (``dset[k] = x``).
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


def collective_write(cfg, comm, x, frames: int) -> float:
    """Seconds for ``frames`` collective position frames; each rank owns a random half of the tags."""
    tags = np.sort(np.random.default_rng(0).permutation(cfg.system.n)[comm.rank::comm.size])
    writer = H5MDWriter(cfg, comm).create([10.0] * 3, {0: (tags, np.zeros(len(tags), np.int32))})
    comm.barrier()
    t0 = time.perf_counter()
    for k in range(frames):
        writer.append_particles(L.POSITION, k, {0: (tags, x[tags] + k)})
    writer.close()
    comm.barrier()
    return time.perf_counter() - t0


def serial_write(path, x, frames: int) -> float:
    """Seconds for the same frames written by one process with plain h5py."""
    t0 = time.perf_counter()
    with h5py.File(path, "w") as f:
        dset = f.create_dataset("value", shape=(frames,) + x.shape, chunks=(1,) + x.shape, dtype=np.float64)
        for k in range(frames):
            dset[k] = x + k
    return time.perf_counter() - t0


def io_share(folder, steps: int) -> tuple[float, float]:
    """(seconds with default output, seconds without output) of a serial N = 65 run with quenches."""
    times = []
    for name, out in (("with", {}), ("without", {"thermo": 0, "positions": 0})):
        d = {"run": {"name": f"share_{name}"}, "system": {"n": 65, "cutoff": 1.8},
             "integrator": {"temperature": 0.6}, "stages": [{"name": "p", "steps": steps}],
             "output": out, "checkpoint": {"file": None}}
        cfg = validate_deck(d, folder)
        run_deck(cfg, SerialComm(), stream=open(os.devnull, "w"))  # warm-up: compile and caches
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
    t_coll = collective_write(deck(folder, "coll", args.n), comm, x, args.frames)
    if comm.rank == 0:
        t_ser = serial_write(folder / "serial.h5", x, args.frames)
        print(f"N = {args.n}, {args.frames} frames, {megabytes:.1f} MB of positions")
        print(f"collective H5MD write on {comm.size} ranks: {megabytes / t_coll:8.1f} MB/s ({t_coll:.3f} s)")
        print(f"serial plain h5py write, 1 process:      {megabytes / t_ser:8.1f} MB/s ({t_ser:.3f} s)")
        with_io, without = io_share(folder, args.steps)
        print(f"N = 65, {args.steps} steps, default cadences (thermo 100, positions 1000): "
              f"{with_io:.2f} s with output, {without:.2f} s without -> I/O share "
              f"{100 * (with_io - without) / with_io:.1f} %")
    comm.barrier()


if __name__ == "__main__":
    main()
