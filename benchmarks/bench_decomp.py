"""Domain decomposition and replica ensembles vs LAMMPS (``mpirun -n 1/2 lmp``, plain and ``-sf opt``).

Prints, in one invocation (only ratios measured together mean anything on a shared machine):

1. KA-LJ NVT (Nosé–Hoover chain 3, T = 0.5, ρ = 1.2, r_c = 2.5, skin 0.3, Δt = 0.005) for
   N = 8000 and 32000 (``--sizes``, up to 10^6) on 1 and 2 ranks (``--ranks``, e.g. 1 2 4 … 64 on a
   cluster node): steps/s, speedup, parallel efficiency, and the communication share of the step
   per rank (halo forward + reductions + migration/borders), next to LAMMPS' own "Comm" share, and
   the per-step imbalance of the ranks' force times (:func:`imbalance_stats`: what a synchronised
   step waits for, and how much of it a balancer acting every step could predict), and the same
   statistics for one pair-kernel call repeated on a frozen configuration without communication
   (:func:`frozen_force_times`: fixed work, so its spread is the machine's); next to P
   ranks, one rank on P numba threads (``run.threads``, where the machine has P CPUs; Debian's
   LAMMPS has no OPENMP package to set beside it);
2. 64 replicas of N = 65 (r_c = 1.8) on 2 ranks (``--ensemble-ranks``) run as a user would,
   ``mpirun -n 2 pel-hpc run`` on an ensemble deck (one compiled batch per rank), with the deck's
   default output cadence and with output off, vs 64 separate LAMMPS runs (as many at a time as
   ranks): aggregate
   particle-steps/s from wall times (start-up included) and steady rates (the steps/s that
   ``pel-hpc run`` reports after start-up; LAMMPS' loop times);
3. a performance model of one step: t = a·N/P + b·G + α·(m + R⌈log₂P⌉) + β·24G, with G the
   ghosts of a sub-box of the chosen grid, m its point-to-point messages and R = 1 reduction
   per step (the displacement check rides on the kinetic energy's); a and b are fitted to the
   1-rank compute times of (1), α and β are measured by a 2-rank ping-pong (``Sendrecv`` of 8 B to 100 kB) in the same invocation; what the 2-rank runs
   of (1) take beyond it (waiting for the slower rank, rebuild communication, overheads) stretches
   the compute terms on more than one rank; measured rank counts beyond 2 are printed next to
   the model's prediction for them (a check of the model); then a PREDICTION table of strong
   and weak scaling to 10³ ranks and 10⁷ particles.

Usage::

    python benchmarks/bench_decomp.py            # full settings (quiet machine)
    python benchmarks/bench_decomp.py --quick    # seconds-long check that everything runs
    sbatch --exclusive -n 64 jobs/bench.sbatch   # a whole cluster node: --ranks 1 2 4 … 64, bound to cores

LAMMPS is ``$LMP`` if set (e.g. a cluster module's ``lmp_mpi``; it must run under the same
``mpirun``), else Debian's ``lmp``; ``--no-lammps`` times pel_hpc alone.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
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
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")

import ka_lammps as K  # noqa: E402

T, DT, SKIN, TAU, RHO = 0.5, 0.005, 0.3, 0.5, 1.2
R_HALO = 2.5 + SKIN
SIZES = {8000: (1000, (2, 2, 2)), 32000: (500, (4, 4, 4)), 256000: (500, (8, 8, 8)),
         1000000: (1000, (10, 10, 10))}  # base system and its replication
MPIRUN = ["mpirun", "--oversubscribe", "--bind-to", "none"]


# ---------------------------------------------------------------- configurations (parent)
def make_config(n: int, path: Path) -> None:
    """Pushed random KA base system, replicated to N, MB velocities at T, 200 NVT steps; saved as .npz.

    The 200 steps (as in ``bench_md``) let the pushed start's transient pass, so both codes are
    timed on a liquid at T rather than on the heating right after the push.
    """
    from pel_hpc.md.domain import SerialDomain
    from pel_hpc.md.init import random_state, replicate, soft_push
    from pel_hpc.md.velocities import maxwell_boltzmann
    from pel_hpc.physics.kob_andersen import pair_table
    from pel_hpc.simulation import Integrator, Simulation

    base, reps = SIZES[n]
    table = pair_table(2.5)
    s = random_state(base, RHO, 0.8, seed=11)
    soft_push(s, SerialDomain(table.rc_max, SKIN), table, max_iter=2000)
    s = replicate(s, reps)
    maxwell_boltzmann(s, SerialDomain(table.rc_max, SKIN), T)
    sim = Simulation(s, SerialDomain(table.rc_max, SKIN), table, Integrator(DT, T, TAU, 3)).setup()
    sim.run(200)
    by_tag = sim.domain.gather_by_tag
    np.savez(path, x=by_tag(s, s.x), v=by_tag(s, s.v), typ=by_tag(s, s.typ), box=s.box)


# ---------------------------------------------------------------- workers (under mpirun)
class TimedComm:
    """Proxy of an MPIComm that accumulates the wall time of its reductions."""

    def __init__(self, comm):
        self._comm, self.time = comm, 0.0

    def __getattr__(self, name):
        return getattr(self._comm, name)

    def _timed(self, fn, value):
        t0 = time.perf_counter()
        out = fn(value)
        self.time += time.perf_counter() - t0
        return out

    def allreduce_sum(self, value):
        return self._timed(self._comm.allreduce_sum, value)

    def allreduce_max(self, value):
        return self._timed(self._comm.allreduce_max, value)


def worker_md(config: str, steps: int, kind: str) -> None:
    """Time ``steps`` NVT steps of the saved configuration on this world; rank 0 prints JSON.
    ``kind``: "serial" (SerialDomain), "decomposed", "balanced" (``decomposition.balance``) or
    "threads<k>" (decomposed, ``run.threads`` = k)."""
    from pel_hpc.md.domain import SerialDomain
    from pel_hpc.parallel.comm import MPIComm
    from pel_hpc.parallel.domain import DecomposedDomain
    from pel_hpc.parallel.launch import use_threads
    from pel_hpc.physics.kob_andersen import pair_table
    from pel_hpc.simulation import Integrator, Simulation
    from pel_hpc.state import State

    threads = int(kind[7:]) if kind.startswith("threads") else 1
    use_threads(threads)
    data = np.load(config)
    world = MPIComm()
    comm = TimedComm(world)
    table = pair_table(2.5)
    state = State.from_arrays(data["x"], data["typ"], data["box"], v=data["v"])
    serial = kind == "serial"
    dom = (SerialDomain(table.rc_max, SKIN, comm) if serial
           else DecomposedDomain(table.rc_max, SKIN, comm, balance=kind == "balanced", threads=threads))
    sim = Simulation(state, dom, table, Integrator(DT, T, TAU, 3)).setup()
    sim.run(20)
    comm.time, r0 = 0.0, dom.n_rebuilds
    fwd0, reb0 = (dom.halo.comm_time, dom.rebuild_comm_time) if not serial else (0.0, 0.0)
    world.barrier()
    t0 = time.perf_counter()
    sim.run(steps)
    wall = time.perf_counter() - t0
    comm_t = comm.time + ((dom.halo.comm_time - fwd0 + dom.rebuild_comm_time - reb0) if not serial else 0.0)
    row = {"wall": wall, "comm": comm_t, "n_local": state.n_local, "n_ghost": state.n_ghost,
           "messages": 0 if serial else dom.halo.messages_per_step,
           "dims": [1, 1, 1] if serial else list(dom.grid.dims), "rebuilds": dom.n_rebuilds - r0,
           "widths": [] if serial else np.diff(dom.grid.cuts[0]).tolist()}
    if kind == "decomposed" and world.size > 1:
        force_times = np.array(world.allgather(per_step_force_times(sim, min(steps, 1000))))
        row["imbalance"] = imbalance_stats(force_times) if world.rank == 0 else None
        frozen = np.array(world.allgather(frozen_force_times(sim, min(steps, 1000))))
        row["frozen"] = imbalance_stats(frozen) if world.rank == 0 else None
    rows = world.allgather(row)
    if world.rank == 0:
        print("RESULT " + json.dumps({"steps": steps, "ranks": rows}), flush=True)


def per_step_force_times(sim, steps: int) -> np.ndarray:
    """This rank's pair-kernel time [s] in each of ``steps`` further (untimed) MD steps: the part
    of a step whose rank-to-rank differences the step's reduction waits for."""
    import pel_hpc.simulation as simulation

    kernel, spent = simulation.force_rows, [0.0]

    def timed(*args):
        t0 = time.perf_counter()
        kernel(*args)
        spent[0] += time.perf_counter() - t0

    out, clear = np.empty(steps), False
    simulation.force_rows = timed  # this worker process only
    try:
        for k in range(steps):
            spent[0] = 0.0
            clear = sim.step(energy=False, check=not clear)
            out[k] = spent[0]
    finally:
        simulation.force_rows = kernel
    return out


