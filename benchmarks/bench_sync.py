"""What a synchronisation per call costs two ranks on this machine, by kind of loop.

Why the 2-rank speedup of a fast MD step stays below a slow one's here: each of the two ranks
runs the same loop for ~0.8 ms per call, first free-running ("alone": no communication), then
with an ``Allreduce`` of 24 B after every call ("synced", as an MD step's reductions and halo
do), in alternating blocks of 200 calls so that both see the same stretches of the machine's
noise.  The sync cost is the median over block pairs of (synced − alone)/alone; the per-window
ratio is rank 0's over rank 1's mean call time in windows of 100 free-running calls.  Loops:

* ``chain``  — a dependent multiply-add chain (latency-bound: one operation in flight);
* ``ilp``    — independent multiply-adds over an 8 kB array (throughput-bound, all ports busy);
* ``stream`` — a sum over 16 MB (memory-bound; one pass is ~2 ms, so its calls are longer);
* ``forces`` — pel_hpc's pair kernel on one rank's half of N = 8000 KA (2×1×1 grid, frozen
  positions, no halo traffic).

On a machine whose cores are the runner's own, every loop shows a sync cost of a few per cent
(the reduction's latency).  On a VM whose vCPUs share execution units with other work, a
throughput-bound loop runs 10–50 % slower on one vCPU than on the other for stretches of
0.1–3 s, and a synchronised code waits for the slower rank at every step; a latency-bound loop
is barely affected.  Printed per loop: alone ms/call per rank, sync cost, window-ratio range.
Then, for the force kernel, :func:`solo_versus_both`: do slow stretches come with the other
rank asleep as well (the machine), or only when both run (our two ranks contending)?

Usage::

    python benchmarks/bench_sync.py            # runs itself under mpirun -n 2
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(var, "1")
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")

CALL_SECONDS = 0.8e-3
BLOCK = 200  # calls per block; alone and synced blocks alternate
PAIRS = 10
WINDOW = 100
SOLO_ROUNDS, SOLO_SECONDS, SLOW = 12, 0.5, 1.3  # the solo test: rounds, seconds per phase, slow-window factor


def _kernels():
    from numba import njit

    @njit(cache=True)
    def chain(reps):
        s, x = 0.0, 1.0
        for _ in range(reps * 1000):
            x = x * 1.0000001 + 1e-9
            s += x
        return s

    @njit(cache=True, fastmath=True)
    def ilp(a, reps):
        s = 0.0
        for _ in range(reps):
            for i in range(a.size):
                a[i] = a[i] * 0.999999 + 1e-7
                s += a[i]
        return s

    @njit(cache=True)
    def stream(a, reps):
        s = 0.0
        for _ in range(reps):
            for i in range(a.size):
                s += a[i]
        return s

    return {"chain": chain, "ilp": partial(ilp, np.ones(1024)), "stream": partial(stream, np.ones(2 * 2**20))}


def _force_call(config: Path):
    """A callable(reps) running the force kernel ``reps`` times on this rank's half of the configuration."""
    from pel_hpc.md.forces import force_rows
    from pel_hpc.parallel.comm import MPIComm
    from pel_hpc.parallel.domain import DecomposedDomain
    from pel_hpc.physics.kob_andersen import pair_table
    from pel_hpc.state import State

    data, table = np.load(config), pair_table(2.5)
    state = State.from_arrays(data["x"], data["typ"], data["box"], v=data["v"])
    dom = DecomposedDomain(table.rc_max, 0.3, MPIComm())
    dom.setup(state)

    def call(reps):
        for _ in range(reps):
            force_rows(state, dom, table, 0, state.n_local)
    return call


