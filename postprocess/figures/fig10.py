"""Fig. 10: τα/τα(0) against the effective coupling q_eff = N_eff q for several coupling ranges r_max.

``python -m postprocess.figures.fig10 SCAN.h5 --out DIR`` → ``fig10.png``, ``fig10.csv``.  The scan
should hold one temperature and several r_max (null = nearest neighbours); curves collapsing on a
master curve show that q_eff is the relevant parameter (Sect. IV B).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from postprocess.clm.scan import read_results
from postprocess.clm.summary import reduction, summarise
from postprocess.figures.clm_common import finish, parser
from postprocess.command import run


def main(argv=None) -> int:
    args = parser("postprocess.figures.fig10", __doc__).parse_args(argv)
    table = summarise(read_results(args.scan))
    ratio, err = reduction(table)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    key = np.nan_to_num(table["r_max"], nan=1.0)
    for t in np.unique(table["temperature"]):
        for r in np.unique(key):
            rows = (key == r) & (table["temperature"] == t) & (table["q"] > 0)
            n_eff = table["n_eff"][rows][0]
            label = "nearest neighbours" if r == 1.0 else f"r_max={r:g}"
            ax.errorbar(table["q_eff"][rows], ratio[rows], err[rows], fmt="o-", ms=4, lw=0.8,
                        label=f"T={t:g}, {label} (N_eff={n_eff:.2f})")
    ax.set_xscale("log")
    ax.set_xlabel("q_eff = N_eff q")
    ax.set_ylabel("tau_alpha / tau_alpha(q=0)")
    ax.legend(fontsize=6)
    finish(fig, args.out, "fig10", Path(args.scan).name, "T,r_max(nan=nn),n_eff,q,q_eff,ratio,ratio_err",
           [table["temperature"], table["r_max"], table["n_eff"], table["q"], table["q_eff"], ratio, err])
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.figures.fig10"))
