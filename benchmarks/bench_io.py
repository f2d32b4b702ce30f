"""H5MD output cost: collective 2-rank write bandwidth vs a serial h5py write, and the I/O share of runs.

1. Bandwidth: ``--frames`` position frames of ``--n`` particles (float64, (N, 3) per frame)
   written through :class:`pel_hpc.io.writer.H5MDWriter` by both ranks of ``mpirun -n 2``
   (each rank owns a random half of the tags; frames are buffered and written in blocks, one
   ``alltoall`` and one collective write per block), with collective and with independent
   MPI-IO, against rank 0 alone writing the same bytes with plain ``h5py`` (``dset[k] = x``).
   Every written row is read back and verified.
2. I/O share of production runs at the default cadences (thermo 100, positions 1000; a final
   checkpoint), run by ``run_deck`` on both ranks: a 64-replica ensemble of N = 65 and one
   decomposed system of N = 2080 and 8000.  Measured two ways in the same invocation: the
   wall time inside the output operations and the writer (create, flush, close, checkpoint;
   the maximum over ranks) as a share of the run, the steady share leaving out the part a
   run pays once (file creation, final trim and checkpoint); and the run against the same
   deck with ``output: false`` (same file, thermo table and loop stops, no rows written).

Usage (numbers are only comparable within one invocation; the machine is shared)::

    python benchmarks/bench_io.py [--n 65536] [--frames 40] [--quick] [--share-only 2080 8000]
    # launches mpirun -n 2 itself
"""
from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

SHARE_RUNS = ((65, 64, 20000), (2080, 1, 2000), (8000, 1, 600))  # (N, replicas, steps)


def relaunch_under_mpirun() -> None:
    """Run this script under ``mpirun -n 2`` when started without it (``make bench``)."""
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cmd = ["mpirun", "--oversubscribe", "--bind-to", "none", "-n", "2", sys.executable, __file__, *sys.argv[1:]]
    sys.exit(subprocess.run(cmd, env=env).returncode)


def deck(folder, name, n, steps, replicas=1, ranks=2, **over):
    from pel_hpc.deck.validate import validate_deck

    d = {"run": {"name": name}, "system": {"n": n, "cutoff": 1.8}, "integrator": {"temperature": 0.6},
         "stages": [{"name": "p", "steps": steps}], "ensemble": {"replicas": replicas, "ranks_per_replica": ranks}}
    d.update(over)
    return validate_deck(d, folder)


def parallel_write(cfg, comm, x, frames: int, collective: bool) -> float:
    """Seconds for ``frames`` position frames from all ranks; each rank owns a random share of the tags."""
    import numpy as np

    from pel_hpc.io import layout as L
    from pel_hpc.io.writer import H5MDWriter

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
    """"verified" if every frame on disk equals what was written, else a warning."""
    import h5py
    import numpy as np

    from pel_hpc.io import layout as L

    with h5py.File(path, "r") as f:
        group = f[L.element_path(0, L.POSITION)]
        value, steps = group[L.VALUE], group[L.STEP][()]
        good = value.shape[0] == frames and np.array_equal(steps, np.arange(frames)) \
            and all(np.array_equal(value[k], x + k) for k in range(frames))
    return "verified" if good else "DATA LOST (rows on disk differ from what was written)"


def serial_write(path, x, frames: int) -> float:
    """Seconds for the same frames written by one process with plain h5py."""
    import h5py
    import numpy as np

    t0 = time.perf_counter()
    with h5py.File(path, "w") as f:
        dset = f.create_dataset("value", shape=(frames,) + x.shape, chunks=(1,) + x.shape, dtype=np.float64)
        for k in range(frames):
            dset[k] = x + k
    return time.perf_counter() - t0


def bandwidth(comm, folder, n: int, frames: int) -> None:
    import numpy as np

    x = np.random.default_rng(1).random((n, 3)) * 10.0
    megabytes = frames * x.nbytes / 1e6
    over = {"output": {"thermo": 0, "positions": 1}, "checkpoint": {"file": None}}
    best = {}
    for _ in range(2):
        for mode in ("collective", "independent"):
            cfg = deck(folder, mode, n, frames - 1, **over)
            t = parallel_write(cfg, comm, x, frames, mode == "collective")
            best[mode] = min(best.get(mode, t), t)
            best[mode + "_check"] = verified(cfg.output.file, x, frames) if comm.rank == 0 else ""
        if comm.rank == 0:
            t = serial_write(folder / "serial.h5", x, frames)
            best["serial"] = min(best.get("serial", t), t)
        comm.barrier()
    if comm.rank == 0:
        print(f"1. N = {n}, {frames} frames, {megabytes:.1f} MB of positions (best of 2)")
        for mode in ("collective", "independent"):
            print(f"   H5MD writer, {comm.size} ranks, {mode:11s} MPI-IO: {megabytes / best[mode]:8.1f} MB/s "
                  f"({best[mode]:.3f} s) {best[mode + '_check']}")
        print(f"   plain h5py write, 1 process:              {megabytes / best['serial']:8.1f} MB/s "
              f"({best['serial']:.3f} s)  -> writer (collective, the deck default)/serial = "
              f"{best['serial'] / best['collective']:.2f}")