def worker(config: Path) -> None:
    from mpi4py import MPI  # the raw communicator's reduction operators

    from pel_hpc.parallel.comm import MPIComm

    comm = MPIComm().raw

    kinds = {**_kernels(), "forces": _force_call(config)}
    buf, out = np.zeros(3), np.zeros(3)
    for name, fn in kinds.items():
        fn(1)
        reps = 1
        while True:  # calibrate: repetitions per ~0.8 ms call (the faster rank's count on both)
            t0 = time.perf_counter()
            fn(reps)
            if time.perf_counter() - t0 > 2e-4:
                break
            reps *= 2
        per_rep = comm.allreduce((time.perf_counter() - t0) / reps, op=MPI.MIN)
        reps = max(1, round(CALL_SECONDS / per_rep))
        alone, costs = [], []
        for _ in range(PAIRS):  # alternating blocks, so that both phases see the same stretches of noise
            comm.Barrier()
            ts = np.empty(BLOCK)
            for k in range(BLOCK):
                t0 = time.perf_counter()
                fn(reps)
                ts[k] = time.perf_counter() - t0
            comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(BLOCK):
                fn(reps)
                comm.Allreduce(buf, out)
            synced = comm.allreduce((time.perf_counter() - t0) / BLOCK, op=MPI.MAX)
            mean_alone = comm.allreduce(ts.mean(), op=MPI.SUM) / comm.size
            costs.append((synced - mean_alone) / mean_alone)
            alone.append(ts)
        alone = comm.gather(np.concatenate(alone))
        if comm.rank == 0:
            means = [a.mean() for a in alone]
            ratio = alone[0].reshape(-1, WINDOW).mean(axis=1) / alone[1].reshape(-1, WINDOW).mean(axis=1)
            print(f"  {name:7s} alone {1e3 * means[0]:.3f} | {1e3 * means[1]:.3f} ms/call   "
                  f"sync cost median {100 * np.median(costs):5.1f} % (blocks {100 * min(costs):.0f} to "
                  f"{100 * max(costs):.0f} %)   window ratio rank0/rank1 {ratio.min():.2f}-{ratio.max():.2f}",
                  flush=True)
    solo_versus_both(comm, kinds["forces"])


def solo_versus_both(comm, fn) -> None:
    """Is a slow stretch our two ranks contending, or the machine?  Rounds of three phases of
    ``SOLO_SECONDS``: rank 0 runs ``fn`` while rank 1 sleeps, then the reverse, then both at
    once; per phase the median call time.  A window is slow when its median exceeds ``SLOW``
    times the rank's fastest one.  If slow windows come as often with the other rank asleep as
    with both running, the two ranks do not slow each other down."""
    medians = {"solo": [], "both": []}
    for _ in range(SOLO_ROUNDS):
        for phase in (0, 1, "both"):
            comm.Barrier()
            if phase == "both" or phase == comm.rank:
                ts, t_end = [], time.perf_counter() + SOLO_SECONDS
                while time.perf_counter() < t_end:
                    t0 = time.perf_counter()
                    fn(1)
                    ts.append(time.perf_counter() - t0)
                medians["solo" if phase != "both" else "both"].append(float(np.median(ts)))
            else:
                time.sleep(SOLO_SECONDS)
    rows = comm.gather(medians)
    if comm.rank == 0:
        fastest = [min(r["solo"] + r["both"]) for r in rows]
        slow = {k: sum(int(m > SLOW * f) for r, f in zip(rows, fastest) for m in r[k]) for k in ("solo", "both")}
        ratio = np.median([np.median(r["both"]) / np.median(r["solo"]) for r in rows])
        print(f"  forces  solo vs both ({SOLO_ROUNDS} rounds of {SOLO_SECONDS} s phases): windows slower than "
              f"{SLOW}x the rank's fastest: {slow['solo']} of {2 * SOLO_ROUNDS} with the other rank asleep, "
              f"{slow['both']} of {2 * SOLO_ROUNDS} with both running; median both/solo {ratio:.3f}", flush=True)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(Path(sys.argv[2]))
        return
    import bench_decomp

    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "ka8000.npz"
        bench_decomp.make_config(8000, config)
        print(f"Sync cost per ~{CALL_SECONDS * 1e3:.1f} ms call on 2 ranks: {PAIRS} pairs of alternating blocks of "
              f"{BLOCK} calls, free-running then synced (window ratio over {WINDOW} free-running calls)", flush=True)
        subprocess.run(["mpirun", "--oversubscribe", "--bind-to", "none", "-n", "2", sys.executable, __file__,
                        "--worker", str(config)], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
