"""Serial MD engine vs LAMMPS (Debian ``lmp``, plain lj/cut and ``-sf opt``), side by side.

Prints steps/s for N = 8000 (r_c = 2.5) and N = 65 (r_c = 1.8), NVT Nosé–Hoover at T = 0.5,
ρ = 1.2, skin 0.3, Δt = 0.005, one core; the time of one IS quench (2-norm of the force
≤ 1e-8) of N = 65 and N = 8000 against LAMMPS ``minimize`` (cg); numba compile time cold and
cached; peak memory per particle.  Only the ratios printed in one invocation mean anything
(the machine is shared).  Usage::

    python benchmarks/bench_md.py [--steps8000 300] [--steps65 20000] [--skip-quench8000] [--only65 | --only8000]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "lammps"))
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import ka_lammps as K  # noqa: E402

from pel_hpc.md.domain import SerialDomain  # noqa: E402
from pel_hpc.md.init import random_state, replicate, soft_push  # noqa: E402
from pel_hpc.md.minimize import quench  # noqa: E402
from pel_hpc.md.velocities import maxwell_boltzmann  # noqa: E402
from pel_hpc.physics.kob_andersen import pair_table  # noqa: E402
from pel_hpc.simulation import Integrator, Simulation  # noqa: E402

T, DT, SKIN, TAU = 0.5, 0.005, 0.3, 0.5


def system(n_base: int, reps, cutoff: float, seed: int = 1):
    """Pushed random KA configuration (replicated), MB velocities at T, 200 NVT steps."""
    table = pair_table(cutoff)
    s = random_state(n_base, 1.2, 0.8, seed)
    soft_push(s, SerialDomain(table.rc_max, SKIN), table, max_iter=3000)
    s = replicate(s, reps)
    maxwell_boltzmann(s, SerialDomain(table.rc_max, SKIN), T)
    sim = make_sim(s, table)
    sim.run(200)
    return sim


def make_sim(state, table):
    return Simulation(state.copy(), SerialDomain(table.rc_max, SKIN), table, Integrator(DT, T, TAU, 3)).setup()


def ours_md(sim, steps: int) -> float:
    """Steps per second of our NVT MD (after a short warm-up)."""
    run = make_sim(sim.state, sim.table)
    run.run(20)
    t0 = time.perf_counter()
    run.run(steps)
    return steps / (time.perf_counter() - t0)


def lammps_md(sim, steps: int, workdir: Path, opt: bool) -> float:
    """Steps per second of LAMMPS ``fix nvt`` (tchain 3) on the same configuration."""
    st, d = sim.state, sim.domain
    K.write_data(workdir / "ka.data", d.gather_by_tag(st, st.x), d.gather_by_tag(st, st.typ), st.box,
                 d.gather_by_tag(st, st.v))
    script = K.header("ka.data", sim.table.cutoff, SKIN) + (
        f"timestep {DT}\nfix 1 all nvt temp {T} {T} {TAU} tchain 3\nthermo 0\nrun 20\nrun {steps}\n")
    return steps / K.loop_time(K.run(workdir, script, suffix_opt=opt))


def ours_quench(sim, method: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    res = quench(sim.state, sim.domain, sim.table, tol=1e-8, method=method)
    return time.perf_counter() - t0, res.e_is


def lammps_quench(sim, workdir: Path, opt: bool) -> tuple[float, float]:
    st, d = sim.state, sim.domain
    K.write_data(workdir / "ka.data", d.gather_by_tag(st, st.x), d.gather_by_tag(st, st.typ), st.box)
    script = K.header("ka.data", sim.table.cutoff, SKIN) + (
        "thermo_style custom step pe fnorm\nthermo_modify norm yes format float %.12g\n"
        "min_style cg\nminimize 0 1e-8 1000000 10000000\n")
    log = K.run(workdir, script, suffix_opt=opt)
    return K.loop_time(log), K.thermo_rows(log)[-1][1]


def compile_times() -> tuple[float, float]:
    """Wall time of a small run in a fresh process: cold numba cache, then warm cache."""
    code = ("import pel_hpc, numpy as np\nfrom pel_hpc.md.init import random_state, soft_push\n"
            "from pel_hpc.md.domain import SerialDomain\nfrom pel_hpc.physics.kob_andersen import pair_table\n"
            "from pel_hpc.md.velocities import maxwell_boltzmann\nfrom pel_hpc.md.minimize import quench\n"
            "from pel_hpc.simulation import Integrator, Simulation\n"
            "t=pair_table(1.8); s=random_state(65); soft_push(s, SerialDomain(t.rc_max,0.3), t)\n"
            "maxwell_boltzmann(s, SerialDomain(t.rc_max,0.3), 0.5)\n"
            "sim=Simulation(s, SerialDomain(t.rc_max,0.3), t, Integrator(0.005,0.5,0.5,3)).setup(); sim.run(10)\n"
            "quench(sim.state, sim.domain, t)\n")
    out = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for _ in range(2):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)
            out.append(time.perf_counter() - t0)
    return out[0], out[1]


def peak_memory_per_particle() -> tuple[float, float]:
    """(held, peak) numpy bytes per particle of state + domain + one run (tracemalloc, N = 32768)."""
    code = ("import tracemalloc, numpy as np\ntracemalloc.start()\nfrom pel_hpc.md.init import random_state\n"
            "from pel_hpc.md.domain import SerialDomain\nfrom pel_hpc.physics.kob_andersen import pair_table\n"
            "from pel_hpc.simulation import Integrator, Simulation\n"
            "n=32768; t=pair_table(2.5); base=tracemalloc.get_traced_memory()[0]; s=random_state(n)\n"
            "s.x[:] = (np.indices((32,32,32)).reshape(3,-1).T + 0.5) * s.box / 32\n"
            "sim=Simulation(s, SerialDomain(t.rc_max,0.3), t, Integrator(0.001,0.5,0.5,3)).setup(); sim.run(5)\n"
            "now, peak = tracemalloc.get_traced_memory(); print((now-base)/n, (peak-base)/n)\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    held, peak = (float(w) for w in out.stdout.split()[-2:])
    return held, peak


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps8000", type=int, default=300)
    ap.add_argument("--steps65", type=int, default=20000)
    ap.add_argument("--skip-quench8000", action="store_true")
    ap.add_argument("--only65", action="store_true")
    ap.add_argument("--only8000", action="store_true", help="MD N=8000 only (no quench, compile, memory)")
    args = ap.parse_args(argv)
    if K.lmp_binary() is None:
        sys.exit("LAMMPS 'lmp' not found: install the Debian package 'lammps'")
    work = Path(tempfile.mkdtemp(prefix="bench_md_"))
    for label, base, reps, rc, steps in (("N=8000 r_c=2.5", 1000, (2, 2, 2), 2.5, args.steps8000),
                                         ("N=65   r_c=1.8", 65, (1, 1, 1), 1.8, args.steps65)):
        if (args.only65 and rc == 2.5) or (args.only8000 and rc == 1.8):
            continue
        sim = system(base, reps, rc)
        ours, plain, opt = [], [], []
        for _ in range(5):  # interleaved; best of each (the machine is shared)
            ours.append(ours_md(sim, steps))
            plain.append(lammps_md(sim, steps, work, False))
            opt.append(lammps_md(sim, steps, work, True))
        best, plain, opt = max(ours), max(plain), max(opt)
        print(f"MD {label}: pel_hpc {best:9.1f} steps/s | lmp {plain:9.1f} | lmp -sf opt {opt:9.1f} | "
              f"ratio vs lmp {best / plain:.2f}, vs opt {best / opt:.2f}", flush=True)
        if rc == 2.5 and (args.skip_quench8000 or args.only8000):
            continue
        reps = 5 if rc == 1.8 else 1
        tl, e_l = min(lammps_quench(sim, work, True) for _ in range(min(reps, 3)))
        for method in ("lbfgs", "fire") if rc == 1.8 else ("lbfgs",):
            tq, e_ours = min(ours_quench(sim, method) for _ in range(reps))
            print(f"IS quench {label}: pel_hpc {method:5s} {tq * 1e3:9.1f} ms (e_IS {e_ours:.6f}) | "
                  f"lmp -sf opt cg {tl * 1e3:9.1f} ms (e_IS {e_l:.6f}) | time ratio {tq / tl:.2f}", flush=True)
    if args.only65 or args.only8000:
        return
    cold, warm = compile_times()
    print(f"numba: small run in a fresh process {cold:.1f} s with a cold cache, {warm:.1f} s cached")
    held, peak = peak_memory_per_particle()
    print(f"memory (N=32768, r_c=2.5, numpy arrays): {held:.0f} bytes/particle held, {peak:.0f} peak")


if __name__ == "__main__":
    main()
