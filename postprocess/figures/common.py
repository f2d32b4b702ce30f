"""Shared pipeline of Figs. 1–3: one MD file (all its replicas pooled) → MBs, MB trajectory, D, a², τα, S0(t), F_s(k,t), KWW.

Everything here is a composition of :mod:`postprocess.metabasins`, :mod:`postprocess.ctrw`,
:mod:`postprocess.dynamics` and :mod:`postprocess.kww`; the figure modules only plot.

MB trajectory positions: each MB is represented by the stored IS configuration (``is_positions``
cadence) of lowest energy inside it; MBs with no stored IS frame inherit the previous MB's
configuration (they do not contribute to a²).  a² is the effective squared jump length
(:func:`postprocess.ctrw.jump_length_squared`, back-and-forth correlations included); the single-jump
value is kept as ``a2_single``.  For Figs. 1–2 store IS positions at every quench.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from pel_hpc.errors import DeckError  # noqa: E402
from postprocess.command import nonnegative
from postprocess import ctrw, dynamics, kww  # noqa: E402
from postprocess import io as pio  # noqa: E402
from postprocess.metabasins import ENERGY_TOL, Metabasins, find_metabasins  # noqa: E402

K_GRID = np.geomspace(1.0, 400.0, 36)


@dataclass(frozen=True)
class TemperatureAnalysis:
    """Results of one run (one temperature); times τ, lengths σ."""

    source: str
    deck_name: str
    temperature: float
    n_particles: int
    n_replicas: int
    waiting_times: np.ndarray  # completed MB waiting times of all replicas [τ]
    a2: float
    a2_single: float
    d_ctrw: float
    d_msd: float
    d_mb: float
    tau_alpha_ctrw: float
    time: np.ndarray
    s0: np.ndarray
    k: np.ndarray
    fs_cont: np.ndarray
    fs_mb: np.ndarray


def footer(analyses) -> str:
    """One line naming the source files and decks of a figure."""
    return "; ".join(f"{Path(a.source).name} (deck {a.deck_name}, T={a.temperature:g})" for a in analyses)


def _deck_name(prov: dict) -> str:
    import yaml

    try:
        return str(yaml.safe_load(prov["deck"])["run"]["name"])
    except (KeyError, TypeError, yaml.YAMLError):
        return "?"


def mb_configurations(mbs: Metabasins, is_step, is_x, quench_step, energy):
    """(n_frames, N, 3) MB trajectory on the quench clock and a mask of MBs with their own IS."""
    stored = np.full(quench_step.size, -1)
    has = np.isin(quench_step, is_step)
    stored[has] = np.searchsorted(is_step, quench_step[has])
    conf = np.full(len(mbs), -1)
    for j, (s, e) in enumerate(zip(mbs.start, mbs.stop)):
        cand = np.flatnonzero(stored[s:e + 1] >= 0) + s
        if cand.size:
            conf[j] = stored[cand[np.argmin(energy[cand])]]
    own = conf >= 0
    if not own.any():
        raise DeckError("no IS positions stored inside any metabasin (set output.is_positions = quench.every)")
    fill = np.maximum.accumulate(np.where(own, np.arange(len(mbs)), -1))  # last MB with a configuration
    fill[fill < 0] = np.flatnonzero(own)[0]
    return is_x[np.repeat(conf[fill], mbs.stop - mbs.start + 1)], own


def _replica_parts(path, replica: int, k, energy_tol: float, n_origins: int):
    """MBs, MB jump statistics and F_s/MSD (continuous and MB trajectory) of one replica."""
    traj = pio.read_inherent_structures(path, replica)
    mbs = find_metabasins(traj.energy_total, traj.time, energy_tol)
    t_md, _, x_md = pio.read_positions(path, replica)
    t_is, step_is, x_is = pio.read_is_positions(path, replica)
    x_mb, own = mb_configurations(mbs, step_is, x_is, traj.step, traj.energy_total)
    a2 = ctrw.jump_length_squared(x_mb[mbs.start[own]])
    dt_md, dt_q = float(t_md[1] - t_md[0]), float(traj.time[1] - traj.time[0])
    cont = dynamics.scattering(x_md, dt_md, k, n_origins=n_origins)
    mb = dynamics.scattering(x_mb, dt_q, k, n_origins=n_origins)
    return traj, mbs, int(own.sum()), a2, cont, mb


def analyse_file(path, k=K_GRID, energy_tol: float = ENERGY_TOL, n_origins: int = 100) -> TemperatureAnalysis:
    """The full Sect. II pipeline for one pel_hpc file (IS energies, positions and IS positions).

    A file with several replicas (independent runs at one temperature) is analysed replica by
    replica and pooled: completed waiting times are concatenated, a² is averaged with the number
    of MB jumps as weight, F_s(k,t) and the MSD are averaged over replicas.
    """
    parts = [_replica_parts(path, r, k, energy_tol, n_origins) for r in pio.replicas(path)]
    traj = parts[0][0]
    done = np.concatenate([p[1].waiting_time[p[1].complete] for p in parts])
    weight = np.array([p[2] for p in parts], float)
    a2_single, a2 = (np.average([p[3][i] for p in parts], weights=weight) for i in (0, 1))
    d_ctrw = ctrw.diffusion_constant(a2, traj.n_particles, float(done.mean()))
    cont_time, mb_time = parts[0][4].time, parts[0][5].time
    cont_msd, cont_fs = (np.mean([getattr(p[4], a) for p in parts], axis=0) for a in ("msd", "fs"))
    mb_msd, mb_fs = (np.mean([getattr(p[5], a) for p in parts], axis=0) for a in ("msd", "fs"))
    t_max = 0.3 * (traj.time[-1] - traj.time[0])
    d_msd = dynamics.diffusion_from_msd(cont_time, cont_msd, t_min=0.1 * t_max, t_max=t_max)[0]
    d_mb = dynamics.diffusion_from_msd(mb_time, mb_msd, t_min=0.1 * t_max, t_max=t_max)[0]
    fs_cont = np.array([np.interp(mb_time, cont_time, cont_fs[:, i]) for i in range(len(k))]).T
    return TemperatureAnalysis(source=str(path), deck_name=_deck_name(traj.provenance), temperature=traj.temperature,
                               n_particles=traj.n_particles, n_replicas=len(parts), waiting_times=done, a2=float(a2),
                               a2_single=float(a2_single), d_ctrw=d_ctrw, d_msd=d_msd, d_mb=d_mb,
                               tau_alpha_ctrw=ctrw.tau_alpha(done), time=mb_time, s0=ctrw.persistence(mb_time, done),
                               k=np.asarray(k, float), fs_cont=fs_cont, fs_mb=mb_fs)


def kww_of(analysis: TemperatureAnalysis, which: str, k_value: float) -> kww.KWWFit:
    """KWW fit of F_s at the grid point nearest ``k_value`` (``which`` = 'mb' or 'cont')."""
    i = int(np.argmin(np.abs(analysis.k - k_value)))
    f = analysis.fs_mb if which == "mb" else analysis.fs_cont
    return kww.fit_kww(analysis.time, f[:, i])


def add_common_arguments(parser) -> None:
    parser.add_argument("files", nargs="+", help="pel_hpc H5MD files (one run per temperature)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--energy-tol", type=nonnegative(float), default=ENERGY_TOL, help="IS identity tolerance [epsilon, total]")
