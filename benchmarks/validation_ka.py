"""Validation of our Kob–Andersen MD against published numbers: U/N, w, c_V,ex, e_IS and D_A, N = 1000, ρ = 1.2.

``python benchmarks/validation_ka.py [--temps 1.028 0.8 0.7 0.6] [--runs 2] [--quick] [--md FILE] [--lammps]``

:data:`N_RUNS` independent serial runs (seeds ``--seed``, ``--seed`` + 1, …), one after the other, each
cooled in sequence (each temperature starts from the previous final state),
N = 800 A + 200 B, ρ = 1.2, KA pair parameters cut at r_c = 2.5 σ_αβ and energy-shifted, Δt = 0.005,
Nosé–Hoover chain (τ_T = 0.5).  Per temperature (run lengths in :data:`SCHEDULE`, times ``--scale``):

* U/N, the potential energy per particle, and w = W/(3N) with W = Σ_pairs r·F (so P = ρT + ρw),
  sampled every :data:`SAMPLE` steps; errors from :data:`N_BLOCKS` block means; γ = ⟨ΔUΔW⟩/⟨ΔU²⟩ and
  the canonical excess heat capacity c_V,ex = N⟨(Δu)²⟩/T² from the same samples;
* ΔU_c/N = Σ_{pairs r < r_c} u_αβ(r_c)/N, the exact difference between the truncated-unshifted and
  the truncated-shifted energy of the same configuration, and Δw of a shifted-force cut-off
  (:func:`cutoff_corrections`), so values published for other cut-off conventions can be compared;
* e_IS, the inherent-structure energy per particle: L-BFGS quench to |F| ≤ 1e-8 of
  :data:`N_QUENCH` configurations evenly spread over the production run; standard error;
* D_A from the A-particle MSD (multiple time origins): 6 D t fitted where the MSD is diffusive
  (lags up to half the run, from the larger of a quarter of that and the lag where MSD = 1 σ²); the
  error is the spread (standard deviation) of the same fit in :data:`N_BLOCKS` consecutive blocks.

``--lammps`` runs LAMMPS (``lmp``) on the T = 1.028 state point instead (:data:`LAMMPS_INPUT`), the
independent-code check quoted in the report.  The literature table and the report are in
``benchmarks/validation_ka_report.py``; the latest output is ``benchmarks/results/validation_ka.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "benchmarks" / "lammps"))
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from pel_hpc.io.h5md import git_commit  # noqa: E402
from pel_hpc.md.domain import SerialDomain  # noqa: E402
from pel_hpc.md.init import random_state, soft_push  # noqa: E402
from pel_hpc.md.minimize import quench  # noqa: E402
from pel_hpc.md.velocities import maxwell_boltzmann  # noqa: E402
from pel_hpc.physics.kob_andersen import pair_table  # noqa: E402
from pel_hpc.simulation import Integrator, Simulation  # noqa: E402
import ka_lammps  # noqa: E402  (benchmarks/lammps: the KA pair block, runs lmp, parses thermo blocks)
from validation_ka_report import report  # noqa: E402

N, RHO, RC, SKIN, DT, TAU = 1000, 1.2, 2.5, 0.3, 0.005, 0.5
SAMPLE, N_QUENCH, N_BLOCKS, N_RUNS = 100, 10, 4, 2
# (equilibration, production) steps at --scale 1: production ≳ 20 τ_α, MSD_A ≥ 1.5 σ² at the fit end
SCHEDULE = {1.028: (4000, 20000), 1.0: (4000, 20000), 0.8: (6000, 30000), 0.7: (10000, 40000),
            0.6: (20000, 100000)}
DEFAULT_TEMPS = [1.028, 0.8, 0.7, 0.6]
QUICK = {"temps": [1.028, 0.8], "scale": 0.1, "n_quench": 3}
AVERAGED = ("U", "w", "gamma", "cv_ex", "e_is", "D_A")  # combined over the independent runs with their errors
T_MCT = 0.435  # Coslovich, Ozawa & Kob, Eur. Phys. J. E 41, 62 (2018), abstract
# LAMMPS input of the independent-code check: the same model and thermostat form, melted at T = 2 from a
# lattice (sc 10³ for N = 1000, fcc 10³ for N = 4000), then T = 1.028; w = P_virial/ρ, U/N = pe/atom.
# The pair lines are ka_lammps.pair_block's, as in the trajectory cross-check tests.
LAMMPS_INPUT = """\
units lj
atom_style atomic
boundary p p p
lattice ${lat} ${rho}
region box block 0 10 0 10 0 10
create_box 2 box
create_atoms 1 box
variable nb equal round(count(all)/5)
set type 1 type/subset 2 ${nb} 8765
mass * 1.0
""" + ka_lammps.pair_block(RC, SKIN) + """
timestep 0.005
velocity all create 2.0 ${seed} dist gaussian
fix 1 all nvt temp 2.0 2.0 0.5
run 4000
unfix 1
fix 1 all nvt temp 1.028 1.028 0.5
run ${neq}
compute pv all pressure NULL virial
thermo_style custom step temp pe c_pv
thermo_modify norm yes format float %.10g
thermo 100
run ${nprod}
"""
# N, lattice, ρ, seed, n_eq, n_prod
LAMMPS_CASES = ((1000, "sc", 1.2, 11, 10000, 120000), (4000, "fcc", 1.2, 12, 6000, 36000))


def cutoff_corrections(x: np.ndarray, typ: np.ndarray, box: np.ndarray, table) -> tuple[float, float]:
    """(ΔU_c/N, Δw_sf) of one configuration: what other cut-off conventions would change.

    ΔU_c/N = Σ_{pairs r < r_c,αβ} u_αβ(r_c)/N is the truncated-unshifted minus the truncated-shifted
    energy [epsilon].  Δw_sf = −Σ_{pairs} r F_αβ(r_c)/(3N) is the change of w = W/(3N) for a
    shifted-force cut-off (F_sf(r) = F(r) − F(r_c), F the radial LJ force) [epsilon].  Brute force over
    all pairs with the minimum image (needs r_c < L/2), independent of the engine's neighbour lists.
    ``x`` (N, 3) [sigma], ``typ`` (N,) 0/1, ``box`` (3,) [sigma].
    """
    n, du, dw = len(x), 0.0, 0.0
    pt = 2 * typ[:, None] + typ[None, :]
    s6 = (table.sig2 / table.rc2) ** 3
    f_c = 6.0 * table.eps4 / table.rc * (2.0 * s6 * s6 - s6)  # F_αβ(r_c) [epsilon/sigma]
    for i in range(n - 1):
        d = x[i + 1:] - x[i]
        d -= box * np.rint(d / box)
        r2 = np.einsum("ij,ij->i", d, d)
        p = pt[i, i + 1:]
        inside = r2 < table.rc2[p]
        du += float(table.ushift[p][inside].sum())
        dw -= float((np.sqrt(r2[inside]) * f_c[p][inside]).sum())
    return du / n, dw / (3 * n)


def block_error(x, n_blocks: int = N_BLOCKS) -> float:
    """Standard error of the mean of a correlated series from ``n_blocks`` block means."""
    means = np.array([b.mean() for b in np.array_split(np.asarray(x, float), n_blocks)])
    return float(means.std(ddof=1) / np.sqrt(n_blocks))


def excess_heat_capacity(u: np.ndarray, temperature: float) -> float:
    """c_V,ex = N⟨(Δu)²⟩/T² of an NVT series of U/N [k_B per particle] (canonical fluctuation formula)."""
    u = np.asarray(u, float)
    return float(N * np.mean((u - u.mean()) ** 2) / temperature**2)


def msd(x: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Mean-square displacement at frame lags ``lags`` with every time origin; ``x`` (F, n, 3) unwrapped."""
    return np.array([np.mean(np.sum((x[lag:] - x[:-lag]) ** 2, axis=2)) for lag in lags])


