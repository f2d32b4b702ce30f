"""Validation of our Kob–Andersen MD against published numbers: U/N, w, e_IS and D_A, N = 1000, ρ = 1.2.

``python benchmarks/validation_ka.py [--temps 1.028 0.8 0.7 0.6] [--runs 2] [--quick] [--md FILE]``

:data:`N_RUNS` independent serial runs (seeds ``--seed``, ``--seed`` + 1, …), one after the other, each
cooled in sequence (each temperature starts from the previous final state),
N = 800 A + 200 B, ρ = 1.2, KA pair parameters cut at r_c = 2.5 σ_αβ and energy-shifted, Δt = 0.005,
Nosé–Hoover chain (τ_T = 0.5).  Per temperature (run lengths in :data:`SCHEDULE`, times ``--scale``):

* U/N, the potential energy per particle, and w = W/(3N) with W = Σ_pairs r·F (so P = ρT + ρw),
  sampled every :data:`SAMPLE` steps; errors from :data:`N_BLOCKS` block means;
* ΔU_c/N = Σ_{pairs r < r_c} u_αβ(r_c)/N, the exact difference between the truncated-unshifted and
  the truncated-shifted energy of the same configuration, and Δw of a shifted-force cut-off
  (:func:`cutoff_corrections`), so values published for other cut-off conventions can be compared;
* e_IS, the inherent-structure energy per particle: L-BFGS quench to |F| ≤ 1e-8 of
  :data:`N_QUENCH` configurations evenly spread over the production run; standard error;
* D_A from the A-particle MSD (multiple time origins): 6 D t fitted where the MSD is diffusive
  (lags up to half the run, from the larger of a quarter of that and the lag where MSD = 1 σ²); the
  error is the spread (standard deviation) of the same fit in :data:`N_BLOCKS` consecutive blocks.

The literature table (:data:`LITERATURE`) holds only numbers we could trace to a publication or its
published data; quantities without one are listed as such (see ``benchmarks/results/validation_ka.md``).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from pel_hpc.md.domain import SerialDomain  # noqa: E402
from pel_hpc.md.init import random_state, soft_push  # noqa: E402
from pel_hpc.md.minimize import quench  # noqa: E402
from pel_hpc.md.velocities import maxwell_boltzmann  # noqa: E402
from pel_hpc.physics.kob_andersen import pair_table  # noqa: E402
from pel_hpc.simulation import Integrator, Simulation  # noqa: E402

N, RHO, RC, SKIN, DT, TAU = 1000, 1.2, 2.5, 0.3, 0.005, 0.5
SAMPLE, N_QUENCH, N_BLOCKS, N_RUNS = 100, 10, 4, 2
# (equilibration, production) steps at --scale 1: production ≳ 20 τ_α, MSD_A ≥ 1.5 σ² at the fit end
SCHEDULE = {1.028: (4000, 20000), 1.0: (4000, 20000), 0.8: (6000, 30000), 0.7: (10000, 40000),
            0.6: (20000, 100000)}
DEFAULT_TEMPS = [1.028, 0.8, 0.7, 0.6]
QUICK = {"temps": [1.028, 0.8], "scale": 0.1, "n_quench": 3}
AVERAGED = ("U", "w", "gamma", "e_is", "D_A")  # combined over the independent runs with their errors
T_MCT = 0.435  # Coslovich, Ozawa & Kob, Eur. Phys. J. E 41, 62 (2018), abstract

# quantity; T; value; error (quoted, or half the last printed digit); convention; source
LITERATURE = """\
quantity;T;value;err;convention;source
U;1.028;-5.974;0.0005;r_c = 2.5 sigma_ab, energy shift: see notes;PSD2018 (T = 1.028, rho = 1.200, p = 10.19)
w;1.028;7.444;0.0005;p = rho (T + w), independent of an energy shift;PSD2018
gamma;1.028;5.11;0.005;<dU dW>/<dU^2> with W/3 per particle, shifted U;PSD2018
"""
SOURCES = {"PSD2018": "Pedersen, Schrøder & Dyre, Phys. Rev. Lett. 120, 165501 (2018), published data set "
                      "(Zenodo 10.5281/zenodo.10047547, github urpedersen/PRL_120_165501_data) "
                      "figure_4/liquid.csv, row χ_B = 0.200"}
NOT_FOUND = {"e_is": "no published number found (see notes)",
             "D_A": "no published number at ρ = 1.2 found (see notes)"}


def literature(text: str = LITERATURE) -> list[dict]:
    """Parse :data:`LITERATURE` into dicts with float ``T``, ``value``, ``err``."""
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    for r in rows:
        r["T"], r["value"], r["err"] = float(r["T"]), float(r["value"]), float(r["err"])
        r["ref"], _, rest = r["source"].partition(" ")
        r["source"] = SOURCES[r["ref"]] + (" " + rest if rest else "")
    return rows


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
           "e_is": float(e_is.mean()), "e_is_err": float(e_is.std(ddof=1) / np.sqrt(e_is.size)),
           "dU_c": float(np.mean(frames["dU_c"])), "dw_sf": float(np.mean(frames["dw_sf"])),
           "de_c": float(np.mean(frames["de_c"])),
           "n_is": int(e_is.size)}
    row.update(diffusion(np.array(frames["xA"]), SAMPLE * DT))
    return row


def n_sigma(ours: float, err: float, lit: float, lit_err: float) -> float:
    """|ours − literature| in units of the combined 1-σ error."""
    return abs(ours - lit) / max(np.hypot(err, lit_err), 1e-300)


QUANTITIES = (("U", "U/N, shifted [ε]", "{:.4f}"), ("w", "w = W/(3N) [ε]", "{:.4f}"),
              ("gamma", "γ = ⟨ΔUΔW⟩/⟨ΔU²⟩", "{:.3f}"), ("e_is", "e_IS [ε]", "{:.4f}"),
              ("D_A", "D_A [σ²/τ]", "{:.3e}"))


def table_rows(rows: list[dict], lit: list[dict]) -> list[str]:
    """Markdown rows: T, quantity, ours ± err, literature, agreement, source."""
    out = ["| T | quantity | ours ± 1σ | literature | agreement | source |", "|---|---|---|---|---|---|"]
    last = None
    for r in sorted(rows, key=lambda r: -r["T"]):
        for key, label, fmt in QUANTITIES:
            ours = f"{fmt.format(r[key])} ± {fmt.format(r[key + '_err'])}"
            ref = [x for x in lit if x["quantity"] == key and abs(x["T"] - r["T"]) < 1e-9]
            if ref:
                x = ref[0]
                src, last = ("same data set as above" if x["ref"] == last else x["source"]), x["ref"]
                out.append(f"| {r['T']:g} | {label} | {ours} | {fmt.format(x['value'])} ± {fmt.format(x['err'])}"
                           f" | {n_sigma(r[key], r[key + '_err'], x['value'], x['err']):.1f} σ | {src} |")
            elif key in NOT_FOUND or key == "U":
                why = NOT_FOUND.get(key, "no published number found")
                out.append(f"| {r['T']:g} | {label} | {ours} | — | — | {why} |")
    return out


def detail_rows(rows: list[dict]) -> list[str]:
    """Markdown rows of the per-temperature details (thermostat, shift corrections, MSD reach)."""
    out = ["| T | ⟨T_kin⟩ | ΔU_c/N liquid | U/N unshifted = U + ΔU_c | Δw shifted-force | ΔU_c/N at the IS | "
           "e_IS unshifted | n_IS | MSD_A at fit end [σ²] |", "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: -r["T"]):
        out.append(f"| {r['T']:g} | {r['T_kin']:.4f} | {r['dU_c']:.4f} | {r['U'] + r['dU_c']:.4f} ± {r['U_err']:.4f} "
                   f"| {r['dw_sf']:+.4f} | {r['de_c']:.4f} | {r['e_is'] + r['de_c']:.4f} | {r['n_is']} "
                   f"| {r['msd_end']:.2f} |")
    return out


def run_rows(rows: list[dict]) -> list[str]:
    """Markdown rows of the single-run values behind each average (the between-run scatter)."""
    out = ["| T | U/N per run | w per run | e_IS per run | D_A per run |", "|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: -r["T"]):
        cells = [", ".join(f.format(v) for v in r.get(k + "_runs", [r[k]]))
                 for k, f in (("U", "{:.4f}"), ("w", "{:.4f}"), ("e_is", "{:.4f}"), ("D_A", "{:.3e}"))]
        out.append(f"| {r['T']:g} | " + " | ".join(cells) + " |")
    return out


def power_law_fit(rows: list[dict]) -> str:
    """γ_A of D_A ∝ (T − T_MCT)^γ_A over T ≤ 0.8 (weighted), as a plain-text line."""
    near = [r for r in rows if r["T"] <= 0.8 + 1e-9]
    if len(near) < 2:
        return "γ_A fit: needs two temperatures ≤ 0.8"
    x, y = np.log([r["T"] - T_MCT for r in near]), np.log([r["D_A"] for r in near])
    w = np.array([r["D_A"] / max(r["D_A_err"], 1e-12) for r in near])
    (g, _), cov = np.polyfit(x, y, 1, w=w, cov="unscaled")
    return (f"Our γ_A of D_A ∝ (T − {T_MCT})^γ over T ≤ 0.8 ({len(near)} points; T_MCT from "
            f"Coslovich, Ozawa & Kob, "
            f"Eur. Phys. J. E 41, 62 (2018)): {g:.2f} ± {np.sqrt(cov[0, 0]):.2f}")


NOTES = """\
Notes
-----
* Errors: ours are 1σ.  Each value is the mean over {nr} independent cooling runs (different seeds); its
  error is the larger of the within-run error propagated to the mean and the between-run standard error.
  Within a run: U, w, γ from {nb} block means; e_IS the standard error of the quenches ({nq} in all,
  spread evenly over the production runs); D_A the standard deviation of the same MSD fit in {nb}
  consecutive blocks (each with about as many independent long-lag segments as the whole-run fit).  The
  systematic error of the MSD fit window is not included.  The published values carry no error in the
  data set; we use half the last printed digit.  Agreement = |ours − literature| / combined 1σ.
