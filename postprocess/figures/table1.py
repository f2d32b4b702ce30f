"""Table I: the PEL parameters fitted from our MB trajectories, with the Γ(e) fit as a figure.

``python -m postprocess.figures.table1 RUN_T0.45.h5 … --out DIR`` → ``table1.csv`` (name, value, error,
sources and sign convention in the header) and ``table1.png`` (ln⟨τ(e)⟩ per temperature with the
eq. (1) model of the fit).  Needs runs at two or more temperatures (λ and κ are degenerate at one).
"""
from __future__ import annotations

from pathlib import Path


import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from postprocess import landscape  # noqa: E402
from postprocess.mb_stats import bin_waiting_times  # noqa: E402
from postprocess.pel_fit import fit_command  # noqa: E402
from postprocess.figures.save import save_png  # noqa: E402
from postprocess.command import run  # noqa: E402


def plot(fit, sets, edges, sources, path: Path, min_count: int) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    for beta, e, tau in sets:
        b = bin_waiting_times(e, tau, beta, edges, min_count)
        line = ax.errorbar(b.mean_energy, np.log(b.mean_tau), yerr=b.log_tau_err, fmt="o", ms=3,
                           label=f"T={1 / beta:g}")[0]
        grid = np.linspace(edges[0], edges[-1], 200)
        ax.plot(grid, -landscape.log_escape_rate(grid, beta, fit.params), color=line.get_color(), lw=0.8)
    ax.set_xlabel("MB energy e [epsilon, total]")
    ax.set_ylabel("ln <tau(e)> [ln tau]")
    ax.legend(fontsize=7)
    ax.set_title("Table I fit: eq. (1)")
    save_png(fig, path, "; ".join(sources), fontsize=5)
    return path


def main(argv=None) -> int:
    args, out, sets, sources, edges, fit = fit_command(argv, "python -m postprocess.figures.table1",
                                                       __doc__.splitlines()[0])
    print(plot(fit, sets, edges, sources, out / "table1.png", args.min_count))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.figures.table1"))