def frozen_force_times(sim, calls: int) -> np.ndarray:
    """This rank's time [s] of each of ``calls`` repetitions of the same pair-kernel call on the frozen
    configuration, with no communication in between: fixed work per rank, so the rank-to-rank
    spread of these times is the machine's (its cores' speeds and interruptions), not the code's."""
    from pel_hpc.md.forces import force_rows

    st, out = sim.state, np.empty(calls)
    sim.domain.comm.barrier()
    for k in range(calls):
        t0 = time.perf_counter()
        force_rows(st, sim.domain, sim.table, 0, st.n_local)
        out[k] = time.perf_counter() - t0
    return out


def imbalance_stats(times: np.ndarray, memory: int = 5) -> dict:
    """Per-step imbalance of the ranks' force times ``times`` (ranks, steps) [s].

    ``wait``: mean over steps of (slowest − mean) [s], what a synchronised step loses to it;
    ``spread``: standard deviation of d = ln(t/⟨t⟩_ranks) pooled over ranks and steps;
    ``autocorr``: autocorrelation of each rank's d at lags 1, 10, 50 (mean over ranks);
    ``residual``: the spread left after predicting each d from the mean of the same rank's previous
    ``memory`` steps, the best a balancer that shifts work every step from recent timings could do
    with this predictor.
    """
    d = np.log(times / times.mean(axis=0))
    d -= d.mean(axis=1, keepdims=True)
    lags = (1, 10, 50)
    ac = [float(np.mean([r[:-lag] @ r[lag:] / (r @ r) for r in d])) if d.shape[1] > lag else float("nan")
          for lag in lags]
    c = np.cumsum(np.pad(d, ((0, 0), (1, 0))), axis=1)
    pred = (c[:, memory:-1] - c[:, :-memory - 1]) / memory  # mean of steps k-memory .. k-1, for k >= memory
    return {"wait": float(np.mean(times.max(axis=0) - times.mean(axis=0))), "spread": float(d.std()),
            "autocorr": dict(zip(map(str, lags), ac)), "residual": float((d[:, memory:] - pred).std()),
            "memory": memory, "steps": int(times.shape[1])}


