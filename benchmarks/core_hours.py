"""Core-hours of the paper-scale campaign (jobs/campaign_paper.sh), from our own measured speed.

``python benchmarks/core_hours.py [--rates 65:S65,1040:S1040,quench65:Q] [--efficiency 0.85]``

Calibration (≈ 20 s on one core, skipped with ``--rates``): NVT MD steps per second of N = 65
(r_c = 1.8, the compiled small-system loop) and N = 1040 (r_c = 1.8, cell lists), and the seconds per
inherent-structure quench of N = 65 (FIRE, |F| ≤ 1e-8).  For N > 1040 the cost per particle-step of the
N = 1040 run is used (our force loop is linear in N); several ranks per run divide the wall time with
the given parallel ``--efficiency``.  Every job's steps, quenches, N and ranks come from its deck in
``input/`` (the decks the sbatch scripts derive from).  Printed: one line per job with its array
size, ranks, wall hours per task, core-hours per task and in total — and the measurement conditions
(the machine may be shared: the load average is printed; a free core is faster, so these are upper
estimates).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from pel_hpc.deck.validate import load_deck  # noqa: E402

# (job, deck files, array tasks per deck, ranks per task) — mirrors jobs/campaign_paper.sh
JOBS = (("ka65", ["ka65_T0.45", "ka65_T0.50", "ka65_T0.55", "ka65_T0.60"], 4, 1),
        ("fsize_small", [f"finite_size_N{n}" for n in (65, 130, 260, 520, 1040, 2080)], 1, 1),
        ("fsize_large", ["finite_size_N4160", "finite_size_N8320"], 1, 2),
        ("ice520", ["ice520"], 4, 128))


def calibrate(steps65: int = 4000, steps1040: int = 400, quenches: int = 5) -> dict:
    """Measured {65: steps/s, 1040: steps/s, 'quench65': s per quench} on one core (after warm-up)."""
    from pel_hpc.md.domain import SerialDomain
    from pel_hpc.md.init import random_state, soft_push
    from pel_hpc.md.minimize import quench
    from pel_hpc.md.velocities import maxwell_boltzmann
    from pel_hpc.physics.kob_andersen import pair_table
    from pel_hpc.simulation import Integrator, Simulation

    table, rates = pair_table(1.8), {}
    for n, steps in ((65, steps65), (1040, steps1040)):
        state = random_state(n, 1.2, 0.8, 3)
        soft_push(state, SerialDomain(table.rc_max, 0.3), table, max_iter=3000)
        maxwell_boltzmann(state, SerialDomain(table.rc_max, 0.3), 0.5)
        sim = Simulation(state, SerialDomain(table.rc_max, 0.3), table, Integrator(0.005, 0.5, 0.5, 3)).setup()
        sim.run(200)
        t0 = time.perf_counter()
        sim.run(steps)
        rates[n] = steps / (time.perf_counter() - t0)
        if n == 65:
            quench(sim.state, sim.domain, table)
            t0 = time.perf_counter()
            for _ in range(quenches):
                sim.run(50)
                quench(sim.state, sim.domain, table)
            rates["quench65"] = (time.perf_counter() - t0 - quenches * 50 / rates[65]) / quenches
    return rates


def deck_numbers(name: str) -> dict:
    """Steps, quenches, N, r_c, replicas and ranks per replica of ``input/<name>.yaml``, and the same
    for its ``preparation`` run if it has one (raw YAML: start files need not exist yet)."""
    import yaml

    doc = yaml.safe_load((ROOT / "input" / f"{name}.yaml").read_text())
    system, init = doc.get("system") or {}, (doc.get("system") or {}).get("init") or {}
    n = system.get("n") or 65 * int(__import__("numpy").prod(init.get("replicate", [1, 1, 1])))
    steps = sum(int(s["steps"]) for s in doc["stages"])
    every = int((doc.get("quench") or {}).get("every", 0))
    ens = doc.get("ensemble") or {}
    prep = doc.get("preparation") or {}
    prep_steps = int(prep.get("equilibration", 0)) + int(prep.get("steps", 0))
    return {"n": int(n), "steps": steps, "quenches": steps // every if every else 0,
            "cutoff": float(system.get("cutoff", 2.5)), "replicas": int(ens.get("replicas", 1)),
            "ranks_per_replica": int(ens.get("ranks_per_replica", 1)),
            "preparation": {"n": int(prep.get("n", 65)), "steps": prep_steps, "cutoff": float(system.get("cutoff", 2.5)),
                            "quenches": int(prep.get("steps", 0)) // int(prep.get("quench_every", 1) or 1),
                            "replicas": int(prep.get("replicas", 1)), "ranks_per_replica": 1} if prep else None}


def replica_seconds(d: dict, rates: dict, efficiency: float) -> float:
    """Wall seconds of one replica on its ranks: MD steps at the measured speed plus its quenches."""
    per_step = 1.0 / rates[65] if d["n"] <= 65 else d["n"] / (1040 * rates[1040])
    per_step *= (d["cutoff"] / 1.8) ** 3  # neighbours per particle grow as r_c^3
    ranks = d["ranks_per_replica"]
    md = d["steps"] * per_step / (ranks * efficiency if ranks > 1 else 1.0)
    return md + d["quenches"] * rates["quench65"] * max(d["n"] / 65, 1.0) ** 1.3


def table(rates: dict, efficiency: float) -> list:
    """[(job, deck, tasks, ranks per task, wall h per task, core-h per task, core-h total)]."""
    rows = []
    for job, decks, tasks, ranks in JOBS:
        for name in decks:
            d = deck_numbers(name)
            replicas_per_rank = max(d["replicas"] * d["ranks_per_replica"] // ranks, 1)
            wall = replica_seconds(d, rates, efficiency) * replicas_per_rank / 3600
            if d["preparation"]:  # run first, its replicas spread over the ranks while the rest wait
                p = d["preparation"]
                wall += replica_seconds(p, rates, efficiency) * -(-p["replicas"] // ranks) / 3600
            rows.append((job, name, tasks, ranks, wall, wall * ranks, wall * ranks * tasks))
    return rows


def parse_rates(text: str) -> dict:
    out = {}
    for item in text.split(","):
        key, value = item.split(":")
        out[key if key == "quench65" else int(key)] = float(value)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/core_hours.py", description=__doc__.splitlines()[0])
    ap.add_argument("--rates", help="skip the calibration: '65:STEPS_PER_S,1040:STEPS_PER_S,quench65:SECONDS'")
    ap.add_argument("--efficiency", type=float, default=0.85, help="parallel efficiency of multi-rank runs")
    args = ap.parse_args(argv)
    load = os.getloadavg()[0]
    rates = parse_rates(args.rates) if args.rates else calibrate()
    print(f"speed ({'given' if args.rates else f'measured now on one core, load average {load:.1f}'}): "
          f"N=65 {rates[65]:.0f} steps/s, N=1040 {rates[1040]:.0f} steps/s, N=65 quench {rates['quench65'] * 1e3:.1f} ms; "
          f"multi-rank efficiency {args.efficiency:g}")
    print(f"{'job':12s} {'deck':18s} {'tasks':>5s} {'ranks':>5s} {'wall h/task':>11s} {'core-h/task':>11s} {'core-h':>9s}")
    rows = table(rates, args.efficiency)
    for job, name, tasks, ranks, wall, per_task, total in rows:
        print(f"{job:12s} {name:18s} {tasks:5d} {ranks:5d} {wall:11.2f} {per_task:11.2f} {total:9.1f}")
    print(f"{'total':12s} {'':18s} {'':5s} {'':5s} {'':11s} {'':11s} {sum(r[-1] for r in rows):9.1f}  "
          f"(+ post-processing, 1 core)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
