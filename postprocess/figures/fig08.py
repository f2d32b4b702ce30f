"""Fig. 8: Stokes–Einstein violation, D τα against τα, without coupling, fixed q, and q ∝ ⟨Γ⟩^{1/2}.

``python -m postprocess.figures.fig08 SCAN.h5 --out DIR [--q-ref 0.1]`` → ``fig08.png``, ``fig08.csv``.
D ∝ 1/⟨τ⟩ (CTRW), so D τα ∝ τα/⟨τ⟩.  Solid: analytic q = 0 (``postprocess.ctrw``); points: CLM at
each fixed q of the scan; red: q(T) = q_ref (⟨Γ⟩(T)/⟨Γ⟩(T_max))^{1/2}, with τα(q(T)) from the
τα(0)/(1+c√q) fit of each temperature.  ξ of Dτα ∝ τα^ξ (low-T slope) is given in the legend.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from postprocess import finite_size as fs
from postprocess.clm.observables import stokes_einstein_exponent
from postprocess.ctrw import predicted_mean_tau, predicted_tau_alpha
from postprocess.figures.clm_common import finish, nearest_neighbour_table, parser
from postprocess.command import positive, run


def gamma_scaled_curve(table, q_ref: float):
    """(T, q(T), τα, ⟨τ⟩) for q ∝ ⟨Γ⟩^{1/2} = ⟨τ⟩^{-1/2}, normalised to q_ref at the highest T."""
    temps = np.unique(table["temperature"])
    mean_tau = np.array([table["mean_tau_0"][table["temperature"] == t][0] for t in temps])
    q_t = q_ref * np.sqrt(mean_tau[-1] / mean_tau)
    tau_a = []
    for t, q in zip(temps, q_t):
        rows = table["temperature"] == t
        (t0, c), _ = fs.fit_sqrt_law(table["q"][rows], table["tau_alpha"][rows], table["tau_alpha_err"][rows],
                                     tau_alpha_0=table["tau_alpha_0"][rows][0])
        tau_a.append(fs.sqrt_law(q, t0, c))
    return temps, q_t, np.array(tau_a), mean_tau


def main(argv=None) -> int:
    ap = parser("postprocess.figures.fig08", __doc__)
    ap.add_argument("--q-ref", type=positive(float), default=0.1, help="q at the highest T for the q ∝ <Gamma>^1/2 curve")
    args = ap.parse_args(argv)
    table = nearest_neighbour_table(args.scan)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    temps = np.linspace(table["temperature"].min(), table["temperature"].max(), 50)
    ta0, mt0 = predicted_tau_alpha(1 / temps), predicted_mean_tau(1 / temps)
    ax.loglog(ta0, ta0 / mt0, "k-", label=f"CTRW q=0, xi={stokes_einstein_exponent(ta0[:10], ta0[:10] / mt0[:10]):.2f}")
    cols = []
    for q in np.unique(table["q"]):
        rows = table["q"] == q
        x, y = table["tau_alpha"][rows], table["tau_alpha"][rows] / table["mean_tau"][rows]
        xi = stokes_einstein_exponent(x[:2], y[:2]) if x.size > 1 else np.nan
        ax.loglog(x, y, "o--", ms=4, lw=0.8, label=f"CLM q={q:g}, xi={xi:.2f}")
        cols.append(np.column_stack([np.full(x.size, q), table["temperature"][rows], x, y]))
    t_g, q_g, ta_g, mt_g = gamma_scaled_curve(table, args.q_ref)
    ax.loglog(ta_g, ta_g / mt_g, "r-", label=f"q ~ <Gamma>^1/2, xi={stokes_einstein_exponent(ta_g[:2], ta_g[:2] / mt_g[:2]):.2f}")
    cols.append(np.column_stack([-q_g, t_g, ta_g, ta_g / mt_g]))
    ax.set_xlabel("tau_alpha [tau]")
    ax.set_ylabel("D tau_alpha  (units a^2/6N)")
    ax.legend(fontsize=6)
    data = np.concatenate(cols)
    finish(fig, args.out, "fig08", Path(args.scan).name, "q(negative: q ~ <Gamma>^1/2 curve),T,tau_alpha,D_tau_alpha",
           data.T)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.figures.fig08"))
