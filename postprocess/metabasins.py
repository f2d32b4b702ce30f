"""Metabasins (MBs) from an inherent-structure (IS) trajectory, after Doliwa & Heuer.

Rule (Sect. II of the paper, "removing the complete forward–backward correlations"):

1. *Distinct IS.*  Two IS frames are the same IS when their energies differ by at most
   ``energy_tol`` (single-linkage on the sorted energies, O(n log n)); when IS positions are given,
   frames of one energy class whose largest particle displacement from the class's first frame
   exceeds ``distance_tol`` [σ] are split off as different IS.  ``energy_tol`` (default
   ``ENERGY_TOL`` = 1e-9 ε in *total* energy) must be far above the scatter of re-quenched energies
   (the minimiser stops at |F| < 1e-8 ε/σ; re-quenches of one IS in our N = 65 MD at T = 0.6 agree
   to 6e-14 ε, i.e. round-off) and far below the spacing of distinct IS (≳ 1e-5 ε seen for N = 65).
   It must also stay small because single linkage over 10⁵–10⁷ frames makes accidental coincidences
   of distinct IS (which would merge everything between them into one MB) likely at 1e-6 ε: store IS
   positions to confirm identity when in doubt.
2. *Intervals.*  Every IS gets the interval [first visit, last visit] (frame indices).
3. *Merging.*  Overlapping intervals are merged; each maximal merged interval is one MB.  Its energy
   is the lowest IS energy in it, its representative frame the first frame showing that IS.
4. *Waiting time.*  An MB spanning frames s…e (inclusive) lasts from time[s] to time[e+1] (the first
   frame of the next MB); the sum of all waiting times is the run length covered.
5. *Ends.*  The first MB (entered before the run started) and the last MB (still open when the run
   stops) are not completed waiting times: ``complete`` is False for them and they are excluded from
   waiting-time statistics (:mod:`postprocess.mb_stats`).  The last MB's duration is censored at
   time[-1] + the frame spacing.

Implementation: ``reach[t] = max_{t'≤t} last[label[t']]``; an MB ends at frame t iff reach[t] = t.
Linear after the sort; 10⁷ frames take about a second.

Command: ``python -m postprocess.metabasins FILE.h5 [...] --out DIR`` writes ``DIR/<stem>_mb.h5`` and
``.csv`` (see :func:`main`).

References
----------
Doliwa & Heuer, PRE 67, 030501(R) (2003); Heuer, J. Phys.: Condens. Matter 20, 373101 (2008).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pel_hpc.errors import DeckError
from postprocess.command import nonnegative, run

ENERGY_TOL = 1e-9
"""Default tolerance [ε, total IS energy] under which two IS count as the same (see rule 1)."""


@dataclass(frozen=True)
class Metabasins:
    """An MB trajectory (arrays of length n_mb).

    Attributes
    ----------
    start, stop : int arrays    first and last IS frame index of each MB (inclusive).
    energy : float array        MB energy = lowest IS energy in it [ε].
    frame : int array           first frame showing that lowest IS (MB configuration).
    t_start : float array       time of the first frame [τ].
    waiting_time : float array  t_start of the next MB − t_start [τ] (last one censored).
    complete : bool array       False for the first and the last MB (see module docstring).
    """

    start: np.ndarray
    stop: np.ndarray
    energy: np.ndarray
    frame: np.ndarray
    t_start: np.ndarray
    waiting_time: np.ndarray
    complete: np.ndarray

    def __len__(self) -> int:
        return int(self.start.size)


def label_inherent_structures(energy, energy_tol: float = ENERGY_TOL, positions=None, box=None,
                              distance_tol: float = 0.3) -> np.ndarray:
    """Label IS frames: equal label ⇔ same inherent structure (see rule 1 of the module docstring).

    Parameters
    ----------
    energy : (n,) float      IS energies [ε].
    energy_tol : float       energies within this (single linkage) are the same IS [ε].
    positions : (n, N, 3), optional  IS positions [σ] to confirm identity; ``box`` (3,) for minimum image.
    distance_tol : float     max particle displacement within one IS [σ].
    """
    energy = np.asarray(energy, dtype=float)
    if energy.ndim != 1 or not np.all(np.isfinite(energy)):
        raise DeckError("IS energies must be a finite 1-d array")
    order = np.argsort(energy, kind="stable")
    new_class = np.concatenate([[True], np.diff(energy[order]) > energy_tol])
    labels = np.empty(energy.size, dtype=np.int64)
    labels[order] = np.cumsum(new_class) - 1
    if positions is not None:
        labels = _split_by_distance(labels, np.asarray(positions, float), box, distance_tol)
    return labels


def _split_by_distance(labels, positions, box, distance_tol):
    """Split energy classes into configurations within ``distance_tol`` of a reference frame.

    Each round takes, per still-unassigned energy class, its first unassigned frame as reference and
    assigns every frame of that class within ``distance_tol`` (max particle displacement) to it.
    """
    final = np.full(labels.size, -1, dtype=np.int64)
    box = None if box is None else np.asarray(box, float)
    n_assigned = 0
    while np.any(final < 0):
        idx = np.flatnonzero(final < 0)
        _, first, inverse = np.unique(labels[idx], return_index=True, return_inverse=True)
        d = positions[idx] - positions[idx[first[inverse]]]
        if box is not None:
            d -= box * np.round(d / box)
        near = np.sqrt(np.max(np.sum(d * d, axis=-1), axis=-1)) <= distance_tol
        final[idx[near]] = n_assigned + inverse[near]
        n_assigned += first.size
    return np.unique(final, return_inverse=True)[1]


def metabasin_boundaries(labels) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop frames (inclusive) of the MBs: merged [first, last] visit intervals."""
    labels = np.asarray(labels, dtype=np.int64)
    n = labels.size
    last = np.zeros(labels.max() + 1, dtype=np.int64)
    last[labels] = np.arange(n)  # fancy assignment keeps the last write: the last visit
    reach = np.maximum.accumulate(last[labels])
    stop = np.flatnonzero(reach == np.arange(n))
    start = np.concatenate([[0], stop[:-1] + 1])
    return start, stop


