"""Fig. 2: S0(t) (CTRW persistence) vs S_MB(k = 400, t) and S_cont(k_c, t) for each temperature.

``python -m postprocess.figures.fig02 RUN.h5 … --out DIR [--kc 15]`` → ``fig02.png``, ``fig02.csv``.
S_cont(k_c, t) is divided by the amplitude of its KWW fit (short-time decay scaled out, as in the paper).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from postprocess.figures.common import add_common_arguments, analyse_file, footer, kww_of
from postprocess.figures.save import save_png  # noqa: E402
from postprocess.command import positive, run  # noqa: E402


def curves(a, kc: float):
    """(t, S0, S_MB(400), S_cont(k_c)/A) of one analysed run."""
    i400 = int(np.argmin(np.abs(a.k - 400.0)))
    ic = int(np.argmin(np.abs(a.k - kc)))
    amp = kww_of(a, "cont", a.k[ic]).amplitude
    return a.time, a.s0, a.fs_mb[:, i400], a.fs_cont[:, ic] / amp


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m postprocess.figures.fig02", description=__doc__.splitlines()[0])
    add_common_arguments(ap)
    ap.add_argument("--kc", type=positive(float), default=15.0, help="k_c for S_cont [1/sigma]")
    args = ap.parse_args(argv)
    out = Path(args.out)
    analyses = sorted((analyse_file(f, energy_tol=args.energy_tol) for f in args.files), key=lambda a: a.temperature)
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    cols = []
    for a in analyses:
        t, s0, smb, sc = curves(a, args.kc)
        line = ax.semilogx(t, s0, "-", label=f"S0, T={a.temperature:g}")[0]
        ax.semilogx(t, smb, "o", ms=3, color=line.get_color(), label="S_MB(k=400)")
        ax.semilogx(t, sc, "--", color=line.get_color(), label=f"S_cont(k={args.kc:g})/A")
        cols += [np.full_like(t, a.temperature), t, s0, smb, sc]
    ax.set_xlabel("t [tau]")
    ax.set_ylabel("S(t)")
    ax.legend(fontsize=6)
    save_png(fig, out / "fig02.png", footer(analyses))
    table = np.concatenate([np.column_stack(cols[i:i + 5]) for i in range(0, len(cols), 5)])
    np.savetxt(out / "fig02.csv", table, delimiter=",", comments="", fmt="%.6g",
               header=f"# sources: {footer(analyses)}\nT,t,S0,S_MB_k400,S_cont_kc_scaled")
    print(out / "fig02.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.figures.fig02"))