* Pedersen, Schrøder & Dyre (2018): their liquid state point χ_B = 0.200, T = 1.028 lies on the p = 10.19
  isobar at ρ = 1.200, i.e. exactly our model and density.  N is not stated in the data set; finite-size
  effects on U/N and w at T ≈ 1 are not corrected (expected O(1/N)).
* Energy shift: the data set does not say whether the potential is energy-shifted.  Shifted and unshifted
  potentials have the same forces, hence the same w and dynamics; their U/N differ by ΔU_c/N (computed
  exactly on our configurations, column 3 of the details; {du:.3f} ε at T = 1.028).  Unshifted, ours would
  be {uu:.4f}, {su:.0f}σ from the published value, against {ss:.1f}σ shifted, so the published U is read as
  the shifted-potential energy.  A shifted-force cut-off would also change the forces: w by {dw:+.3f} ε
  (Δw shifted-force in the details, {sw:.0f}σ), so the published w excludes it.
* The remaining differences at T = 1.028, U/N higher by {pu:.2f} % of |U| and w by {pw:.2f} %, lie along the U–W
  correlation (γ ≈ 5).  They are not resolved here: N of the reference is not stated; our 1σ rests on 2
  runs and is itself uncertain (the runs' spread at T = 0.8 exceeds their block errors, see the runs
  table); and the published row gives p = ρ(T + w) = 10.166 on its p = 10.19 isobar.