def find_metabasins(energy, time=None, energy_tol: float = ENERGY_TOL, positions=None, box=None,
                    distance_tol: float = 0.3) -> Metabasins:
    """Metabasins of an IS trajectory (Doliwa–Heuer rule, see the module docstring).

    ``time`` (n,) [τ] defaults to the frame index; frames must be equally spaced or at least increasing.
    """
    energy = np.asarray(energy, dtype=float)
    if energy.size < 1:
        raise DeckError("empty IS trajectory")
    time = np.arange(energy.size, dtype=float) if time is None else np.asarray(time, dtype=float)
    if time.shape != energy.shape or np.any(np.diff(time) <= 0):
        raise DeckError("IS times must be strictly increasing and match the energies")
    labels = label_inherent_structures(energy, energy_tol, positions, box, distance_tol)
    start, stop = metabasin_boundaries(labels)
    seg = np.repeat(np.arange(start.size), stop - start + 1)
    order = np.lexsort((np.arange(energy.size), energy, seg))  # by MB, then energy, then frame
    first_in_mb = np.concatenate([[0], np.flatnonzero(np.diff(seg[order])) + 1])
    frame = order[first_in_mb]
    dt_last = time[-1] - time[-2] if time.size > 1 else 1.0
    t_end = np.append(time, time[-1] + dt_last)
    complete = np.ones(start.size, dtype=bool)
    complete[[0, -1]] = False
    return Metabasins(start=start, stop=stop, energy=energy[frame], frame=frame, t_start=time[start],
                      waiting_time=t_end[stop + 1] - time[start], complete=complete)


def main(argv=None) -> int:
    """``python -m postprocess.metabasins FILE.h5 [FILE.h5 ...] --out DIR [--energy-tol X]``.

    Every replica of every file is analysed (one ``<stem>[_rNNN]_mb`` result per replica).
    """
    import argparse
    from pathlib import Path

    from postprocess import io as pio

    ap = argparse.ArgumentParser(prog="python -m postprocess.metabasins", description=main.__doc__)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--energy-tol", type=nonnegative(float), default=ENERGY_TOL)
    args = ap.parse_args(argv)
    out = Path(args.out)
    replicas = {name: pio.replicas(name) for name in args.files}
    trajectories = {(name, r): pio.read_inherent_structures(name, r)  # every input read before any output
                    for name, reps in replicas.items() for r in reps}
    out.mkdir(parents=True, exist_ok=True)
    for name, reps in replicas.items():
        for r in reps:
            traj = trajectories[name, r]
            mbs = find_metabasins(traj.energy_total, traj.time, args.energy_tol)
            pio.write_metabasins(out / (pio.replica_stem(name, r, len(reps)) + "_mb"), mbs, traj, args.energy_tol)
            print(f"{name} replica {r}: {len(mbs)} metabasins -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.metabasins"))
