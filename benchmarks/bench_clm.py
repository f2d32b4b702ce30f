"""CLM event throughput: events per second per core on a 27-ES and a 10^6-ES lattice.

``python benchmarks/bench_clm.py [--events 2e7] [--temperature 0.6] [--q 0.1]``.  Counts active
events (each also makes ~N_eff·q passive updates); the first call of each size also compiles, so
every size is run once to warm up and then timed.  Target of issue 6: ≥ 10^7 events/s per core.
"""
from __future__ import annotations

import argparse
import time

from postprocess.clm.simulation import CLMConfig, CLMSimulation


def throughput(shape, temperature, q, events, sigma_gamma=None):
    """(active events, passive events, seconds) of one timed run of about ``events`` active events."""
    n_es = 1
    for n in shape:
        n_es *= n
    cfg = CLMConfig(temperature=temperature, q=q, shape=tuple(shape), duration=events / n_es, n_blocks=4)
    if sigma_gamma is not None:
        cfg = CLMConfig(**{**cfg.__dict__, "pel": cfg.pel.replace(sigma_gamma=sigma_gamma)})
    sim = CLMSimulation(cfg)
    start = time.process_time()   # CPU time: the machine is shared
    tallies = sim.run()
    return tallies.n_active, tallies.n_passive, time.process_time() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=float, default=2e7)
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--q", type=float, default=0.1)
    args = ap.parse_args(argv)
    throughput((3, 3, 3), args.temperature, args.q, 1e4)          # compile
    for shape in ((3, 3, 3), (100, 100, 100)):
        for q in (0.0, args.q):
            for sg in (None, 0.0):
                n_act, n_pas, sec = throughput(shape, args.temperature, q, args.events, sg)
                tag = "sigma_gamma=Table I" if sg is None else "sigma_gamma=0"
                print(f"{'x'.join(map(str, shape)):>11} ES  q={q:<5g} {tag:<20} {n_act / sec:10.3e} active events per CPU-second"
                      f"  ({n_pas / max(n_act, 1):.2f} passive per active, {sec:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