* e_IS: published KA values at ρ = 1.2 (Sastry, Debenedetti & Stillinger, Nature 393, 554 (1998), N = 256;
  Sciortino, Kob & Tartaglia, Phys. Rev. Lett. 83, 3214 (1999)) are, as far as we know, in figures; the
  stored copies we could search hold the abstracts only, so no number is given rather than a guess.
  The unshifted e_IS (details) is printed for a comparison with unshifted-potential data.
* D_A: for Kob & Andersen, Phys. Rev. E 51, 4626 (1995) too only the abstract was accessible.  The
  iso-diffusivity points of Pedersen et al. (D = 1e-3 at T = 0.729, 1e-4 at T = 0.61, data set
  figure_3/iso-diffusivity.csv) lie on the p = 10.19 isobar, where ρ rises above 1.2 on cooling below
  T = 1.028, so they are not comparable with our ρ = 1.2 values (and the species of D is not stated).
* Searched: the stored web pages (arXiv/ar5iv abstracts of the papers above, Coslovich & Pastore 2007,
  Coslovich, Ozawa & Kob 2018, Bordat et al. 2003), public repositories (RUMD/gamdpy science tests at
  T = 0.45 only, HALMD validation page (cites Bordat et al. for KA transport, no numbers),
  LAMMPS/jax-md/atooms).
