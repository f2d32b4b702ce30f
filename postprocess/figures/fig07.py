"""Fig. 7: the coupling q(T) fitted to the MD finite-size reduction, against 1/⟨τ⟩(T).

``python -m postprocess.figures.fig07 SCAN.h5 --md MD.csv --out DIR`` → ``fig07.png``, ``fig07.csv``.
q(T) from :func:`postprocess.figures.fig06.md_couplings`; ⟨τ⟩ is the CLM mean waiting time
(= the N = 65 CTRW value, unchanged by the coupling).  The sublinear slope of ln q against
ln(1/⟨τ⟩) is printed in the legend (Sect. IV A).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from pel_hpc.errors import DeckError
from postprocess.figures.clm_common import finish, nearest_neighbour_table, parser
from postprocess.figures.fig06 import md_couplings
from postprocess.command import run


def main(argv=None) -> int:
    args = parser("postprocess.figures.fig07", __doc__, md=True).parse_args(argv)
    if not args.md:
        raise DeckError("fig07 needs the MD finite-size table (--md MD.csv with T, N, tau_alpha, D)")
    table = nearest_neighbour_table(args.scan)
    md = md_couplings(table, args.md)
    temps = np.array([t for t in sorted(md) if np.isfinite(md[t][1]) and md[t][1] > 0])
    if temps.size == 0:
        raise DeckError("fig07: no temperature with a finite, positive q(T) (see fig06 messages)")
    q = np.array([md[t][1] for t in temps])
    rate = np.array([1.0 / table["mean_tau_0"][np.isclose(table["temperature"], t)][0] for t in temps])
    fig, ax = plt.subplots(figsize=(5, 4))
    slope = np.polyfit(np.log(rate), np.log(q), 1)[0] if temps.size > 1 else np.nan
    ax.loglog(rate, q, "o-", label=f"q(T), slope {slope:.2f}")
    for t, x, y in zip(temps, rate, q):
        ax.annotate(f"T={t:g}", (x, y), fontsize=6)
    ax.set_xlabel("1/<tau> [1/tau]")
    ax.set_ylabel("q")
    ax.legend(fontsize=7)
    finish(fig, args.out, "fig07", f"{Path(args.scan).name}; MD {Path(args.md).name}", "T,inv_mean_tau,q",
           [temps, rate, q])
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.figures.fig07"))
