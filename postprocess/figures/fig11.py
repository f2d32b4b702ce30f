"""Fig. 11 of the paper: waiting time ⟨τ12⟩(d) between the first two structural events, and τ01.

``python -m postprocess.figures.fig11 FILE.h5 --out DIR`` writes ``DIR/fig11_<stem>.png`` (title: the
source file) and ``DIR/<stem>_events.csv``.  ⟨τ12⟩(d) is averaged over the replicas whose two events
lie at distance d (standard error from the ensemble); ⟨τ01⟩, the waiting time for the first structural
event, is the horizontal band (Appendix C).  Options: ``python -m postprocess.figures.fig11 --help``.
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from postprocess.figures.fig04 import footer  # noqa: E402
from postprocess.ice import IceResult, run_cli  # noqa: E402
from postprocess.figures.save import save_png  # noqa: E402
from postprocess.command import run  # noqa: E402


def plot(result: IceResult, source: Path, path: Path) -> Path:
    """Draw ⟨τ12⟩(d) with error bars and ⟨τ01⟩ ± its error, and save it as PNG."""
    s = result.stats
    d = 0.5 * (s.edges[1:] + s.edges[:-1])
    ok = np.isfinite(s.tau12)
    fig, ax = plt.subplots(figsize=(5.0, 3.8))
    ax.errorbar(d[ok], s.tau12[ok], yerr=np.nan_to_num(s.tau12_err[ok]), fmt="o-", ms=4, capsize=2,
                label="⟨τ₁₂⟩(d)")
    if np.isfinite(s.tau01):
        ax.axhline(s.tau01, color="C1", lw=1, label="⟨τ₀₁⟩")
        ax.axhspan(s.tau01 - np.nan_to_num(s.tau01_err), s.tau01 + np.nan_to_num(s.tau01_err),
                   color="C1", alpha=0.2)
    ax.set_xlabel("d [σ]")
    ax.set_ylabel("waiting time [τ]")
    ax.set_title(f"Fig. 11 — {source.name}", fontsize=9)
    ax.legend(fontsize=8)
    save_png(fig, path, footer(result), fontsize=5.5, dpi=150)
    return path


def main(argv=None) -> int:
    args, result, _ = run_cli(argv, "python -m postprocess.figures.fig11", __doc__.splitlines()[0])
    print(plot(result, args.file, args.out / f"fig11_{args.file.stem}.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.figures.fig11"))