def worker_pingpong() -> None:
    """Sendrecv between two ranks at several sizes; rank 0 prints (bytes, seconds per exchange) as JSON."""
    from pel_hpc.parallel.comm import MPIComm

    comm = MPIComm().raw
    other, rows = 1 - comm.rank, []
    for size in (8, 1024, 8192, 32768, 100000):
        a, b = np.zeros(size // 8), np.zeros(size // 8)
        best = math.inf
        for _ in range(5):
            comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(500):
                comm.Sendrecv(a, dest=other, recvbuf=b, source=other)
            best = min(best, (time.perf_counter() - t0) / 500)
        rows.append((size, best))
    if comm.rank == 0:
        print("RESULT " + json.dumps({"pingpong": rows}), flush=True)


# ---------------------------------------------------------------- parent: launching and LAMMPS
def run_worker(ranks: int, *args: str, threads: int = 1) -> dict:
    """``mpirun -n ranks`` this script in worker mode (``threads`` numba threads per rank); the RESULT
    line as a dict."""
    pes = ["--map-by", f"slot:PE={threads}"] if threads > 1 and "core" in MPIRUN else []  # bound: its cores
    cmd = MPIRUN + pes + ["-n", str(ranks), sys.executable, __file__, "--worker", *args]
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    if threads > 1:  # the benchmark lays out its own processes on the job's cores (pel_hpc.parallel.launch)
        env.pop("SLURM_CPUS_PER_TASK", None)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, env=env).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])


def lammps_md(config: Path, ranks: int, steps: int, opt: bool) -> tuple[float, float]:
    """(steps/s, LAMMPS "Comm" % of the loop) of ``fix nvt`` (tchain 3) on the configuration."""
    data = np.load(config)
    work = config.parent
    K.write_data(work / "ka.data", data["x"], data["typ"], data["box"], data["v"])
    script = K.header("ka.data", 2.5, SKIN) + (
        f"timestep {DT}\nfix 1 all nvt temp {T} {T} {TAU} tchain 3\nthermo 0\nrun 20\nrun {steps}\n")
    (work / "in.run").write_text(script)
    cmd = MPIRUN + ["-n", str(ranks), K.lmp_binary(), "-in", "in.run", "-log", "log.run", "-screen", "none"]
    subprocess.run(cmd + (["-sf", "opt"] if opt else []), cwd=work, check=True,
                   env=dict(os.environ, OMP_NUM_THREADS="1"))
    log = (work / "log.run").read_text()
    comm = [float(line.split("|")[-1]) for line in log.splitlines() if line.startswith("Comm ")]
    return steps / K.loop_time(log), (comm[-1] if comm else float("nan"))


