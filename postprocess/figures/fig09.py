"""Fig. 9: persistence S0(t) of the CLM with its KWW fit, optionally against the MD S(k_c, t).

``python -m postprocess.figures.fig09 SCAN.h5 --out DIR [--temperature T] [--q Q] [--md-curve S.csv]``
→ ``fig09.png``, ``fig09.csv``.  Draws every q of the chosen temperature (default: the lowest).
``--md-curve`` is a CSV with columns t, S (e.g. S_cont(k_c, t)/A of the large MD system).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from pel_hpc.errors import DeckError
from postprocess.clm.observables import kww_of_persistence, persistence
from postprocess.clm.scan import read_results
from postprocess.clm.summary import merge_seeds
from postprocess.command import positive, run
from postprocess.figures.clm_common import finish, parser
from postprocess.kww import kww_tau_alpha


def main(argv=None) -> int:
    ap = parser("postprocess.figures.fig09", __doc__)
    ap.add_argument("--temperature", type=positive(float), help="temperature to draw (default: lowest in the scan)")
    ap.add_argument("--md-curve", help="CSV with columns t,S of the MD S(k_c, t)")
    args = ap.parse_args(argv)
    runs = [r for r in merge_seeds(read_results(args.scan)) if r.config.r_max is None]
    if not runs:
        raise DeckError(f"{args.scan}: no grid point with nearest-neighbour coupling (r_max unset) to draw")
    temp = args.temperature if args.temperature is not None else min(r.config.temperature for r in runs)
    runs = sorted((r for r in runs if np.isclose(r.config.temperature, temp)), key=lambda r: r.config.q)
    if not runs:
        raise DeckError(f"{args.scan}: no nearest-neighbour grid point at --temperature {temp:g}")
    fig, ax = plt.subplots(figsize=(5.5, 4))
    cols = []
    for r in runs:
        t, s0 = persistence(r)
        fit = kww_of_persistence(r)
        line = ax.semilogx(t, s0, "-", label=f"CLM q={r.config.q:g}: beta={fit.beta:.2f}, "
                                               f"tau_a={kww_tau_alpha(fit.tau0, fit.beta):.3g}")[0]
        ax.semilogx(t, np.exp(-(t / fit.tau0) ** fit.beta), ":", color=line.get_color(), lw=0.8)
        cols.append(np.column_stack([np.full(t.size, r.config.q), t, s0]))
    sources = Path(args.scan).name
    if args.md_curve:
        md = np.genfromtxt(args.md_curve, delimiter=",", names=True, comments="#")
        ax.semilogx(md["t"], md["S"], "ko", ms=3, label="MD S(k_c, t)")
        sources += f"; MD {Path(args.md_curve).name}"
    t_all, s_all = np.concatenate([c[:, 1] for c in cols]), np.concatenate([c[:, 2] for c in cols])
    active = t_all[(s_all < 0.995) & (s_all > 1e-3)]
    ax.set_xlim(active.min() / 3.0, active.max() * 3.0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("t [tau]")
    ax.set_ylabel("S0(t)")
    ax.set_title(f"T = {temp:g}", fontsize=8)
    ax.legend(fontsize=6)
    finish(fig, args.out, "fig09", sources, "q,t,S0", np.concatenate(cols).T)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.figures.fig09"))
