"""Fig. 3: k dependence of the KWW τ0 and β for the MB and the continuous trajectory; k_c.

``python -m postprocess.figures.fig03 RUN_T0.50.h5 --out DIR`` → ``fig03.png``, ``fig03.csv``.
The MB plateau is the median of τ0_MB(k), β_MB(k) for k ≥ 100; k_c is where τ0_cont(k) crosses it
(:func:`postprocess.kww.crossover_wavevector`; paper: k_c ≈ 15 at T = 0.5).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from pel_hpc.errors import DeckError
from postprocess import kww
from postprocess.figures.common import add_common_arguments, analyse_file, footer
from postprocess.figures.save import save_png  # noqa: E402
from postprocess.command import run  # noqa: E402


def k_scan(a):
    """(τ0_MB, β_MB, τ0_cont, β_cont, plateau τ0, plateau β, k_c) of one analysed run."""
    t0_mb, b_mb = kww.kww_scan(a.time, a.fs_mb, a.k)
    t0_c, b_c = kww.kww_scan(a.time, a.fs_cont, a.k)
    big = a.k >= 100.0
    plateau_t0, plateau_b = np.nanmedian(t0_mb[big]), np.nanmedian(b_mb[big])
    try:
        kc = kww.crossover_wavevector(a.k, t0_c, plateau_t0)
    except DeckError:
        kc = float("nan")
    return t0_mb, b_mb, t0_c, b_c, plateau_t0, plateau_b, kc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m postprocess.figures.fig03", description=__doc__.splitlines()[0])
    add_common_arguments(ap)
    args = ap.parse_args(argv)
    out = Path(args.out)
    a = analyse_file(args.files[0], energy_tol=args.energy_tol)
    t0_mb, b_mb, t0_c, b_c, pt0, pb, kc = k_scan(a)
    out.mkdir(parents=True, exist_ok=True)
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(5, 6))
    ax1.loglog(a.k, t0_mb, "o", label="MB")
    ax1.loglog(a.k, t0_c, "s", label="coordinates")
    ax1.axhline(pt0, color="k", lw=0.6)
    ax1.set_ylabel("tau0 [tau]")
    ax2.semilogx(a.k, b_mb, "o", a.k, b_c, "s")
    ax2.axhline(pb, color="k", lw=0.6)
    ax2.set_ylabel("beta_KWW")
    ax2.set_xlabel("k [1/sigma]")
    for ax in (ax1, ax2):
        ax.axvline(kc, color="r", ls=":", label=f"k_c = {kc:.3g}")
    ax1.legend(fontsize=7)
    fig.suptitle(f"Fig. 3: T = {a.temperature:g}")
    save_png(fig, out / "fig03.png", footer([a]), rect=(0, 0.03, 1, 0.97))
    np.savetxt(out / "fig03.csv", np.column_stack([a.k, t0_mb, b_mb, t0_c, b_c]), delimiter=",", comments="",
               fmt="%.6g", header=f"# sources: {footer([a])}; k_c = {kc:.4g}\nk,tau0_mb,beta_mb,tau0_cont,beta_cont")
    print(out / "fig03.png", "k_c =", kc)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.figures.fig03"))