def lammps_ensemble(runs: int, steps: int, work: Path, at_once: int) -> tuple[float, float]:
    """Aggregate particle-steps/s of ``runs`` separate N = 65 LAMMPS runs, ``at_once`` at a time:
    (from wall time including start-up, from LAMMPS loop times)."""
    from pel_hpc.md.domain import SerialDomain
    from pel_hpc.md.init import random_state, soft_push
    from pel_hpc.physics.kob_andersen import pair_table

    table = pair_table(1.8)
    s = random_state(65, RHO, 0.8, seed=5)
    soft_push(s, SerialDomain(table.rc_max, SKIN), table)
    script = K.header("ka.data", 1.8, SKIN) + (
        f"velocity all create {T} 4928 dist gaussian\ntimestep {DT}\n"
        f"fix 1 all nvt temp {T} {T} {TAU} tchain 3\nthermo 0\nrun {steps}\n")
    dirs = []
    for k in range(runs):
        d = work / f"e{k}"
        d.mkdir(exist_ok=True)
        K.write_data(d / "ka.data", s.x[:65], s.typ[:65], s.box)
        (d / "in.run").write_text(script)
        dirs.append(d)
    cmd = [K.lmp_binary(), "-in", "in.run", "-log", "log.run", "-screen", "none"]
    t0 = time.perf_counter()
    for first in range(0, runs, at_once):
        procs = [subprocess.Popen(cmd, cwd=d, env=dict(os.environ, OMP_NUM_THREADS="1"))
                 for d in dirs[first:first + at_once]]
        for p in procs:
            p.wait()
    wall = time.perf_counter() - t0
    loops = [K.loop_time((d / "log.run").read_text()) for d in dirs]
    return runs * 65 * steps / wall, at_once * 65 * steps / float(np.mean(loops))


# ---------------------------------------------------------------- performance model
def ghosts(n: float, dims) -> float:
    """Ghost particles of one sub-box: ρ[Π(w_d + 2r_h) − Π w_d] with w_d = L/n_d."""
    w = (n / RHO) ** (1.0 / 3.0) / np.asarray(dims, dtype=float)
    return RHO * (np.prod(w + 2.0 * R_HALO) - np.prod(w))


REDUCTIONS = 1  # global reductions per NVT step between rebuilds: the kinetic energy, which carries the
                # displacement forecast (Integrator.second_half); the check's own only at rebuild steps


def messages(dims) -> int:
    """Point-to-point messages per step: two per decomposed dimension (others are self-copies)."""
    return 2 * sum(1 for d in dims if d > 1)


def model_terms(n: float, ranks: int, dims) -> np.ndarray:
    """Regressors of t_step: [N/P, G, messages + R⌈log₂P⌉ reduction stages, 24·G bytes (P > 1)]."""
    g = ghosts(n, dims)
    latency = messages(dims) + REDUCTIONS * math.ceil(math.log2(ranks)) if ranks > 1 else 0
    return np.array([n / ranks, g, latency, 24.0 * g if ranks > 1 else 0.0])


def calibrate(measured: dict, pingpong) -> np.ndarray:
    """(a, b, α, β) [s]: compute from the 1-rank runs, latency and per-byte cost from the ping-pong.

    a, b by non-negative least squares (a cost is never negative; with a single system size only
    a, b = 0: one timing cannot split two terms).  α is the 8-byte exchange, β the slope of the
    exchange time over the sizes (fitted, not clipped).  Fitting α and β to the 2-rank MD runs
    instead (earlier versions) let them absorb the waiting for the slower rank, or fall to 0.
    """
    from scipy.optimize import nnls

    rows1 = [(model_terms(n, 1, (1, 1, 1))[:2], m[1]["comp"]) for n, m in measured.items()]
    keep = slice(None) if len(measured) > 1 else slice(0, 1)
    coef = np.zeros(4)
    coef[0:2][keep] = nnls(np.array([r[keep] for r, _ in rows1]), np.array([t for _, t in rows1]))[0]
    sizes, secs = np.array(pingpong, dtype=float).T
    coef[2] = secs[np.argmin(sizes)]
    coef[3] = max(float(np.polyfit(sizes, secs, 1)[0]), 0.0)
    return coef


def predict(coef: np.ndarray, n: float, ranks: int, wait: float = 0.0):
    """Predicted seconds per step, or None when no grid fits the halo; on more than one rank the
    compute terms are stretched by ``1 + wait`` (waiting for the slower rank, see :func:`print_model`)."""
    from pel_hpc.errors import DecompositionError
    from pel_hpc.parallel.grid import choose_dims

    edge = (n / RHO) ** (1.0 / 3.0)
    try:
        dims = choose_dims(ranks, [edge] * 3, R_HALO)
    except DecompositionError:
        return None, None
    terms = model_terms(n, ranks, dims)
    stretch = np.array([1.0 + wait, 1.0 + wait, 1.0, 1.0]) if ranks > 1 else np.ones(4)
    return float((coef * stretch) @ terms), dims


