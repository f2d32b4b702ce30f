r"""Mean-square displacement and incoherent scattering function F_s(k,t), multiple time origins.

.. math:: \mathrm{MSD}(t) = \langle |\mathbf r_i(t_0+t)-\mathbf r_i(t_0)|^2\rangle_{i,t_0},\qquad
          F_s(k,t) = \Big\langle \frac{\sin k r_i}{k r_i}\Big\rangle_{i,t_0},\ r_i = |\mathbf r_i(t_0+t)-\mathbf r_i(t_0)|

The exact spherical average over wave vectors of modulus k is used (no k-vector grid, so any k up
to 400 σ⁻¹ is fine).  Positions must be *unwrapped* [σ]; times in τ.  For the MB trajectory
(Sect. II of the paper) use :func:`metabasin_positions`, which holds each frame at the positions
of its MB's inherent structure.

Time origins: for every lag ℓ (frames) at most ``n_origins`` origins, evenly spaced over the run.
Cost ∝ n_lags · n_origins · N · n_k; 8320 particles, 10⁴ frames, 40 lags, 100 origins, 30 k
values take about a minute on one core (the numba kernel is compiled once and cached).
D from the MSD: slope of MSD = 6Dt over the diffusive tail (:func:`diffusion_from_msd`).

References
----------
Hansen & McDonald, Theory of Simple Liquids, ch. 7; Kob & Andersen, PRE 51, 4626 (1995).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from pel_hpc.errors import DeckError


@njit(cache=True)
def _fs_msd_kernel(pos, lags, origins_per_lag, k, fs, msd):
    """Accumulate F_s(k, lag) and MSD(lag) over particles and origins (one loop nest).

    pos (n_frames, N, 3); lags (n_lags,); origins_per_lag (n_lags, n_max) with −1 padding;
    fs (n_lags, n_k) and msd (n_lags,) are filled with the averages.
    """
    n_part = pos.shape[1]
    for il in range(lags.size):
        lag = lags[il]
        n_used = 0
        for io in range(origins_per_lag.shape[1]):
            t0 = origins_per_lag[il, io]
            if t0 < 0:
                break
            n_used += 1
            for i in range(n_part):
                dx = pos[t0 + lag, i, 0] - pos[t0, i, 0]
                dy = pos[t0 + lag, i, 1] - pos[t0, i, 1]
                dz = pos[t0 + lag, i, 2] - pos[t0, i, 2]
                r2 = dx * dx + dy * dy + dz * dz
                msd[il] += r2
                r = np.sqrt(r2)
                for ik in range(k.size):
                    kr = k[ik] * r
                    fs[il, ik] += np.sin(kr) / kr if kr > 1e-8 else 1.0 - kr * kr / 6.0
        norm = 1.0 / (n_used * n_part)
        msd[il] *= norm
        for ik in range(k.size):
            fs[il, ik] *= norm


@dataclass(frozen=True)
class ScatteringResult:
    """F_s(k,t) and MSD(t): ``time`` (n_lags,) [τ], ``k`` (n_k,) [1/σ], ``fs`` (n_lags, n_k), ``msd`` [σ²]."""

    time: np.ndarray
    k: np.ndarray
    fs: np.ndarray
    msd: np.ndarray


def log_lags(n_frames: int, n_lags: int = 40) -> np.ndarray:
    """Roughly log-spaced unique lags 1 … n_frames−1 (frames)."""
    lags = np.unique(np.round(np.geomspace(1, max(n_frames - 1, 1), n_lags)).astype(np.int64))
    return lags[lags < n_frames]


def _origins(n_frames: int, lags: np.ndarray, n_origins: int) -> np.ndarray:
    table = np.full((lags.size, n_origins), -1, dtype=np.int64)
    for il, lag in enumerate(lags):
        last = n_frames - 1 - lag
        t0 = np.unique(np.round(np.linspace(0, last, min(n_origins, last + 1))).astype(np.int64))
        table[il, : t0.size] = t0
    return table


def scattering(positions, dt: float, k, lags=None, n_origins: int = 100, select=None) -> ScatteringResult:
    """F_s(k,t) and MSD(t) of an unwrapped trajectory with multiple time origins.

    Parameters
    ----------
    positions : (n_frames, N, 3) float   unwrapped positions [σ], equally spaced in time.
    dt : float                           time between frames [τ].
    k : (n_k,) float                     wave-vector moduli [1/σ].
    lags : int array, optional           lags in frames (default :func:`log_lags`).
    n_origins : int                      maximum number of time origins per lag.
    select : bool or int array, optional particles to include (e.g. ``typ == 0`` for A).
    """
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim != 3 or pos.shape[2] != 3 or pos.shape[0] < 2:
        raise DeckError("positions must have shape (n_frames >= 2, N, 3)")
    if select is not None:
        pos = pos[:, select, :]
    pos = np.ascontiguousarray(pos)
    lags = log_lags(pos.shape[0]) if lags is None else np.asarray(lags, dtype=np.int64)
    if lags.min() < 1 or lags.max() >= pos.shape[0]:
        raise DeckError(f"lags must lie in 1..{pos.shape[0] - 1}")
    k = np.atleast_1d(np.asarray(k, dtype=np.float64))
    fs = np.zeros((lags.size, k.size))
    msd = np.zeros(lags.size)
    _fs_msd_kernel(pos, lags, _origins(pos.shape[0], lags, n_origins), k, fs, msd)
    return ScatteringResult(time=lags * float(dt), k=k, fs=fs, msd=msd)


def metabasin_positions(is_positions, frame_of_mb, mb_start, mb_stop) -> np.ndarray:
    """MB trajectory: every frame s…e of an MB gets the IS positions of its representative frame.

    ``is_positions`` (n_frames, N, 3) unwrapped IS positions; ``frame_of_mb``, ``mb_start``,
    ``mb_stop`` as in :class:`postprocess.metabasins.Metabasins` (``frame``, ``start``, ``stop``).
    """
    reps = np.repeat(np.asarray(frame_of_mb), np.asarray(mb_stop) - np.asarray(mb_start) + 1)
    return np.asarray(is_positions)[reps]


def diffusion_from_msd(time, msd, t_min: float, t_max: float = np.inf) -> tuple[float, float]:
    """D from MSD = 6Dt + c fitted for t_min ≤ t ≤ t_max: (D, standard error) [σ²/τ].

    Keep t_max well below the run length (lags near it have few independent origins).
    """
    time, msd = np.asarray(time, float), np.asarray(msd, float)
    sel = (time >= t_min) & (time <= t_max)
    if sel.sum() < 3:
        raise DeckError(f"the MSD fit for D needs at least three lags in [{t_min:g}, {t_max:g}] tau, found {int(sel.sum())}")
    coef, cov = np.polyfit(time[sel], msd[sel], 1, cov="unscaled" if sel.sum() == 3 else True)
    return float(coef[0] / 6.0), float(np.sqrt(abs(cov[0, 0])) / 6.0)
