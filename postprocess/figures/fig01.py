"""Fig. 1: D and τα of the MB trajectory against the CTRW expressions, with the diagonal.

``python -m postprocess.figures.fig01 RUN_T0.45.h5 RUN_T0.50.h5 … --out DIR`` → ``fig01.png``,
``fig01.csv``.  Measured: D of the MB trajectory (MSD) and τα = τ0/β Γ(1/β) of a KWW fit of
S_MB(k = 400, t).  CTRW: D = a²/(6N⟨τ⟩) and τα = ⟨τ²⟩/(2⟨τ⟩) from the MB waiting times
(Sect. II of the paper); the CSV also gives the Table I PEL predictions ⟨τ⟩ = 1/⟨Γ⟩ and
τα = e^{σγ²}⟨Γ⁻¹⟩ for both signs of the entropic term (see :mod:`postprocess.landscape`).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from postprocess import ctrw
from postprocess.figures.common import add_common_arguments, analyse_file, footer, kww_of
from postprocess.landscape import TABLE_I
from postprocess.figures.save import save_png  # noqa: E402
from postprocess.command import run  # noqa: E402

COLUMNS = ("T", "n_mb", "a2", "mean_tau", "D_msd", "D_mb", "D_ctrw", "tau_alpha_mb_kww", "tau_alpha_ctrw",
           "pel_mean_tau_s-1", "pel_mean_tau_s+1", "pel_tau_alpha_s-1", "pel_tau_alpha_s+1")


def rows(analyses):
    """One CSV row per analysed run (see COLUMNS)."""
    out = []
    for a in analyses:
        beta = 1.0 / a.temperature
        done = a.waiting_times
        preds = [float(f(beta, TABLE_I.replace(entropic_sign=s))) for f in (ctrw.predicted_mean_tau,
                 ctrw.predicted_tau_alpha) for s in (-1, 1)]
        out.append([a.temperature, done.size, a.a2, done.mean(), a.d_msd, a.d_mb, a.d_ctrw,
                    kww_of(a, "mb", 400.0).tau_alpha, a.tau_alpha_ctrw] + preds)
    return np.array(out, dtype=float)


def plot(table, analyses, path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, (x, y, label) in zip(axes, ((6, 5, "D"), (8, 7, r"$\tau_\alpha$"))):
        ax.loglog(table[:, x], table[:, y], "o")
        for row in table:
            ax.annotate(f"T={row[0]:g}", (row[x], row[y]), fontsize=7)
        lo, hi = np.nanmin(table[:, [x, y]]) / 2, np.nanmax(table[:, [x, y]]) * 2
        ax.loglog([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel(f"{label} CTRW (MB waiting times)")
        ax.set_ylabel(f"{label} MB trajectory")
    fig.suptitle("Fig. 1: MB trajectory vs CTRW/PEL")
    save_png(fig, path, footer(analyses), rect=(0, 0.04, 1, 0.95))
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m postprocess.figures.fig01", description=__doc__.splitlines()[0])
    add_common_arguments(ap)
    args = ap.parse_args(argv)
    out = Path(args.out)
    analyses = sorted((analyse_file(f, energy_tol=args.energy_tol) for f in args.files), key=lambda a: a.temperature)
    out.mkdir(parents=True, exist_ok=True)
    table = rows(analyses)
    np.savetxt(out / "fig01.csv", table, delimiter=",", header=f"# sources: {footer(analyses)}\n" + ",".join(COLUMNS),
               comments="", fmt="%.6g")
    print(plot(table, analyses, out / "fig01.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.figures.fig01"))
