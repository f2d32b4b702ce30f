"""CLM event throughput: events per CPU-second on a 27-ES and a 10^6-ES lattice, both selections side by side.

``python benchmarks/bench_clm.py [--events 2e6] [--repeat 3] [--temperature 0.6] [--q 0.1] [--also-sigma0]``
(about a minute on a quiet 2-core machine).

**Event** = one active process (an ES leaves its state; :mod:`postprocess.clm.kinetics`).  The
passive processes it triggers (N_eff·q per event on average, printed) are *not* counted as events,
although each costs about as much as an active one; "passive/active" shows the extra work.  Warm-up
events (before the recording window) are included: ``duration`` is in q = 0 ⟨τ⟩ units, so a run
of ``events / N_ES`` is about ``events`` active processes.

Each configuration runs with the composition–rejection engine (default) and the next-reaction heap
(``engine="heap"``, the previous engine) in the same invocation, alternating, ``--repeat`` times; the
best CPU-time rate of each is printed with their ratio.  ``CLMSimulation``'s default
``engine="auto"`` takes the heap up to 256 ES and composition–rejection above.  The first call of each engine compiles, so
both are warmed up on a tiny run first.  Target of issue 6: ≥ 10^7 events/s per core.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

from postprocess.clm.simulation import CLMConfig, CLMSimulation

ENGINES = ("composition", "heap")


def throughput(shape, temperature, q, events, engine, sigma_gamma=None):
    """(active events, passive events, CPU seconds) of one run of about ``events`` active events."""
    n_es = 1
    for n in shape:
        n_es *= n
    cfg = CLMConfig(temperature=temperature, q=q, shape=tuple(shape), duration=events / n_es, n_blocks=4)
    if sigma_gamma is not None:
        cfg = dataclasses.replace(cfg, pel=cfg.pel.replace(sigma_gamma=sigma_gamma))
    sim = CLMSimulation(cfg, engine=engine)
    start = time.process_time()   # CPU time: the machine is shared
    tallies = sim.run()
    return tallies.n_active, tallies.n_passive, time.process_time() - start


def best_rates(shape, temperature, q, events, repeat, sigma_gamma):
    """Best active events per CPU-second of each engine over ``repeat`` alternating runs."""
    best, ratio = {e: 0.0 for e in ENGINES}, 0.0
    for _ in range(repeat):
        for engine in ENGINES:
            n_act, n_pas, sec = throughput(shape, temperature, q, events, engine, sigma_gamma)
            best[engine] = max(best[engine], n_act / sec)
            ratio = n_pas / max(n_act, 1)
    return best, ratio


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=float, default=2e6, help="active events per run (default 2e6)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per engine; the best is quoted")
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--q", type=float, default=0.1)
    ap.add_argument("--also-sigma0", action="store_true", help="also run without rate broadening (σ_γ = 0)")
    args = ap.parse_args(argv)
    for engine in ENGINES:
        throughput((3, 3, 3), args.temperature, args.q, 1e4, engine)          # compile
    print(f"T = {args.temperature}, {args.events:.0e} active events per run, best of {args.repeat} (CPU time)")
    print(f"{'lattice':>11}     {'q':<5} {'sigma_gamma':<11} {'composition':>11} {'heap':>11}"
          f"  {'ratio':>5}  passive/active")
    for shape in ((3, 3, 3), (100, 100, 100)):
        for q in (0.0, args.q):
            for sg in ((None, 0.0) if args.also_sigma0 else (None,)):
                best, ratio = best_rates(shape, args.temperature, q, args.events, args.repeat, sg)
                tag = "Table I" if sg is None else "0"
                print(f"{'x'.join(map(str, shape)):>11} ES  {q:<5g} {tag:<11} {best['composition']:11.3e}"
                      f" {best['heap']:11.3e}  {best['composition'] / best['heap']:5.2f}  {ratio:.2f}")
    print("(active events per CPU-second; target of issue 6: 1e7)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