* Not a literature value: third-party code (github, files citing \"the Kob-Andersen papers\") uses
  U/N = −8.656 + 2.639 T^(3/5); we could not trace it to a publication.  For orientation only it gives
  {rt}.
"""


def notes(rows: list[dict]) -> str:
    """:data:`NOTES` with the numbers of this run filled in."""
    lit = {r["quantity"]: r for r in literature()}
    u, w = lit["U"], lit["w"]
    r0 = min(rows, key=lambda r: abs(r["T"] - u["T"]))
    uu, wsf = r0["U"] + r0["dU_c"], r0["w"] + r0["dw_sf"]
    rt = ", ".join(f"{-8.656 + 2.639 * r['T'] ** 0.6:.3f} at T = {r['T']:g} (ours {r['U']:.3f})"
                   for r in sorted(rows, key=lambda r: -r["T"]))
    return NOTES.format(nb=N_BLOCKS, nq=min(r["n_is"] for r in rows), nr=rows[0].get("n_runs", 1), rt=rt,
                        du=r0["dU_c"], uu=uu, dw=r0["dw_sf"], ss=n_sigma(r0["U"], r0["U_err"], u["value"], u["err"]),
                        pu=100 * (r0["U"] - u["value"]) / abs(u["value"]), pw=100 * (r0["w"] / w["value"] - 1),
                        su=n_sigma(uu, r0["U_err"], u["value"], u["err"]),
                        sw=n_sigma(wsf, r0["w_err"], w["value"], w["err"]))


def report(rows: list[dict], seconds: float) -> str:
    """The Markdown report printed and saved by :func:`main`."""
    temps = ", ".join(f"{r['T']:g}" for r in rows)
    head = [f"# Kob–Andersen validation (N = {N}, ρ = {RHO}, r_c = {RC} σ_αβ shifted, NVT, Δt = {DT})",
            "", f"`python benchmarks/validation_ka.py`, T = {temps}; simulation wall time {seconds:.0f} s", ""]
    runs = ["", f"Independent runs (seeds {rows[0].get('seeds', '?')}):", ""] + run_rows(rows)
    return "\n".join(head + table_rows(rows, literature()) + ["", "Details (means over the runs):", ""]
                     + detail_rows(rows) + runs + ["", power_law_fit(rows), "", notes(rows)])


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
        row["n_is"], row["n_runs"] = int(sum(r["n_is"] for r in per_t)), len(per_t)
        row["seconds"] = total
        out.append(row)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/validation_ka.py", description=__doc__.splitlines()[0])
    ap.add_argument("--temps", type=float, nargs="+", default=DEFAULT_TEMPS)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the run lengths of SCHEDULE")
    ap.add_argument("--quick", action="store_true", help="smoke check: 2 temperatures, 10%% lengths, 3 quenches")
    ap.add_argument("--seed", type=int, default=7, help="seed of the first run (the others: seed + 1, ...)")
    ap.add_argument("--runs", type=int, default=N_RUNS, help="independent cooling runs (different seeds)")
    ap.add_argument("--md", type=Path, default=None, help="also write the report to this Markdown file")
    ap.add_argument("--save-rows", type=Path, default=None, help="write the measured values as JSON")
    ap.add_argument("--rows", type=Path, default=None, help="re-render the report from saved JSON (no MD)")
    args = ap.parse_args(argv)
    if args.rows:
        rows = json.loads(args.rows.read_text())
    elif args.quick:
        rows = combine([simulate(QUICK["temps"], QUICK["scale"], QUICK["n_quench"], args.seed)])
        for r in rows:
            r["seeds"] = str(args.seed)
    else:
        rows = combine([simulate(args.temps, args.scale, N_QUENCH, args.seed + k) for k in range(args.runs)])
        for r in rows:
            r["seeds"] = ", ".join(str(args.seed + k) for k in range(args.runs))
    if args.save_rows:
        args.save_rows.write_text(json.dumps(rows, indent=1))
    text = report(rows, max(r["seconds"] for r in rows))
    print(text)
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