class Stopwatch:
    """Wall time accumulated inside wrapped functions (not re-entrant: nested calls count once)."""

    def __init__(self):
        self.total, self.depth = 0.0, 0

    def wrap(self, owner, name: str) -> None:
        inner = getattr(owner, name)

        @functools.wraps(inner)
        def timed(*args, **kwargs):
            self.depth += 1
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self.total += time.perf_counter() - t0

        setattr(owner, name, timed)


def instrument() -> tuple[Stopwatch, Stopwatch]:
    """Watches of every output path of a run (operations, writer, checkpoints) and of its once-per-run
    part (file creation, the final trim and the final checkpoint)."""
    from pel_hpc.io import ops, session, writer

    every, once = Stopwatch(), Stopwatch()
    for cls in (ops.ParticleWriterOp, ops.ObservableWriterOp, ops.ISEnergyWriterOp, ops.CheckpointOp):
        every.wrap(cls, "act")
    for name in ("create", "reopen", "flush", "close"):
        every.wrap(writer.H5MDWriter, name)
    every.wrap(session, "write_checkpoint")
    once.wrap(writer.H5MDWriter, "create")
    once.wrap(writer, "trim")
    once.wrap(session, "write_checkpoint")
    return every, once


def timed_run(cfg, comm, watches) -> tuple:
    """(wall seconds of ``run_deck``, then seconds inside each watch), each the maximum over ranks."""
    from pel_hpc.io.session import run_deck

    comm.barrier()
    before = [w.total for w in watches]
    t0 = time.perf_counter()
    run_deck(cfg, comm, stream=open(os.devnull, "w"), check_allocation=False)
    wall = time.perf_counter() - t0
    return tuple(comm.allreduce_max(t) for t in [wall] + [w.total - b for w, b in zip(watches, before)])


def io_share(comm, folder, n: int, replicas: int, steps: int, watches) -> None:
    """Share of a production run in output at the default cadences, two ways (best of 2).

    The steady share leaves out what a run pays once whatever its length (creating the file's
    groups and datasets, the final trim and checkpoint), which is printed apart.
    """
    ranks = 1 if replicas > 1 else comm.size
    runs = {"out": deck(folder, f"share{n}", n, steps, replicas, ranks),
            "off": deck(folder, f"share{n}_off", n, steps, replicas, ranks,
                        stages=[{"name": "p", "steps": steps, "output": False}])}
    timed_run(deck(folder, f"warm{n}", n, 200, replicas, ranks), comm, watches)  # compile, caches
    best = {}
    for _ in range(2):
        for key, cfg in runs.items():
            res = timed_run(cfg, comm, watches)
            if key not in best or res[0] < best[key][0]:
                best[key] = res
    (wall, io, once), off = best["out"], best["off"][0]
    if comm.rank == 0:
        what = f"{replicas} replicas of N = {n}" if replicas > 1 else f"N = {n} on {comm.size} ranks"
        print(f"   {what:24s} {steps:6d} steps: {wall:6.2f} s, output {io:5.2f} s of which once per run "
              f"{once:5.2f} s -> steady I/O share {100 * (io - once) / (wall - once):4.1f} % "
              f"(all output {100 * io / wall:4.1f} %; "
              f"output: false run {off:6.2f} s: {100 * (wall - off) / wall:5.1f} %)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=65536)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--quick", action="store_true", help="small sizes: a check that everything runs")
    ap.add_argument("--share-only", type=int, nargs="*", metavar="N",
                    help="only part 2, for these N (all three if none given)")
    args = ap.parse_args()
    if "OMPI_COMM_WORLD_SIZE" not in os.environ:
        relaunch_under_mpirun()
    from pel_hpc.parallel.comm import MPIComm

    comm = MPIComm()
    folder = Path(comm.bcast(tempfile.mkdtemp(prefix="bench_io_") if comm.rank == 0 else None))
    if args.share_only is None:
        bandwidth(comm, folder, 4096 if args.quick else args.n, 8 if args.quick else args.frames)
    if comm.rank == 0:
        print("2. I/O share of production runs, default cadences (thermo 100, positions 1000), "
              f"{comm.size} ranks, best of 2:")
    watches = instrument()
    runs = [r for r in SHARE_RUNS if not args.share_only or r[0] in args.share_only]
    for n, replicas, steps in SHARE_RUNS[:1] if args.quick else runs:
        io_share(comm, folder, n, 4 if args.quick else replicas, 1000 if args.quick else steps, watches)
    comm.barrier()


if __name__ == "__main__":
    main()
