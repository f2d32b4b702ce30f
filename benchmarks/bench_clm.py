"""CLM event throughput: events per CPU-second on a 27-ES and a 10^6-ES lattice, default engine and heap side by side.

``python benchmarks/bench_clm.py [--events 2e6] [--repeat 3] [--temperature 0.6] [--q 0.1] [--also-sigma0]``
(about a minute on a quiet 2-core machine).

**Event** = one active process (an ES leaves its state; :mod:`postprocess.clm.kinetics`).  The
passive processes it triggers (N_eff·q per event on average, printed) are *not* counted as events,
although each costs about as much as an active one; "passive/active" shows the extra work.  Warm-up
events (before the recording window) are included: ``duration`` is in q = 0 ⟨τ⟩ units, so a run
of ``events / N_ES`` is about ``events`` active processes.

Each configuration runs with the engine ``CLMSimulation`` picks by default (``engine="auto"``: the
linear-scan next-reaction method up to 64 ES, above 256 trials over rate-bin bounds with the
trials drawn and their memory prefetched ahead; the last column gives its trials per event) and
with the next-reaction heap (``engine="heap"``, the reference) in the same invocation, alternating,
``--repeat`` times; the best CPU-time rate of each is printed with their ratio.  Both are compiled
on a tiny run first.  Target of issue 6: ≥ 10^7 events/s per core.

The 10^6-ES lattice does not fit in cache, so the script also measures the machine's memory: the
latency of a dependent random load (pointer chase over 64 MB) and the cost per random cache line
when the loads are independent and prefetched (the throughput bound); see the printed note.  The
20^3-ES lattice (about 0.5 MB of per-ES data and bins, in L2/L3) runs the same engine almost
without memory stalls: the difference to 10^6 ES is what the memory costs.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
from numba import njit

from postprocess.clm.composition import TRIALS
from postprocess.clm.intrinsics import prefetch_row
from postprocess.clm.simulation import CLMConfig, CLMSimulation

ENGINES = ("auto", "heap")


def throughput(shape, temperature, q, events, engine, sigma_gamma=None):
    """(active events, passive events, CPU seconds, engine used, trials) of one run of about
    ``events`` events (trials: of the composition engine, else 0)."""
    n_es = int(np.prod(shape))
    cfg = CLMConfig(temperature=temperature, q=q, shape=tuple(shape), duration=events / n_es, n_blocks=4)
    if sigma_gamma is not None:
        cfg = dataclasses.replace(cfg, pel=cfg.pel.replace(sigma_gamma=sigma_gamma))
    sim = CLMSimulation(cfg, engine=engine)
    start = time.process_time()   # CPU time: the machine is shared
    tallies = sim.run()
    sec = time.process_time() - start
    trials = int(sim.bins.ring_state[TRIALS]) if sim.engine == "composition" else 0
    return tallies.n_active, tallies.n_passive, sec, sim.engine, trials


def best_rates(shape, temperature, q, events, repeat, sigma_gamma):
    """Best active events per CPU-second of each engine over ``repeat`` alternating runs; passive and
    (default engine) trials per active event."""
    best, ratio, used, per_trial = {e: 0.0 for e in ENGINES}, 0.0, "", 0.0
    for _ in range(repeat):
        for engine in ENGINES:
            n_act, n_pas, sec, name, trials = throughput(shape, temperature, q, events, engine, sigma_gamma)
            best[engine] = max(best[engine], n_act / sec)
            ratio = n_pas / max(n_act, 1)
            if engine == "auto":
                used, per_trial = name, trials / max(n_act, 1)
    return best, ratio, used, per_trial


@njit(cache=True)
def _chase(nxt, n):
    i = 0
    for _ in range(n):
        i = nxt[i]
    return i


@njit(cache=True)
def _prefetched_reads(rows, idx, ahead):
    s = 0.0
    for k in range(idx.size - ahead):
        prefetch_row(rows, idx[k + ahead])
        s += rows[idx[k], 0]
    return s


def memory_figures(megabytes=64, n=2_000_000):
    """(ns per dependent random load, ns per independent prefetched random cache line) over ``megabytes``."""
    rng = np.random.default_rng(0)
    n_el = megabytes * 2**20 // 8
    perm = rng.permutation(n_el)
    nxt = np.empty(n_el, np.int64)
    nxt[perm] = np.roll(perm, -1)
    rows = np.zeros((megabytes * 2**20 // 64, 8))
    idx = rng.integers(0, rows.shape[0], n)
    _chase(nxt, 10)
    _prefetched_reads(rows, idx[:100], 16)
    start = time.perf_counter()
    _chase(nxt, n)
    latency = (time.perf_counter() - start) / n
    start = time.perf_counter()
    _prefetched_reads(rows, idx, 16)
    return latency * 1e9, (time.perf_counter() - start) / n * 1e9


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=float, default=2e6, help="active events per run (default 2e6)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per engine; the best is quoted")
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--q", type=float, default=0.1)
    ap.add_argument("--also-sigma0", action="store_true", help="also run without rate broadening (σ_γ = 0)")
    args = ap.parse_args(argv)
    for engine in ENGINES + ("composition",):
        throughput((3, 3, 3), args.temperature, args.q, 1e4, engine)          # compile
    print(f"T = {args.temperature}, {args.events:.0e} active events per run, best of {args.repeat} (CPU time)")
    print(f"{'lattice':>11}     {'q':<5} {'sigma_gamma':<11} {'default engine':>26} {'heap':>11}"
          f"  {'ratio':>5}  passive/active  trials/active")
    for shape in ((3, 3, 3), (20, 20, 20), (100, 100, 100)):
        for q in dict.fromkeys((0.0, args.q)):           # once each, also for --q 0
            for sg in ((None, 0.0) if args.also_sigma0 else (None,)):
                best, ratio, used, per_trial = best_rates(shape, args.temperature, q, args.events, args.repeat, sg)
                tag = "Table I" if sg is None else "0"
                print(f"{'x'.join(map(str, shape)):>11} ES  {q:<5g} {tag:<11} {used:>11} {best['auto']:9.3e}"
                      f" ({1e9 / best['auto']:4.0f} ns) {best['heap']:11.3e}  {best['auto'] / best['heap']:5.2f}"
                      f"  {ratio:14.2f}  {per_trial:13.2f}")
    latency, line = memory_figures()
    print("(active events per CPU-second; target of issue 6: 1e7)")
    print(f"memory: dependent random load {latency:.0f} ns; independent prefetched random line {line:.1f} ns "
          "(64 MB). A 10^6-ES event touches 2 random lines at q = 0 (pool row, record); with couplings a third "
          "(the record of the ES moved into the freed pool row) and ~4 more per passive process")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
