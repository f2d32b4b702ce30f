r"""Fit of the PEL parameters of Table I (σ, e0, e_cut, λ, e_c, κ, Γ0, V0, σ_γ) from MB trajectories.

Steps (Sect. II of the paper; conventions, including the sign s of the entropic term, in
:mod:`postprocess.landscape`):

1. G(e): truncated-Gaussian likelihood of the time-weighted MB energies at all temperatures
   (:func:`postprocess.mb_stats.fit_dos`) → e0, σ, e_cut.
2. Γ(e) ≡ 1/⟨τ(e)⟩ in energy bins at every temperature, fitted by weighted least squares to eq. (1):

   .. math:: \ln\Gamma(e,\beta) = \ln\Gamma_0 - \beta V_0 + \lambda(\beta + s\kappa k_{entro})\min(e-e_c, 0),
             \qquad k_{entro} = (e_0-e_c)/\sigma^2

   with e0, σ from step 1.  λ and κ are separable only with ≥ 2 temperatures; V0 only with ≥ 2
   temperatures *and* ``fit_v0=True`` — otherwise V0 = 0 is absorbed into Γ0 (the Table I choice).
3. σ_γ from eq. (3), pooled (:func:`postprocess.mb_stats.sigma_gamma`), averaged over temperatures.

Errors are 1-σ from the least-squares Jacobian, scaled by √(χ²/dof) when that exceeds 1.
The crossover e_c is only measured inside the sampled energies: the fit keeps it between e_cut and
the highest binned MB energy.  Data without a visible e-dependence of Γ (a short run, a narrow
energy range) would otherwise send e_c off to ±10⁴ with λ growing to match; a fit that ends on
such a bound reports the parameter as not determined (``PELFit.undetermined``, error NaN, a line in
``table1.csv``) instead of a number with a meaningless error.

Time resolution: an MB shorter than the quench interval Δt_q is invisible (merged into its
neighbours), so ⟨τ(e)⟩ cannot fall below ≈ Δt_q and the liquid-like plateau Γ0 is only measured
when 1/Γ0 ≫ Δt_q (our N = 65 runs: the plateau ln⟨τ⟩ sits near ln Δt_q + 0.4 for Δt_q = 0.25 τ and
0.5 τ, resolution-limited; with Δt_q = 0.05 τ it reaches ≈ −1.6, Γ0 ≈ 5/τ: quench every ≤ 10 steps).  :func:`sets_from_files` reports the
fraction of MBs lasting at most two quench intervals.

Command: ``python -m postprocess.pel_fit RUN.h5 [RUN.h5 ...] --out DIR`` (our MD files, one per
temperature; MBs are found on the fly) → ``DIR/table1.csv`` (also printed).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from pel_hpc.errors import DeckError
from postprocess.landscape import ENTROPIC_SIGN, PELParameters
from postprocess.metabasins import ENERGY_TOL
from postprocess.mb_stats import BinnedWaitingTimes, bin_waiting_times, fit_dos, sigma_gamma
from postprocess.command import nonnegative, positive, run

TABLE_COLUMNS = ("sigma", "lam", "e_c", "kappa", "gamma0", "e_cut", "sigma_gamma", "e0", "v0")


@dataclass(frozen=True)
class PELFit:
    """Fitted PEL parameters with 1-σ errors (``errors`` maps a field name to its error)."""

    params: PELParameters
    errors: dict = field(default_factory=dict)
    chi2_dof: float = float("nan")
    n_points: int = 0
    undetermined: tuple = ()  # fit parameters that ended on a bound of their range (errors NaN)

    def table_rows(self):
        """[(name, value, error)] in Table I order (σ, λ, e_c, κ, Γ0, e_cut, σ_γ, then e0, V0)."""
        return [(c, getattr(self.params, c), self.errors.get(c, float("nan"))) for c in TABLE_COLUMNS]


def _log_rate_model(theta, e, beta, e0, sigma, sign, fit_v0):
    log_g0, lam, e_c, kappa = theta[:4]
    v0 = theta[4] if fit_v0 else 0.0
    k = (e0 - e_c) / sigma**2
    return log_g0 - beta * v0 + lam * (beta + sign * kappa * k) * np.minimum(e - e_c, 0.0)


THETA_NAMES = ("gamma0", "lam", "e_c", "kappa", "v0")


def fit_escape_rate(binned: list[BinnedWaitingTimes], e0: float, sigma: float,
                    sign: int = ENTROPIC_SIGN, fit_v0: bool = False, guess=None, e_cut: float = -np.inf):
    """Weighted least-squares fit of ln(1/⟨τ(e)⟩) to eq. (1) over all temperatures.

    Returns (theta, errors, chi2_dof, undetermined) with theta = (ln Γ0, λ, e_c, κ[, V0]) and
    ``undetermined`` the names (:data:`THETA_NAMES`) of parameters that ended on a bound, whose errors
    are NaN: e_c is kept in (e_cut, highest bin energy] (module docstring).  The default start is
    Table I relative to the fitted DOS: e_c = e0 − 4.1σ, λ = κ = 0.5, ln Γ0 = max ln(1/⟨τ⟩).
    """
    if len(binned) < 2:
        raise DeckError("the Γ(e) fit needs MB data at two or more temperatures (λ and κ are degenerate at one)")
    e = np.concatenate([b.mean_energy for b in binned])
    beta = np.concatenate([np.full(b.centre.size, b.beta) for b in binned])
    y = -np.log(np.concatenate([b.mean_tau for b in binned]))
    err = np.concatenate([b.log_tau_err for b in binned])
    ok = np.isfinite(y) & np.isfinite(err)
    e, beta, y, err = e[ok], beta[ok], y[ok], err[ok]
    # a bin whose MBs all lasted the same number of quench intervals has zero spread: weight it
    # like the best-determined bin instead of dividing by zero (waiting times are quantised)
    positive = err > 0
    if not positive.any():
        raise DeckError("the Γ(e) fit has no energy bin with a finite waiting-time spread")
    err = np.where(positive, err, err[positive].min())
    if guess is None:
        guess = (float(np.max(y)), 0.5, e0 - 4.1 * sigma, 0.5, 0.0)
    x0 = np.asarray(guess[: 5 if fit_v0 else 4], float)
    lower, upper = np.full(x0.size, -np.inf), np.full(x0.size, np.inf)
    lower[2] = e_cut + 1e-6 * sigma  # PELParameters needs e_cut < e_c strictly
    upper[2] = max(float(e.max()), lower[2] + 1e-6 * sigma)
    x0[2] = np.clip(x0[2], lower[2], upper[2])

    def resid(theta):
        return (_log_rate_model(theta, e, beta, e0, sigma, sign, fit_v0) - y) / err

    res = optimize.least_squares(resid, x0, bounds=(lower, upper), method="trf", x_scale="jac")
    dof = max(y.size - x0.size, 1)
    chi2_dof = float(np.sum(res.fun**2) / dof)
    cov = np.linalg.pinv(res.jac.T @ res.jac) * max(chi2_dof, 1.0)
    errors = np.sqrt(np.diag(cov))
    errors[res.active_mask != 0] = np.nan
    return res.x, errors, chi2_dof, tuple(THETA_NAMES[k] for k in np.flatnonzero(res.active_mask))


def fit_pel(sets, edges, sign: int = ENTROPIC_SIGN, fit_v0: bool = False, e_cut=None,
            min_count: int = 20) -> PELFit:
    """Table I from completed MBs at several temperatures.

    ``sets`` is a list of (beta, energy, tau): 1/T, MB energies [ε] and waiting times [τ].
    """
    betas = [float(b) for b, _, _ in sets]
    dos = fit_dos([e for _, e, _ in sets], [t for _, _, t in sets], betas, e_cut)
    binned = [bin_waiting_times(e, t, b, edges, min_count) for b, e, t in sets]
    theta, theta_err, chi2, undetermined = fit_escape_rate(binned, dos.e0, dos.sigma, sign, fit_v0,
                                                           e_cut=dos.e_cut)
    sg = [sigma_gamma(e, t, b, edges, min_count) for b, e, t in sets]
    sg_val = float(np.mean([v for v, _ in sg]))
    sg_err = float(np.std([v for v, _ in sg]) / np.sqrt(len(sg)) + np.mean([s for _, s in sg]))
    params = PELParameters(sigma=dos.sigma, lam=theta[1], e_c=theta[2], kappa=theta[3], gamma0=np.exp(theta[0]),
                           e_cut=dos.e_cut, sigma_gamma=sg_val, e0=dos.e0,
                           v0=theta[4] if fit_v0 else 0.0, entropic_sign=sign)
    errors = {"sigma": dos.sigma_err, "e0": dos.e0_err, "lam": theta_err[1], "e_c": theta_err[2],
              "kappa": theta_err[3], "gamma0": params.gamma0 * theta_err[0], "sigma_gamma": sg_err}
    if fit_v0:
        errors["v0"] = theta_err[4]
    return PELFit(params=params, errors=errors, chi2_dof=chi2, n_points=int(sum(b.centre.size for b in binned)),
                  undetermined=undetermined)


def sets_from_files(files, energy_tol: float = ENERGY_TOL):
    """[(β, MB energies [ε], waiting times [τ])] of completed MBs, one set per run file; and provenance.

    All replicas of a file (independent trajectories at the file's temperature) are pooled into
    that file's set: each replica contributes its own completed MBs.
    """
    from postprocess import io as pio
    from postprocess.metabasins import find_metabasins

    sets, sources = [], []
    for name in files:
        reps = pio.replicas(name)
        energy, tau = [], []
        for r in reps:
            traj = pio.read_inherent_structures(name, r)
            mbs = find_metabasins(traj.energy_total, traj.time, energy_tol)
            energy.append(mbs.energy[mbs.complete])
            tau.append(mbs.waiting_time[mbs.complete])
        tau = np.concatenate(tau)
        if not tau.size:
            raise DeckError(f"'{name}' has no completed metabasin (one the trajectory has left) in its "
                            f"{traj.time.size} inherent structure(s) per replica: run longer")
        sets.append((1.0 / traj.temperature, np.concatenate(energy), tau))
        dt_q = float(np.median(np.diff(traj.time))) if traj.time.size > 1 else float("nan")
        short = float(np.mean(tau <= 2.0 * dt_q)) if tau.size else float("nan")
        sources.append(f"{traj.provenance['file']} ({len(reps)} replica(s), T={traj.temperature:g}, quench every "
                       f"{dt_q:g} tau, {100 * short:.0f}% of MBs <= 2 quench intervals)")
    return sets, sources


def energy_edges(sets, width: float = 1.0) -> np.ndarray:
    """Bin edges of the given width [ε] covering all MB energies."""
    lo = min(e.min() for _, e, _ in sets)
    hi = max(e.max() for _, e, _ in sets)
    return np.arange(np.floor(lo / width) * width, hi + width, width)


def write_table(fit: PELFit, path, sources) -> None:
    """Table I as CSV (name, value, error) with the sources and sign convention in the header."""
    from pathlib import Path

    lines = [f"# Table I fit from: {'; '.join(sources)}",
             f"# entropic_sign s = {fit.params.entropic_sign} (postprocess.landscape), chi2/dof = {fit.chi2_dof:.3g}, "
             f"{fit.n_points} bins; V0 {'fitted' if 'v0' in fit.errors else 'absorbed into Gamma0'}",
             "name,value,error"]
    if fit.undetermined:
        lines.insert(2, f"# not determined by these data (the fit ended on a bound of its range; error nan): "
                        f"{', '.join(fit.undetermined)}")
    lines += [f"{n},{v:.6g},{e:.3g}" for n, v, e in fit.table_rows()]
    p = fit.params
    lines += [f"e_c-e0,{p.e_c - p.e0:.6g},{np.hypot(fit.errors.get('e_c', np.nan), fit.errors.get('e0', np.nan)):.3g}",
              f"e_cut-e0,{p.e_cut - p.e0:.6g},{fit.errors.get('e0', np.nan):.3g}"]
    Path(path).write_text("\n".join(lines) + "\n")


def fit_command(argv, prog: str, description: str):
    """The command line shared by ``pel_fit`` and ``figures.table1``: parse, fit, write ``table1.csv``.

    Returns (args, out_dir, sets, sources, edges, fit).
    """
    import argparse
    from pathlib import Path

    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--bin-width", type=positive(float), default=1.0)
    ap.add_argument("--sign", type=int, default=ENTROPIC_SIGN, choices=(-1, 1))
    ap.add_argument("--fit-v0", action="store_true")
    ap.add_argument("--energy-tol", type=nonnegative(float), default=ENERGY_TOL)
    ap.add_argument("--min-count", type=positive(int), default=20)
    args = ap.parse_args(argv)
    out = Path(args.out)
    sets, sources = sets_from_files(args.files, args.energy_tol)
    edges = energy_edges(sets, args.bin_width)
    fit = fit_pel(sets, edges, args.sign, args.fit_v0, min_count=args.min_count)
    out.mkdir(parents=True, exist_ok=True)
    write_table(fit, out / "table1.csv", sources)
    return args, out, sets, sources, edges, fit


def main(argv=None) -> int:
    """``python -m postprocess.pel_fit RUN.h5 [RUN.h5 ...] --out DIR [--bin-width W] [--sign ±1] [--fit-v0]``."""
    _, out, *_ = fit_command(argv, "python -m postprocess.pel_fit", main.__doc__)
    print((out / "table1.csv").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.pel_fit"))