def fit_diffusion(x: np.ndarray, dt: float) -> tuple[float, float]:
    """(D, MSD at the end of the fit window) from 6 D t over the diffusive lags of ``x`` (F, n, 3).

    Window: lags up to half the run; starts at the larger of a quarter of that and the lag where
    MSD first reaches 1 σ².  ``dt`` is the frame spacing [tau]; D in [sigma²/tau].
    """
    hi = x.shape[0] // 2
    lags = np.unique(np.linspace(1, hi, 60).astype(int))
    m = msd(x, lags)
    start = max(hi // 4, int(lags[np.argmax(m >= 1.0)]) if m[-1] >= 1.0 else 0)
    sel = lags >= min(start, lags[-3])
    slope = np.polyfit(lags[sel] * dt, m[sel], 1)[0]
    return float(slope / 6.0), float(m[-1])


def diffusion(x: np.ndarray, dt: float) -> dict:
    """D_A from the whole run, its block error and the largest MSD used [sigma²]."""
    d, m_end = fit_diffusion(x, dt)
    parts = [fit_diffusion(b, dt)[0] for b in np.array_split(x, N_BLOCKS)]
    # each block fit has about as many independent long-lag segments as the whole-run fit, so the
    # spread of the block values (not spread/√n) estimates the whole-run error
    return {"D_A": d, "D_A_err": float(np.std(parts, ddof=1)), "msd_end": m_end}


def start_state(table, seed: int):
    """Random 800:200 configuration at ρ = 1.2 with overlaps pushed apart."""
    state = random_state(N, RHO, 0.8, seed)
    soft_push(state, SerialDomain(table.rc_max, SKIN), table, max_iter=5000)
    return state


def by_tag(sim, array) -> np.ndarray:
    """Rows of a per-particle array ordered by tag."""
    return sim.domain.gather_by_tag(sim.state, array)


def sample(sim, table, frames: dict, quench_now: bool) -> None:
    """Append U/N, w, T_kin and the unwrapped A positions; quench and add ΔU_c when asked."""
    st = sim.state
    frames["U"].append(sim.epot / N)
    frames["w"].append(sim.virial / (3 * N))
    frames["T_kin"].append(sim.thermo()["T"])
    x = by_tag(sim, st.x[: st.n_local] + st.image[: st.n_local] * st.box)
    typ = by_tag(sim, st.typ)
    frames["xA"].append(x[typ == 0])
    if quench_now:
        q = quench(st, sim.domain, table)
        frames["e_is"].append(q.e_is)
        du, dw = cutoff_corrections(x, typ, st.box, table)
        frames["dU_c"].append(du)
        frames["dw_sf"].append(dw)
        frames["de_c"].append(cutoff_corrections(q.x_is, typ, st.box, table)[0])


def run_temperature(state, table, temperature: float, n_eq: int, n_prod: int, n_quench: int, fresh: bool):
    """Equilibrate and sample one temperature; returns (final state, measured dict)."""
    domain = SerialDomain(table.rc_max, SKIN)
    if fresh:
        maxwell_boltzmann(state, domain, temperature)
    sim = Simulation(state, domain, table, Integrator(DT, temperature, TAU, 3)).setup()
    sim.run(n_eq)
    n_samples = max(n_prod // SAMPLE, 2 * N_BLOCKS * 4)
    every_q = max(n_samples // n_quench, 1)
    frames = {k: [] for k in ("U", "w", "T_kin", "xA", "e_is", "dU_c", "dw_sf", "de_c")}
    for k in range(n_samples):
        sim.run(SAMPLE)
        sample(sim, table, frames, (k + 1) % every_q == 0)
    return sim.state, summarise(temperature, frames)


def summarise(temperature: float, frames: dict) -> dict:
    """Means and errors of one temperature's samples."""
    u, w, e_is = (np.array(frames[k]) for k in ("U", "w", "e_is"))
    du, dw = u - u.mean(), w - w.mean()
    row = {"T": temperature, "T_kin": float(np.mean(frames["T_kin"])), "U": float(u.mean()),
           "U_err": block_error(u), "w": float(w.mean()), "w_err": block_error(w),
           "gamma": float(np.mean(du * dw) / np.mean(du * du)),
           "gamma_err": block_error(du * dw / np.mean(du * du)),
           "cv_ex": excess_heat_capacity(u, temperature), "cv_ex_err": block_error(N * du * du / temperature**2),
           "e_is": float(e_is.mean()), "e_is_err": float(e_is.std(ddof=1) / np.sqrt(e_is.size)),
           "dU_c": float(np.mean(frames["dU_c"])), "dw_sf": float(np.mean(frames["dw_sf"])),
           "de_c": float(np.mean(frames["de_c"])),
           "n_is": int(e_is.size)}
    row.update(diffusion(np.array(frames["xA"]), SAMPLE * DT))
    return row


def lammps_check(n: int, lattice: str, rho: float, seed: int, n_eq: int, n_prod: int) -> dict:
    """Run :data:`LAMMPS_INPUT` (one core) and return ⟨T_kin⟩, U/N and w with 8-block errors."""
    values = (("rho", rho), ("seed", seed), ("neq", n_eq), ("nprod", n_prod))
    with tempfile.TemporaryDirectory() as tmp:
        script = "".join(f"variable {k} equal {v}\n" for k, v in values)
        script += f"variable lat string {lattice}\n" + LAMMPS_INPUT
        log = ka_lammps.run(tmp, script, timeout=3600)
    a = np.array([r for r in ka_lammps.thermo_rows(log) if len(r) == 4][-(n_prod // 100):])
    u, w = a[:, 2], a[:, 3] / rho
    return {"N": n, "rho": rho, "steps": n_prod, "T_kin": float(a[:, 1].mean()), "U": float(u.mean()),
            "U_err": block_error(u, 8), "w": float(w.mean()), "w_err": block_error(w, 8)}


def simulate(temps, scale: float, n_quench: int, seed: int) -> list[dict]:
    """Run one cooling sequence from seed ``seed``; one measured dict per temperature."""
    table = pair_table(RC)
    state, rows, t0 = start_state(table, seed), [], time.perf_counter()
    for i, temperature in enumerate(sorted(temps, reverse=True)):
        n_eq, n_prod = SCHEDULE[min(SCHEDULE, key=lambda t: abs(t - temperature))]
        state, row = run_temperature(state, table, temperature, int(n_eq * scale), int(n_prod * scale),
                                     n_quench, i == 0)
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        print(f"seed {seed} T={temperature:g}: U/N={row['U']:.4f}±{row['U_err']:.4f} w={row['w']:.4f} "
              f"e_IS={row['e_is']:.4f}±{row['e_is_err']:.4f} D_A={row['D_A']:.3e}±{row['D_A_err']:.1e} "
              f"MSD={row['msd_end']:.2f} ({row['seconds']:.0f} s)", flush=True)
    return rows


def combine(runs: list[list[dict]]) -> list[dict]:
    """One row per temperature from independent runs: means, and the larger of the propagated
    within-run error and the between-run standard error; the run values are kept in ``runs``."""
    out, total = [], float(sum(r[-1]["seconds"] for r in runs))
    for per_t in zip(*runs):
        row = dict(per_t[0])
        for key in AVERAGED:
            vals, errs = np.array([r[key] for r in per_t]), np.array([r[key + "_err"] for r in per_t])
            between = vals.std(ddof=1) / np.sqrt(len(vals)) if len(vals) > 1 else 0.0
            within = np.sqrt(np.sum(errs**2)) / len(vals)
            row[key], row[key + "_err"] = float(vals.mean()), float(max(within, between))
            row[key + "_runs"] = vals.tolist()
        for key in ("T_kin", "dU_c", "dw_sf", "de_c", "msd_end"):
            row[key] = float(np.mean([r[key] for r in per_t]))
        row["n_is"], row["n_runs"], row["n_blocks"] = int(sum(r["n_is"] for r in per_t)), len(per_t), N_BLOCKS
        row["seconds"] = total
        out.append(row)
    return out


def measure(args, argv: list[str]) -> list[dict]:
    """The rows of one invocation: re-read (``--rows``), the smoke check, or the independent runs; measured
    rows carry the command line and git commit that produced them (kept when re-rendered)."""
    if args.rows:
        return json.loads(args.rows.read_text())
    if args.quick:
        temps, scale, n_q, seeds = QUICK["temps"], QUICK["scale"], QUICK["n_quench"], [args.seed]
    else:
        temps, scale, n_q, seeds = args.temps, args.scale, N_QUENCH, [args.seed + k for k in range(args.runs)]
    commit = git_commit()  # the code the runs start with
    rows = combine([simulate(temps, scale, n_q, seed) for seed in seeds])
    for r in rows:
        r["seeds"], r["command"], r["commit"] = ", ".join(map(str, seeds)), " ".join(argv), commit
    return rows


def provenance(argv: list[str], rows: list[dict]) -> str:
    """Report heading: model, the measuring command line, temperatures, wall time and git commit."""
    r0 = rows[0]
    command = r0.get("command", " ".join(argv))
    rendered = f" (re-rendered with `{' '.join(argv)}`)" if "--rows" in argv else ""
    temps = ", ".join(f"{r['T']:g}" for r in rows)
    return (f"# Kob–Andersen validation (N = {N}, ρ = {RHO}, r_c = {RC} σ_αβ shifted, NVT, Δt = {DT})\n\n"
            f"`python benchmarks/validation_ka.py {command}`{rendered}, T = {temps}; simulation wall time "
            f"{max(r['seconds'] for r in rows):.0f} s; code at git {r0.get('commit', git_commit())}")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    ap = argparse.ArgumentParser(prog="python benchmarks/validation_ka.py", description=__doc__.splitlines()[0])
    ap.add_argument("--temps", type=float, nargs="+", default=DEFAULT_TEMPS)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the run lengths of SCHEDULE")
    ap.add_argument("--quick", action="store_true", help="smoke check: 2 temperatures, 10%% lengths, 3 quenches")
    ap.add_argument("--seed", type=int, default=7, help="seed of the first run (the others: seed + 1, ...)")
    ap.add_argument("--runs", type=int, default=N_RUNS, help="independent cooling runs (different seeds)")
    ap.add_argument("--md", type=Path, default=None, help="also write the report to this Markdown file")
    ap.add_argument("--save-rows", type=Path, default=None, help="write the measured values as JSON")
    ap.add_argument("--rows", type=Path, default=None, help="re-render the report from saved JSON (no MD)")
    ap.add_argument("--lammps", action="store_true", help="run only the LAMMPS checks at T = 1.028 and print them")
    args = ap.parse_args(argv)
    if args.lammps:
        for case in LAMMPS_CASES:
            print(json.dumps(lammps_check(*case)), flush=True)
        return 0
    rows = measure(args, argv)
    if args.save_rows:
        args.save_rows.write_text(json.dumps(rows, indent=1))
    text = report(rows, provenance(argv, rows), T_MCT)
    print(text)
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