# ---------------------------------------------------------------- reporting
def summarize(res: dict) -> dict:
    """Per-step wall (slowest rank), compute and communication times [s] from a worker result."""
    steps, ranks = res["steps"], res["ranks"]
    wall = max(r["wall"] for r in ranks) / steps
    comm = float(np.mean([r["comm"] for r in ranks])) / steps
    return {"step": wall, "comm": comm, "comp": wall - comm, "dims": ranks[0]["dims"], "widths": ranks[0]["widths"],
            "fractions": [r["comm"] / r["wall"] for r in ranks], "ghosts": [r["n_ghost"] for r in ranks],
            "imbalance": ranks[0].get("imbalance"), "frozen": ranks[0].get("frozen")}


def _row(label: str, cells) -> str:
    return f"  {label:24s}" + "".join(f"{c:>20s}" for c in cells)


def _rate_cells(rates: dict, ranks) -> list[str]:
    """'steps/s (speedup eff)' per rank count, speedup against the same code's 1-rank rate ("-" if not run)."""
    one = rates[1]
    return [f"{rates[p]:.1f}" if p == 1 else f"{rates[p]:.1f} ({rates[p] / one:.2f} {rates[p] / one / p:.2f})"
            if p in rates else "-" for p in ranks]


def bench_md(args, work: Path) -> dict:
    """``args.rounds`` interleaved rounds of every configuration on every rank count of
    ``args.ranks``; the best round of each is kept (this VM puts a process into a slow mode for
    seconds now and then: single runs of the same code differed by up to 1.3x at 2 ranks), and
    the medians of the rounds are printed too.  Returns, per N, pel_hpc's best summaries by rank
    count (1: the better of the serial domain and the 1x1x1 halo; ``(p, "b")``: balanced on p ranks)."""
    ranks, lammps = args.ranks, not args.no_lammps
    hybrid = [p for p in ranks if 1 < p <= len(os.sched_getaffinity(0))]  # 1 rank x p threads, if p CPUs
    measured = {}
    for n in args.sizes:
        cfg = work / f"ka{n}.npz"
        make_config(n, cfg)
        rounds = []
        for _ in range(args.rounds):
            r = {"serial": summarize(run_worker(1, "md", str(cfg), str(args.steps), "serial"))}
            for p in ranks:
                r[p] = summarize(run_worker(p, "md", str(cfg), str(args.steps), "decomposed"))
                if p > 1:
                    r[p, "b"] = summarize(run_worker(p, "md", str(cfg), str(args.steps), "balanced"))
                if p in hybrid:
                    r[p, "t"] = summarize(run_worker(1, "md", str(cfg), str(args.steps), f"threads{p}", threads=p))
                for o in (False, True) if lammps else ():
                    r["lmp", p, o] = lammps_md(cfg, p, args.steps, o)
            rounds.append(r)
        steps = lambda key: [r[key]["step"] for r in rounds]  # noqa: E731
        best = lambda key: min((r[key] for r in rounds), key=lambda x: x["step"])  # noqa: E731
        m = {p: best(p) for p in ranks}
        m.update({(p, "b"): best((p, "b")) for p in ranks if p > 1})
        m.update({(p, "t"): best((p, "t")) for p in hybrid})
        if best("serial")["step"] < m[1]["step"]:
            m[1] = best("serial")
        ours = {p: 1 / m[p]["step"] for p in ranks}
        ours_b = {1: ours[1], **{p: 1 / m[p, "b"]["step"] for p in ranks if p > 1}}
        med = {p: float(np.median([1 / t for t in steps(p)])) for p in ranks}
        med[1] = max(med[1], float(np.median([1 / t for t in steps("serial")])))
        med_b = {1: med[1], **{p: float(np.median([1 / t for t in steps((p, "b"))])) for p in ranks if p > 1}}
        ours_t = {1: ours[1], **{p: 1 / m[p, "t"]["step"] for p in hybrid}}
        med_t = {1: med[1], **{p: float(np.median([1 / t for t in steps((p, "t"))])) for p in hybrid}}
        print(f"\nN={n} KA NVT T=0.5: steps/s, best of {args.rounds} interleaved rounds; (speedup, parallel "
              "efficiency) against the same code on 1 rank")
        print(_row("ranks", [str(p) for p in ranks]))
        print(_row("pel_hpc", _rate_cells(ours, ranks)))
        print(_row("pel_hpc balanced", ["-"] + _rate_cells(ours_b, ranks)[1:]))
        print(_row("pel_hpc threads (1 rank)", ["-"] + _rate_cells(ours_t, ranks)[1:]))
        lmp_best, lmp_med = {}, {}
        for o in (False, True) if lammps else ():
            lmp_best[o] = {p: max(r["lmp", p, o][0] for r in rounds) for p in ranks}
            lmp_med[o] = {p: float(np.median([r["lmp", p, o][0] for r in rounds])) for p in ranks}
            print(_row(f"LAMMPS{' -sf opt' if o else ''}", _rate_cells(lmp_best[o], ranks)))
        print(f"  pel_hpc 1 rank: serial domain {1 / best('serial')['step']:.1f}, 1x1x1 halo {1 / best(1)['step']:.1f}"
              " (the better is the 1-rank figure); grids " + ", ".join(f"{p}: {m[p]['dims']}" for p in ranks[1:]))
        print("  medians of the rounds:")
        print(_row("pel_hpc", _rate_cells(med, ranks)))
        print(_row("pel_hpc balanced", ["-"] + _rate_cells(med_b, ranks)[1:]))
        print(_row("pel_hpc threads (1 rank)", ["-"] + _rate_cells(med_t, ranks)[1:]))
        if lammps:
            print(_row("LAMMPS -sf opt", _rate_cells(lmp_med[True], ranks)))
            print(_row("pel_hpc / LAMMPS -sf opt", [f"{ours[p] / lmp_best[True][p]:.2f}x" for p in ranks]))
        for p in ranks[1:]:
            over = 1e3 * (1 / med[p] - 1 / (p * med[1]))
            line = f"  {p}-rank step beyond 1/{p} of the 1-rank step (medians): pel_hpc {over:.3f} ms of {1e3 / med[p]:.3f}"
            if lammps:
                lo = 1e3 * (1 / lmp_med[True][p] - 1 / (p * lmp_med[True][1]))
                line += f", LAMMPS -sf opt {lo:.3f} ms of {1e3 / lmp_med[True][p]:.3f}"
            print(line)
        if lammps:
            print("  (the same absolute overhead costs more speedup the shorter the step)")
        for p in ranks[1:]:
            print(f"  communication share of the step per rank ({p} ranks): "
                  + ", ".join(f"{100 * f:.1f}%" for f in m[p]["fractions"])
                  + f"; ghosts per rank {m[p]['ghosts']}; balanced x planes' slab widths "
                  + ", ".join(f"{w:.2f}" for w in m[p, "b"]["widths"])
                  + (f"; LAMMPS -sf opt's own Comm share {max(rounds, key=lambda r: r['lmp', p, True][0])['lmp', p, True][1]:.1f}%"
                     if lammps else ""))
        for p in ranks[1:]:
            im = [r[p]["imbalance"] for r in rounds]
            med_of = lambda f: float(np.median([f(i) for i in im]))  # noqa: E731
            spread, residual = med_of(lambda i: i["spread"]), med_of(lambda i: i["residual"])
            print(f"  force-time imbalance per step on {p} ranks (medians over the rounds of {im[0]['steps']} "
                  f"untimed steps each): the slowest rank's pair kernel exceeds the mean by "
                  f"{1e3 * med_of(lambda i: i['wait']):.3f} ms; rank-to-rank spread (std of ln t) {spread:.3f}, "
                  "autocorrelation at lag " + "/".join(im[0]["autocorr"]) + " "
                  + "/".join(f"{med_of(lambda i, k=k: i['autocorr'][k]):.2f}" for k in im[0]["autocorr"])
                  + f"; predicted from each rank's last {im[0]['memory']} steps, {residual:.3f} of it is left "
                  f"(a per-step balancer could remove at most {100 * (1 - (residual / spread) ** 2):.0f} % of its variance)")
            fr = [r[p]["frozen"] for r in rounds]
            print(f"  the same pair-kernel call repeated {fr[0]['steps']} times on a frozen configuration, no communication "
                  f"(fixed work per rank: the machine's own spread): the slowest rank exceeds the mean by "
                  f"{1e3 * float(np.median([i['wait'] for i in fr])):.3f} ms, spread {float(np.median([i['spread'] for i in fr])):.3f}")
        measured[n] = m
    return measured


