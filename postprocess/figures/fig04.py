"""Fig. 4 of the paper: N(d)/N_av(d) of the first two structural events of an iso-configurational ensemble.

``python -m postprocess.figures.fig04 FILE.h5 --out DIR`` writes ``DIR/fig04_<stem>.png`` (the title
names the source file, the footer the ensemble size, the event rule and Δt with its source) and ``DIR/<stem>_events.csv``.
N(d) counts replicas whose second structural event lies at distance d from the first; N_av(d) is the
count expected from g_AA(r) if the second event hit a random A particle (:mod:`postprocess.events`).
Options: ``python -m postprocess.figures.fig04 --help``.
"""
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pel_hpc.errors import DeckError  # noqa: E402
from postprocess.ice import IceResult, run_cli  # noqa: E402
from postprocess.figures.save import save_png  # noqa: E402
from postprocess.command import run  # noqa: E402


MIN_EXPECTED = 0.5  # bins with N_av(d) below this are not drawn: their ratio has no resolution


def footer(result: IceResult) -> str:
    """One line naming the ensemble size and the frame rule of the analysis."""
    rule, relax = result.rule, result.relaxation
    source = "--lag" if relax.source == "--lag" else f"τα of F_s(k={relax.k:g}), KWW"
    return (f"{len(result.tables)} replicas, {result.stats.n_pairs} event pairs; window {rule.window} frames, "
            f"jump {rule.jump} σ, Δt = {relax.lag:.3g} τ ({source}; {rule.lag} frames), "
            f"MSD > {rule.msd_threshold} σ², r_shell {rule.r_shell:.3g} σ")


def drawn(result: IceResult):
    """The bins drawn: those where at least half a pair is expected (not the core, d < 0.9 σ)."""
    return result.stats.n_av >= MIN_EXPECTED


def require_a_bin(result: IceResult) -> None:
    """Refuse an ensemble too small for any bin to be drawn (the figure would be empty)."""
    if not drawn(result).any():
        raise DeckError(f"{result.stats.n_pairs} event pair(s) from {len(result.tables)} replicas: no distance bin "
                        f"expects {MIN_EXPECTED} of them, so Fig. 4 would be empty (more replicas, or a longer run)")


def error_bars(ratio, err):
    """(2, n) lower and upper error bars of N/N_av: the lower one stops at 0 (a count is not negative;
    an empty bin carries the upper error of one pair, :func:`postprocess.events.distance_statistics`)."""
    return np.vstack([np.minimum(err, ratio), err])


def plot(result: IceResult, source: Path, path: Path) -> Path:
    """Draw N(d)/N_av(d) with its ensemble error bars and save it as PNG."""
    s = result.stats
    d = 0.5 * (s.edges[1:] + s.edges[:-1])
    ok = drawn(result)
    fig, ax = plt.subplots(figsize=(5.0, 3.8))
    ax.errorbar(d[ok], s.ratio[ok], yerr=error_bars(s.ratio[ok], s.ratio_err[ok]), fmt="o-", ms=4, capsize=2)
    ax.axhline(1.0, color="gray", ls=":", lw=1)
    ax.set_xlabel("d [σ]")
    ax.set_ylabel("N(d) / N_av(d)")
    ax.set_title(f"Fig. 4 — {source.name}", fontsize=9)
    save_png(fig, path, footer(result), fontsize=5.5, dpi=150)
    return path


def main(argv=None) -> int:
    args, result, _ = run_cli(argv, "python -m postprocess.figures.fig04", __doc__.splitlines()[0], require_a_bin)
    print(plot(result, args.file, args.out / f"fig04_{args.file.stem}.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.figures.fig04"))
