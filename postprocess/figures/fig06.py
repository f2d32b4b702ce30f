"""Fig. 6: CLM reduction τα(q)/τα(0) against q per temperature, the fit τα(0)/(1+c√q), and q(T) from MD.

``python -m postprocess.figures.fig06 SCAN.h5 --out DIR [--md MD.csv]`` → ``fig06.png``, ``fig06.csv``.
With ``--md`` the D-scaled MD reduction τα(N)D_N/D_min/τα(65) is drawn per temperature and the
coupling q(T) where the CLM matches it is marked (Sect. IV A).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from pel_hpc.errors import DeckError
from postprocess import finite_size as fs
from postprocess.clm.summary import reduction
from postprocess.figures.clm_common import finish, nearest_neighbour_table, parser
from postprocess.command import run


def md_couplings(table, md_path):
    """{T: (R_MD, q(T))} for the temperatures present in both the CLM scan and the MD table.

    The CLM curve starts from the exact point (q = 0, ratio 1) (τα(0) is the analytic CTRW value);
    an MD reduction ≥ 1 gives q = 0, one below the scanned range gives NaN (with a message).
    """
    t_md, r_md = fs.md_reduction_table(fs.read_md_table(md_path))
    ratio, _ = reduction(table)
    out = {}
    for t, r in zip(t_md, r_md):
        rows = np.isclose(table["temperature"], t) & (table["q"] > 0)
        if not rows.any():
            continue
        q = np.concatenate([[0.0], table["q"][rows]])
        curve = np.concatenate([[1.0], ratio[rows]])
        try:
            out[float(t)] = (float(r), 0.0 if r >= 1.0 else fs.coupling_from_reduction(q, curve, r))
        except DeckError as exc:
            print(f"fig06: T = {t:g}: no q(T): {exc}")
            out[float(t)] = (float(r), float("nan"))
    return out


def main(argv=None) -> int:
    args = parser("postprocess.figures.fig06", __doc__, md=True).parse_args(argv)
    table = nearest_neighbour_table(args.scan)
    ratio, err = reduction(table)
    md = md_couplings(table, args.md) if args.md else {}
    fig, ax = plt.subplots(figsize=(6, 4))
    fit_c = np.full(ratio.size, np.nan)
    for t in np.unique(table["temperature"]):
        rows = table["temperature"] == t
        q = table["q"][rows]
        line = ax.errorbar(q, ratio[rows], err[rows], fmt="o", ms=4, label=f"CLM T={t:g}")[0]
        (t0, c), _ = fs.fit_sqrt_law(q, table["tau_alpha"][rows], table["tau_alpha_err"][rows],
                                     tau_alpha_0=table["tau_alpha_0"][rows][0])
        fit_c[rows] = c
        qq = np.concatenate([[0.0], np.geomspace(1e-4, q.max(), 200)])
        ax.plot(qq, fs.sqrt_law(qq, t0, c) / t0, "-", color=line.get_color(), lw=1, label=f"1/(1+{c:.2f}√q)")
        if float(t) in md:
            r_md, q_t = md[float(t)]
            ax.axhline(r_md, ls=":", color=line.get_color())
            ax.plot([q_t], [r_md], "*", ms=10, color=line.get_color(), label=f"MD: q({t:g})={q_t:.3g}")
    ax.set_xscale("symlog", linthresh=1e-3)
    ax.set_xlabel("q")
    ax.set_ylabel("tau_alpha(q) / tau_alpha(0)")
    ax.legend(fontsize=6)
    sources = Path(args.scan).name + (f"; MD {Path(args.md).name}" if args.md else "")
    finish(fig, args.out, "fig06", sources, "T,q,ratio,ratio_err,c_fit",
           [table["temperature"], table["q"], ratio, err, fit_c])
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.figures.fig06"))
