"""The MD side of the finite-size analysis: one (T, N, τα, D) row per MD run, the table Figs. 6–7 read.

``python -m postprocess.finite_size_table RUN.h5 [...] --out DIR [--k 7.25]`` → ``DIR/finite_size.csv``
with the columns ``T, N, tau_alpha, D`` (read by :func:`postprocess.finite_size.read_md_table`) plus
their errors and the source file.  τα = τ0/β Γ(1/β) of a KWW fit of the A-particle F_s(k, t) at ``k``
(default 7.25 σ⁻¹, the first peak of S_AA(k) of the KA liquid); D from the A-particle MSD = 6 D t
over 10–30 % of the run length (:mod:`postprocess.dynamics`, :mod:`postprocess.kww`).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import h5py
import numpy as np

from pel_hpc.io import layout as L
from pel_hpc.errors import DeckError
from postprocess import dynamics, kww
from postprocess import io as pio
from postprocess.command import positive, run

K_DEFAULT = 7.25


def md_row(path, k: float = K_DEFAULT) -> dict:
    """T, N, τα [τ], D [σ²/τ] and errors of one MD run file (A particles; F_s and MSD averaged over replicas)."""
    results = []
    for r in pio.replicas(path):
        traj_t, _, x = pio.read_positions(path, r)
        with h5py.File(path, "r") as f:
            prov = pio.provenance(f)
            select = f[f"{L.particles_path(r)}/{L.SPECIES}"][()] == 0
        dt = float(traj_t[1] - traj_t[0])
        results.append(dynamics.scattering(x, dt, np.array([k]), n_origins=50, select=select))
    time = results[0].time
    fs, msd = np.mean([res.fs[:, 0] for res in results], axis=0), np.mean([res.msd for res in results], axis=0)
    span = float(traj_t[-1] - traj_t[0])
    try:  # both fits need enough of the decay: name the file and its cadence if there is too little
        fit = kww.fit_kww(time, fs)
        d, d_err = dynamics.diffusion_from_msd(time, msd, t_min=0.1 * span, t_max=0.3 * span)
    except DeckError as err:
        raise DeckError(f"'{path}': {err} ({span:g} tau of positions, stored every {dt:g} tau; D is fitted "
                        f"in 10-30 % of it): store positions more often or run longer") from None
    tau_err = fit.tau_alpha * np.hypot(fit.tau0_err / fit.tau0, fit.beta_err / max(fit.beta, 1e-12))
    return {"T": pio.deck_temperature(prov), "N": x.shape[1], "replicas": len(results), "tau_alpha": fit.tau_alpha,
            "tau_alpha_err": tau_err, "beta": fit.beta, "D": d, "D_err": d_err, "file": str(Path(path).resolve())}


def main(argv=None) -> int:
    """Write ``DIR/finite_size.csv`` from the given MD files."""
    ap = argparse.ArgumentParser(prog="python -m postprocess.finite_size_table", description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--k", type=positive(float), default=K_DEFAULT, help="wave vector of F_s for tau_alpha [1/sigma]")
    args = ap.parse_args(argv)
    rows = [md_row(f, args.k) for f in args.files]
    args.out.mkdir(parents=True, exist_ok=True)
    keys = list(rows[0])
    lines = [",".join(keys)] + [",".join(str(r[c]) for c in keys) for r in rows]
    path = args.out / "finite_size.csv"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.finite_size_table"))
