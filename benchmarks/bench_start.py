"""Random starts (``system.init: random``): the soft push on 1 and 2 ranks, and the rule it replaced.

A random start places N particles uniformly (ρ = 1.2, 80:20) and pushes them apart with capped FIRE
on the KA potential (r_c = 2.5, skin 0.3) until max_i |F_i| ≤ 3 ε/σ
(:func:`pel_hpc.md.init.pushed_random_state`), on the run's ranks in reproducible mode.  Printed per
N and rank count: wall time of the push, FIRE iterations, E_pot/N and max|F_i| of the start, and a
digest of the positions, which must be the same on every rank count (the start does not depend on
how many ranks made it).  ``--minimum-rule`` also times, on one rank, the rule used until
2026-12-08 (a minimum to |F| ≤ 10⁻³√N, serial, on every rank), for N ≤ 32000 by default.

Usage::

    python benchmarks/bench_start.py                        # N = 8000, 32000, 256000 on 1 and 2 ranks
    python benchmarks/bench_start.py --sizes 8000 --minimum-rule
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")

SEED, SKIN = 12345, 0.3


def worker(n: int, rule: str) -> None:
    """Time one push on this job's ranks; rank 0 prints the RESULT line."""
    from pel_hpc.md.domain import SerialDomain
    from pel_hpc.md.forces import compute_forces
    from pel_hpc.md.init import pushed_random_state, random_state
    from pel_hpc.md.minimize import minimize
    from pel_hpc.parallel.comm import world
    from pel_hpc.physics.kob_andersen import pair_table, types_for
    from pel_hpc.state import State

    table, comm = pair_table(2.5), world()
    comm.barrier()
    t0 = time.perf_counter()
    if rule == "push":
        report = io.StringIO()  # the line a run prints
        state = pushed_random_state(n, 1.2, 0.8, SEED, 0, table, SKIN, comm, stream=report)
        iterations = int(re.search(r"in (\d+) FIRE iterations", report.getvalue()).group(1))
    else:  # the rule before 2026-12-08: a minimum to |F| ≤ 1e-3 √N on a serial domain
        state = random_state(n, 1.2, 0.8, SEED, 0)
        dom = SerialDomain(table.rc_max, SKIN)
        dom.setup(state)
        iterations = minimize(state, dom, table, tol=1e-3 * np.sqrt(n), max_iter=20000)[1]
    seconds = comm.allreduce_max(time.perf_counter() - t0)
    x = np.empty((n, 3))  # every rank's particles (a rank holds its own share of a pushed start), by tag
    for tags, rows in comm.allgather((state.tag[:state.n_local], state.x[:state.n_local])):
        x[tags] = rows
    check = State.from_arrays(x, types_for(n, 0.8), state.box)
    dom = SerialDomain(table.rc_max, SKIN)
    dom.setup(check)
    epot, _ = compute_forces(check, dom, table)
    fmax = float(np.sqrt(np.max(np.sum(check.f[:n] ** 2, axis=1))))
    if comm.rank == 0:
        print("RESULT " + json.dumps({"seconds": seconds, "iterations": iterations, "e_per_n": epot / n,
                                      "fmax": fmax, "digest": hashlib.sha256(x.tobytes()).hexdigest()[:12]}),
              flush=True)


def run(n: int, ranks: int, rule: str) -> dict:
    cmd = ["mpirun", "--oversubscribe", "-n", str(ranks), sys.executable, __file__, "--worker", str(n), rule]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--sizes", type=int, nargs="+", default=[8000, 32000, 256000])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--minimum-rule", action="store_true",
                    help="also time the rule before 2026-12-08 on one rank (N ≤ --minimum-max-n)")
    ap.add_argument("--minimum-max-n", type=int, default=32000)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(int(args.worker[0]), args.worker[1])
    print(f"# bench_start {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs; KA ρ = 1.2, r_c = 2.5, "
          f"seed {SEED}; compile excluded (one warm-up push of N = 1000 per rank count)", flush=True)
    for ranks in args.ranks:
        run(1000, ranks, "push")
    print("| N | rule | ranks | push [s] | FIRE iterations | E_pot/N [ε] | max F_i [ε/σ] | positions sha256 |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        digests = set()
        for ranks in args.ranks:
            r = run(n, ranks, "push")
            digests.add(r["digest"])
            print(f"| {n} | max F_i ≤ 3 | {ranks} | {r['seconds']:.1f} | {r['iterations']} | {r['e_per_n']:.4f} | "
                  f"{r['fmax']:.2f} | {r['digest']} |", flush=True)
        if len(digests) > 1:
            print(f"| {n} | DIFFERENT STARTS ON DIFFERENT RANK COUNTS | | | | | | |", flush=True)
        if args.minimum_rule and n <= args.minimum_max_n:
            r = run(n, 1, "minimum")
            print(f"| {n} | \\|F\\| ≤ 10⁻³√N (before) | 1 | {r['seconds']:.1f} | {r['iterations']} | "
                  f"{r['e_per_n']:.4f} | {r['fmax']:.2f} | {r['digest']} |", flush=True)


if __name__ == "__main__":
    main()
