"""Published Kob–Andersen numbers and the Markdown report of ``benchmarks/validation_ka.py``.

:data:`LITERATURE` holds only numbers traced to a publication's data set or to the reference values
another MD code's developers published in a public repository (labelled as such); quantities without
one say so.  :data:`CROSS_CHECKS` holds our own checks of the T = 1.028 state point (LAMMPS, and one long
pel_hpc run), which are not literature.  Everything else in the report is computed from the rows the run produced.
"""
from __future__ import annotations

import csv
import io
import textwrap

import numpy as np

# quantity; T; value; error (quoted, or half the last printed digit); convention; source
LITERATURE = """\
quantity;T;value;err;convention;source
U;1.028;-5.974;0.0005;r_c = 2.5 sigma_ab, energy shift: see notes;PSD2018 (T = 1.028, rho = 1.200, p = 10.19)
w;1.028;7.444;0.0005;p = rho (T + w), independent of an energy shift;PSD2018
gamma;1.028;5.11;0.005;<dU dW>/<dU^2> with W/3 per particle, shifted U;PSD2018
U;0.8;-6.346;0.0005;shifted LJ, cut 2.5 sigma_ab, rho = 1.200, NVT;RUMD3 mu3
w;0.8;5.534;0.0005;W per particle, p = rho T + W/V;RUMD3 mw3
cv_ex;0.8;1.702;0.0005;var(U) / (N T^2) of the total U, as cvex3 is defined;RUMD3 cvex3 = 1.089086505e-4 * 10000 / 0.8^2
"""
SOURCES = {"PSD2018": "Pedersen, Schrøder & Dyre, Phys. Rev. Lett. 120, 165501 (2018), published data set "
                      "(Zenodo 10.5281/zenodo.10047547, github urpedersen/PRL_120_165501_data) "
                      "figure_4/liquid.csv, row χ_B = 0.200",
           "RUMD3": "RUMD 3 reference values of the RUMD/gamdpy developers, github jklust/gamdpy "
                    "examples/kablj.py (commit 08142db8), block `if rho==1.200 and temperature==0.800`; "
                    "a code-to-code reference, not a peer-reviewed table; value"}
NOT_FOUND = {"e_is": "no published number found (see notes)",
             "D_A": "no published number at ρ = 1.2 found (see notes)"}
# Long runs of the T = 1.028, ρ = 1.2 state point (not literature): LAMMPS (Debian lmp 29 Sep 2021; input
# validation_ka.LAMMPS_INPUT, cases validation_ka.LAMMPS_CASES, `--lammps`; same model, Nosé–Hoover chain
# Tdamp 0.5, Δt = 0.005, melted at T = 2 from a lattice; errors from 8 block means) and one long pel_hpc run
# (`--temps 1.028 --runs 1 --seed 21 --scale 6`; errors from 4 block means).  Measured 2026-11-25.
# (code, N, production steps, ⟨T_kin⟩, U/N, err, w, err)
CROSS_CHECKS = (("LAMMPS", 1000, 120000, 1.0289, -5.9645, 0.0026, 7.4903, 0.0137),
                ("LAMMPS", 4000, 36000, 1.0305, -5.9648, 0.0019, 7.4922, 0.0099),
                ("pel_hpc, seed 21", 1000, 120000, 1.0280, -5.9710, 0.0005, 7.4565, 0.0049))

QUANTITIES = (("U", "U/N, shifted [ε]", "{:.4f}"), ("w", "w = W/(3N) [ε]", "{:.4f}"),
              ("gamma", "γ = ⟨ΔUΔW⟩/⟨ΔU²⟩", "{:.3f}"), ("cv_ex", "c_V,ex = N⟨(Δu)²⟩/T²", "{:.3f}"),
              ("e_is", "e_IS [ε]", "{:.4f}"), ("D_A", "D_A [σ²/τ]", "{:.3e}"))


def literature(text: str = LITERATURE) -> list[dict]:
    """Parse :data:`LITERATURE` into dicts with float ``T``, ``value``, ``err`` and the full ``source``."""
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    for r in rows:
        r["T"], r["value"], r["err"] = float(r["T"]), float(r["value"]), float(r["err"])
        r["ref"], _, rest = r["source"].partition(" ")
        r["source"] = SOURCES[r["ref"]] + (" " + rest if rest else "")
    return rows