ENSEMBLE_DECK = """run: {{name: {name}, seed: 5}}
system: {{n: 65, cutoff: 1.8}}
integrator: {{temperature: {T}, dt: {DT}, tau_t: {TAU}}}
stages: [{{name: production, steps: {steps}, output: {output}}}]
{extra}ensemble: {{replicas: {replicas}, ranks_per_replica: 1, mode: iso_configurational}}
"""
QUIET = "output: {thermo: 0, positions: 0}\ncheckpoint: {file: null}\n"  # no output at all


def run_deck(work: Path, name: str, replicas: int, steps: int, output: bool, ranks: int) -> tuple[float, float]:
    """``mpirun -n ranks python -m pel_hpc run`` on an ensemble deck: (wall time [s] with start-up, steps/s).

    The steps/s are the ones ``pel-hpc run`` itself reports on its last progress line: the
    whole run after start-up, every operation included (one run measures both, so a change of
    the machine's load between runs cannot bias the pair).  Iso-configurational replicas: one
    pushed random start and fresh velocities per replica, as the 64 LAMMPS runs share one
    start.  ``output``: the deck's default cadences (thermo table and observables every 100
    steps, positions every 1000, a checkpoint at the end); otherwise no output of any kind.
    """
    deck = work / f"{name}.yaml"
    deck.write_text(ENSEMBLE_DECK.format(name=name, T=T, DT=DT, TAU=TAU, steps=steps, replicas=replicas,
                                         output=str(output).lower(), extra="" if output else QUIET))
    t0 = time.perf_counter()
    out = subprocess.run(MPIRUN + ["-n", str(ranks), sys.executable, "-m", "pel_hpc", "run", deck.name], cwd=work,
                         check=True, capture_output=True, text=True, env=dict(os.environ, NUMBA_NUM_THREADS="1"))
    wall = time.perf_counter() - t0
    last = [line for line in out.stdout.splitlines() if line.startswith("# ") and "steps/s" in line][-1]
    return wall, float(last.split(" steps/s")[0].split()[-1])


def cli_rates(work: Path, replicas: int, steps: int, output: bool, ranks: int) -> tuple[float, float]:
    """(particle-steps/s from the wall time incl. start-up, from the run's own steps/s).

    A short warm-up run first, so that no Numba compilation is timed.
    """
    tag = "out" if output else "quiet"
    run_deck(work, f"warm_{tag}", ranks, 40, output, ranks)
    wall, rate = run_deck(work, f"ens_{tag}", replicas, steps, output, ranks)
    return replicas * 65.0 * steps / wall, replicas * 65.0 * rate


def bench_ensemble(args, work: Path) -> None:
    p = args.ensemble_ranks
    rates = {out: cli_rates(work, args.replicas, args.steps65, out, p) for out in (True, False)}
    print(f"\n{args.replicas} replicas of N=65 (r_c=1.8, NVT T=0.5, {args.steps65} steps) on {p} ranks through "
          f"`mpirun -n {p} pel-hpc run` (one compiled batch per rank):")
    for out, label in ((True, "default output cadence (thermo 100, positions 1000)"), (False, "output off")):
        w, d = rates[out]
        print(f"  {label:52s}: {w / 1e6:6.2f} M particle-steps/s (wall incl. start-up), "
              f"{d / 1e6:6.2f} M (steady: the run's own steps/s)")
    if args.no_lammps:
        return
    wall_rate, loop_rate = lammps_ensemble(args.lammps_runs, args.steps65, work, p)
    print(f"  {args.lammps_runs} separate LAMMPS runs, {p} at a time: {wall_rate / 1e6:.2f} M particle-steps/s "
          f"(wall incl. start-up), {loop_rate / 1e6:.2f} M (loop time only)")
    for out, label in ((True, "default output"), (False, "output off")):
        w, d = rates[out]
        print(f"  ratio pel_hpc ({label}) / LAMMPS: {w / wall_rate:.2f} (wall vs wall), "
              f"{d / loop_rate:.2f} (steady rate vs loop time)")