def n_sigma(ours: float, err: float, lit: float, lit_err: float) -> float:
    """|ours − literature| in units of the combined 1-σ error."""
    return abs(ours - lit) / max(np.hypot(err, lit_err), 1e-300)


def table_rows(rows: list[dict], lit: list[dict]) -> list[str]:
    """Markdown rows: T, quantity, ours ± err, literature, agreement, source."""
    out = ["| T | quantity | ours ± 1σ | literature | agreement | source |", "|---|---|---|---|---|---|"]
    last = None
    for r in sorted(rows, key=lambda r: -r["T"]):
        for key, label, fmt in QUANTITIES:
            if key not in r:
                continue
            ours = f"{fmt.format(r[key])} ± {fmt.format(r[key + '_err'])}"
            ref = [x for x in lit if x["quantity"] == key and abs(x["T"] - r["T"]) < 1e-9]
            if ref:
                x = ref[0]
                src, last = ("same source as above" if x["ref"] == last else x["source"]), x["ref"]
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
    keys = (("U", "{:.4f}"), ("w", "{:.4f}"), ("cv_ex", "{:.3f}"), ("e_is", "{:.4f}"), ("D_A", "{:.3e}"))
    keys = [(k, f) for k, f in keys if k in rows[0]]
    out = ["| T | " + " | ".join(f"{k} per run" for k, _ in keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for r in sorted(rows, key=lambda r: -r["T"]):
        cells = [", ".join(f.format(v) for v in r.get(k + "_runs", [r[k]])) for k, f in keys]
        out.append(f"| {r['T']:g} | " + " | ".join(cells) + " |")
    return out


def cross_check_rows(rows: list[dict]) -> list[str]:
    """Markdown rows of :data:`CROSS_CHECKS` and of this run at T = 1.028."""
    out = ["| code, N | production [τ] | ⟨T_kin⟩ | U/N ± 1σ | w ± 1σ |", "|---|---|---|---|---|"]
    for code, n, steps, t_kin, u, du, w, dw in CROSS_CHECKS:
        out.append(f"| {code}, {n} | {steps * 0.005:g} | {t_kin:.4f} | {u:.4f} ± {du:.4f} | {w:.4f} ± {dw:.4f} |")
    r = next((r for r in rows if abs(r["T"] - 1.028) < 1e-9), None)
    if r is not None:
        out.append(f"| pel_hpc, this run (seeds {r.get('seeds', '?')}), 1000 | — | {r['T_kin']:.4f} "
                   f"| {r['U']:.4f} ± {r['U_err']:.4f} | {r['w']:.4f} ± {r['w_err']:.4f} |")
    return out


def power_law_fit(rows: list[dict], t_mct: float) -> str:
    """γ_A of D_A ∝ (T − T_MCT)^γ_A over T ≤ 0.8 (weighted), as a plain-text line."""
    near = [r for r in rows if r["T"] <= 0.8 + 1e-9]
    if len(near) < 2:
        return "γ_A fit: needs two temperatures ≤ 0.8"
    x, y = np.log([r["T"] - t_mct for r in near]), np.log([r["D_A"] for r in near])
    w = np.array([r["D_A"] / max(r["D_A_err"], 1e-12) for r in near])
    (g, _), cov = np.polyfit(x, y, 1, w=w, cov="unscaled")
    return (f"Our γ_A of D_A ∝ (T − {t_mct})^γ over T ≤ 0.8 ({len(near)} points; T_MCT from Coslovich, Ozawa & "
            f"Kob, Eur. Phys. J. E 41, 62 (2018)): {g:.2f} ± {np.sqrt(cov[0, 0]):.2f}")


NOTES = """\
Notes
-----
* Errors: ours are 1σ.  Each value is the mean over {nr} independent cooling runs (different seeds); its
  error is the larger of the within-run error propagated to the mean and the between-run standard error.
  Within a run: U, w, γ and c_V,ex from {nb} block means; e_IS the standard error of the quenches ({nq} in
  all, spread evenly over the production runs); D_A the standard deviation of the same MSD fit in {nb}
  consecutive blocks.  The systematic error of the MSD fit window is not included.  The published values
  carry no error; we use half the last printed digit.  Agreement = |ours − literature| / combined 1σ.
* PSD2018: the liquid row χ_B = 0.200 of Pedersen, Schrøder & Dyre lies on their p = 10.19 isobar at
  T = 1.028 and ρ = 1.200, i.e. our model and density.  The data set states neither N nor the thermostat.
* RUMD3: gamdpy's example examples/kablj.py (same shifted KA potential, r_c = 2.5 σ_αβ, NVT, N = 2048 at
  the cited commit) checks its own run against RUMD 3 values written into it for T = 0.8, ρ = 1.2:
  mu3 = −6.346 (U/N), mw3 = 5.534 (W/N with p = ρT + W/V, i.e. our w), cvex3 = 1.089086505e-4 · 10000 / 0.8²
  = 1.702 (var(U)/(N T²)), with tolerances 0.01, 0.03 and 0.1.  N and length of the RUMD 3 run are not
  stated (the c_V,ex line multiplies a variance per particle by 10000); these are one code's reference
  values, not a peer-reviewed table.
* Energy shift: the PSD2018 data set does not say whether the potential is energy-shifted.  Shifted and
  unshifted potentials have the same forces, hence the same w and dynamics; their U/N differ by ΔU_c/N
  (computed exactly on our configurations: {du_c:.3f} ε at T = 1.028).  Unshifted, ours would be
  {uu:.4f}, {su:.0f}σ from the published value, so the published U is the shifted-potential energy.
  A shifted-force cut-off would change w by {dw_sf:+.3f} ε ({sw:.0f}σ), so the published w excludes it.
* T = 1.028: ours − PSD2018 is ΔU/N = {du:+.4f} ({s_u:.1f}σ) and Δw = {dw:+.4f} ({s_w:.1f}σ).
  {lammps}
  Our engine's trajectory equals LAMMPS' step by step (positions within 1e-9 σ after 300 NVE and 300
  NVT steps from one N = 1000 liquid state, tests/test_validation_ka.py), so the spread of these runs
  (about ±0.004 in U/N and ±0.02 in w; 4-block errors of single runs can understate it) is statistical.
  The published row is itself consistent only to about this level: ρ(T + w) = 10.166 against its isobar
  p = 10.19 (0.020 in w at fixed ρ and T; our p at ρ = 1.2 is {p_ours:.3f}), and its ρ = 1.200 is rounded to
  ±0.0005, worth about ±0.003 in U/N (dU/d ln ρ ≈ w) and ±0.02 in w.  Shifts along the U–W correlation
  (Δw/ΔU ≈ γ ≈ 5) are what a slightly different state point gives; a different potential or virial
  convention would move U or w alone (previous note).
* e_IS: no number could be traced.  Published KA e_IS(T) at ρ = 1.2 (Sastry, Debenedetti & Stillinger,
  Nature 393, 554 (1998); Sciortino, Kob & Tartaglia, Phys. Rev. Lett. 83, 3214 (1999) and
  arXiv:cond-mat/9911062) are, as far as we know, in figures; the stored copies we could read hold their
  abstracts and first paragraphs only, so no number is given rather than one from memory.  The unshifted
  e_IS (details) is printed for comparison with unshifted-potential data.
* D_A: no number at ρ = 1.2 could be traced.  Of Kob & Andersen, Phys. Rev. E 51, 4626 and 52, 4134
  (1995) only the abstracts were readable (D(T) a power law of T − T_c; no values, exponents or prefactors).  The
  iso-diffusivity points of PSD2018 (D = 1e-3 at T = 0.729, 1e-4 at T = 0.61; figure_3/iso-diffusivity.csv)
  lie on the p = 10.19 isobar, where ρ rises above 1.2 below T = 1.028, and the species of D is not stated.
  The RUMD 3 MSD at T = 0.8 that kablj.py plots (Data/KABLJ_msd_R1.200_T0.800_rumd3.dat) and the T = 0.45
  science-test data of gamdpy are not in the stored repository copies.
* Searched without a usable number: stored pages (ar5iv/arXiv abstracts and first paragraphs) of the papers
  above and of Coslovich & Pastore (2007), Flenner & Szamel (2005; Brownian dynamics), Berthier & Tarjus
  (2009, 2011), Toxvaerd & Dyre (arXiv:1106.1741), Banerjee et al. (2014), Sengupta et al. (2013),
  Coslovich, Ozawa & Kob (2018), Schrøder & Dyre (2020; a modified KA mixture), Ingebrigtsen et al.,
  Phys. Rev. X 9, 031016 (2019), Bailey et al. (RUMD), SciPost Phys. 3, 038 (2017); repositories: urpedersen/PRL_120_165501_data (used), jklust/gamdpy (used), HALMD (validation of the
  one-component LJ fluid only), atooms and its post-processing (KA sample trajectories, no thermodynamics),
  LAMMPS, jax-md, HOOMD examples; GitHub issue threads.
* Not a literature value: third-party code (github, files citing "the Kob-Andersen papers") uses
  U/N = −8.656 + 2.639 T^(3/5); we could not trace it to a publication.  For orientation only it gives
  {rt}.
"""


def cross_check_note(rows: list[dict], u_ref: float, w_ref: float) -> str:
    """Sentences on :data:`CROSS_CHECKS`: each long run minus PSD2018 (in σ for the 8-block LAMMPS errors)
    and the LAMMPS size trend; empty without T = 1.028 in ``rows``."""
    if not any(abs(r["T"] - 1.028) < 1e-9 for r in rows):
        return ""
    parts = []
    for code, n, _, _, u, du, w, dw in CROSS_CHECKS:
        part = f"{code} N = {n}: ΔU/N = {u - u_ref:+.4f}, Δw = {w - w_ref:+.4f}"
        if code == "LAMMPS":
            part += f" ({n_sigma(u, du, u_ref, 0.0005):.1f}σ, {n_sigma(w, dw, w_ref, 0.0005):.1f}σ)"
        parts.append(part)
    text = "Long runs minus PSD2018 (table above): " + "; ".join(parts) + "."
    lmp = {n: (u, du, w, dw) for code, n, _, _, u, du, w, dw in CROSS_CHECKS if code == "LAMMPS"}
    if 1000 in lmp and 4000 in lmp:
        (u1, du1, w1, dw1), (u4, du4, w4, dw4) = lmp[1000], lmp[4000]
        text += (f"  LAMMPS N = 4000 minus N = 1000: ΔU/N = {u4 - u1:+.4f} ± {np.hypot(du1, du4):.4f}, "
                 f"Δw = {w4 - w1:+.4f} ± {np.hypot(dw1, dw4):.4f}: no size effect at this resolution.")
    return textwrap.fill(text, 104, subsequent_indent="  ")


def notes(rows: list[dict]) -> str:
    """:data:`NOTES` with the numbers of this run filled in."""
    lit = {(r["quantity"], r["T"]): r for r in literature()}
    u, w = lit["U", 1.028], lit["w", 1.028]
    r0 = min(rows, key=lambda r: abs(r["T"] - 1.028))
    uu, wsf = r0["U"] + r0["dU_c"], r0["w"] + r0["dw_sf"]
    du, dw = r0["U"] - u["value"], r0["w"] - w["value"]
    s_u, s_w = n_sigma(r0["U"], r0["U_err"], u["value"], u["err"]), n_sigma(r0["w"], r0["w_err"], w["value"], w["err"])
    rt = ", ".join(f"{-8.656 + 2.639 * r['T'] ** 0.6:.3f} at T = {r['T']:g} (ours {r['U']:.3f})"
                   for r in sorted(rows, key=lambda r: -r["T"]))
    return NOTES.format(nb=rows[0].get("n_blocks", 4), nq=min(r["n_is"] for r in rows),
                        nr=rows[0].get("n_runs", 1), rt=rt, du_c=r0["dU_c"], uu=uu, dw_sf=r0["dw_sf"],
                        su=n_sigma(uu, r0["U_err"], u["value"], u["err"]),
                        sw=n_sigma(wsf, r0["w_err"], w["value"], w["err"]), du=du, dw=dw, s_u=s_u, s_w=s_w,
                        p_ours=1.2 * (r0["T"] + r0["w"]),
                        lammps=cross_check_note(rows, u["value"], w["value"]))


def report(rows: list[dict], header: str, t_mct: float) -> str:
    """The Markdown report: literature table, details, per-run values, LAMMPS check, γ_A fit, notes."""
    seeds = rows[0].get("seeds", "?")
    parts = [header, ""] + table_rows(rows, literature()) + ["", "Details (means over the runs):", ""]
    parts += detail_rows(rows) + ["", f"Independent runs (seeds {seeds}):", ""] + run_rows(rows)
    parts += ["", "Long runs of the T = 1.028 state point (our checks, not literature; see CROSS_CHECKS):", ""]
    parts += cross_check_rows(rows)
    return "\n".join(parts + ["", power_law_fit(rows, t_mct), "", notes(rows)])