def print_model(measured: dict) -> None:
    pingpong = run_worker(2, "pingpong")["pingpong"]
    coef = calibrate(measured, pingpong)
    print(f"\nPerformance model  t_step = a N/P + b G + alpha (m + {REDUCTIONS} ceil(log2 P)) + beta 24 G   "
          "(G ghosts, m messages)")
    print("  ping-pong (2 ranks, Sendrecv): " + ", ".join(f"{int(b)} B {t * 1e6:.1f} us" for b, t in pingpong))
    print(f"  a, b fitted to the 1-rank compute; alpha, beta measured: a = {coef[0] * 1e9:.1f} ns/particle, "
          f"b = {coef[1] * 1e9:.1f} ns/ghost, alpha = {coef[2] * 1e6:.2f} us/message, beta = {coef[3] * 1e9:.3f} ns/byte")
    stretch = []
    for n, m in measured.items():
        t2, dims = predict(coef, n, 2)
        compute = float(coef[:2] @ model_terms(n, 2, dims)[:2])
        stretch.append((m[2]["step"] - t2) / compute)
        print(f"  N={n}: 2 ranks measured {m[2]['step'] * 1e3:.2f} ms/step, a·N/P + b·G + communication "
              f"{t2 * 1e3:.2f}: the rest, {100 * stretch[-1]:.0f} % of the compute, is unmodelled (waiting for the "
              "slower rank, migration and borders at rebuilds, per-step overheads)")
    wait = max(float(np.mean(stretch)), 0.0)
    print(f"  the prediction stretches the compute by that rest, {100 * wait:.0f} % on every rank count > 1 "
          "(optimistic: the slowest of P ranks waits more as P grows)")
    for n, m in measured.items():
        for p in sorted(k for k in m if isinstance(k, int) and k > 2):
            t, dims = predict(coef, n, p, wait)
            print(f"  check beyond the calibration, N={n} on {p} ranks (grid {m[p]['dims']}): measured "
                  f"{1 / m[p]['step']:.1f} steps/s, predicted "
                  + ("nothing (no grid fits the halo)" if t is None else f"{1 / t:.1f} (grid {list(dims)})"))
    print("\nPREDICTION (model, not measured) — strong scaling, steps/s (parallel efficiency)")
    ranks = (1, 8, 64, 216, 512, 1000)
    print("  N          " + "".join(f"{p:>16d}" for p in ranks))
    for n in (1e6, 1e7):
        t1, _ = predict(coef, n, 1)
        cells = []
        for p in ranks:
            t, _ = predict(coef, n, p, wait)
            cells.append("       no grid  " if t is None else f"{1 / t:9.2f} ({t1 / (p * t):.2f})")
        print(f"  {n:9.0e}  " + "".join(f"{c:>16s}" for c in cells))
    print("PREDICTION (model, not measured) — weak scaling at N/P = 10^4, steps/s (efficiency)")
    print("  P          " + "".join(f"{p:>16d}" for p in ranks))
    t1, _ = predict(coef, 1e4, 1)
    cells = [f"{1 / t:9.2f} ({t1 / t:.2f})" for t in (predict(coef, 1e4 * p, p, wait)[0] for p in ranks)]
    print("  N=1e4 P    " + "".join(f"{c:>16s}" for c in cells))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", type=int, nargs="+", default=[8000, 32000], choices=sorted(SIZES))
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2],
                    help="rank counts of the MD part (must include 1 and 2: the model is calibrated on them)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the MD part; the best of each is kept")
    ap.add_argument("--replicas", type=int, default=64)
    ap.add_argument("--ensemble-ranks", type=int, default=2, help="ranks of the N = 65 ensemble part "
                    "(and LAMMPS runs at a time)")
    ap.add_argument("--steps65", type=int, default=20000)
    ap.add_argument("--lammps-runs", type=int, default=64)
    ap.add_argument("--bind", choices=("none", "core"), default="none",
                    help="mpirun --bind-to (core on a node of one's own; none on this shared VM)")
    ap.add_argument("--no-lammps", action="store_true", help="time pel_hpc only (no LAMMPS on the machine)")
    ap.add_argument("--quick", action="store_true", help="short settings: checks that everything runs")
    ap.add_argument("--part", choices=("all", "md", "ensemble"), default="all",
                    help="md: decomposed MD and the model only; ensemble: the N = 65 replicas only")
    args = ap.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        if kind == "pingpong":
            return worker_pingpong()
        return worker_md(rest[0], int(rest[1]), rest[2])
    args.ranks = sorted(set(args.ranks))
    if args.ranks[:2] != [1, 2]:
        ap.error(f"--ranks {' '.join(map(str, args.ranks))}: must include 1 and 2 (the model is calibrated on them)")
    if args.quick:
        args.steps, args.steps65, args.lammps_runs, args.rounds = 20, 300, 4, 1
    if not args.no_lammps and K.lmp_binary() is None:
        sys.exit(f"LAMMPS '{os.environ.get('LMP') or 'lmp'}' not found: install the Debian package 'lammps', set LMP "
                 "to the executable, or pass --no-lammps")
    MPIRUN[MPIRUN.index("--bind-to") + 1] = args.bind
    work = Path(tempfile.mkdtemp(prefix="bench_decomp_"))
    print(f"# bench_decomp on {platform.node()}, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
          f"mpirun --bind-to {args.bind}; LAMMPS: {'not run' if args.no_lammps else K.lmp_binary()}", flush=True)
    if args.part in ("all", "md"):
        measured = bench_md(args, work)
    if args.part in ("all", "ensemble"):
        bench_ensemble(args, work)
    if args.part in ("all", "md"):
        print_model(measured)


if __name__ == "__main__":
    main()
