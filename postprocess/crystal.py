r"""Crystallisation watch: bond-orientational order of the A particles and sudden IS-energy drops.

Long KA runs at T ≲ 0.45 can phase-separate and grow A-rich fcc crystallites (Sect. II of the paper
warns that the 65-particle minimum system must stay a liquid).  Two independent signals are computed
for every run of a campaign:

1. **Local order** (ten Wolde, Ruiz-Montero & Frenkel 1996), computed by
   :func:`pel_hpc.analysis.bond_order.bond_order` (the equations live there, shared with the preparation's
   crystal guard of :mod:`pel_hpc.preparation`): per A particle the q_6m vector of its A neighbours closer
   than ``R_CUT`` (first minimum of g_AA ≈ 1.4 σ), crystal-like bonds d_ij > 0.7, solid-like particles with
   ≥ 7 such bonds, and the global Q_6 (Steinhardt, Nelson & Ronchetti 1983).  A perfect fcc crystal gives
   q6 = 0.5745 and a solid-like fraction of 1; a liquid gives a few per cent, Q_6 ≈ 0.1 for 52 A particles.
2. **Energy drop.**  The IS energy per particle is cut into blocks; the largest drop of the mean after a
   split point relative to the mean before it, over its noise from the block scatter, flags a sudden
   persistent fall (a crystallite lowers e_IS by ≳ 0.1 ε per particle).

A run is flagged when the solid-like fraction of A exceeds ``SOLID_FRACTION_FLAG`` in any sampled frame
or when the drop exceeds both ``DROP_SIGMAS`` standard errors and ``DROP_MIN`` ε per particle.

Command: ``python -m postprocess.crystal RUN.h5 [...] --out DIR`` → ``DIR/crystal.csv`` (one row per run).

References
----------
P. R. ten Wolde, M. J. Ruiz-Montero, D. Frenkel, J. Chem. Phys. 104, 9932 (1996);
P. J. Steinhardt, D. R. Nelson, M. Ronchetti, Phys. Rev. B 28, 784 (1983).
"""
from __future__ import annotations

import argparse
import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import numpy as np

from pel_hpc.analysis.bond_order import R_CUT, SOLID_FRACTION_FLAG, bond_order, crystalline
from pel_hpc.errors import CorruptFileError, DeckError
from pel_hpc.io import layout as L
from pel_hpc.io.reader import written_frames
from postprocess import io as pio
from postprocess.command import positive, run

DROP_SIGMAS = 5.0
DROP_MIN = 0.05


def energy_drop(energy: np.ndarray, n_blocks: int = 10) -> tuple[float, float]:
    """Largest drop of the mean IS energy after a split point [ε per particle], and its standard error.

    The series is cut into ``n_blocks`` blocks; for each split k the drop is mean(before) − mean(after);
    its error is σ_b · sqrt(1/k + 1/(n_blocks − k)), with the block-mean noise σ_b estimated robustly from
    successive block differences (1.4826 · median|Δ| / √2, blind to one step).  Returns (drop, error) at
    the split of largest drop / error; (NaN, NaN), not measured, for fewer than 2 ``n_blocks`` energies.
    """
    energy = np.asarray(energy, float)
    if energy.size < 2 * n_blocks:
        return float("nan"), float("nan")
    means = np.array([b.mean() for b in np.array_split(energy, n_blocks)])
    scatter = max(1.4826 * np.median(np.abs(np.diff(means))) / np.sqrt(2.0), 1e-12)
    k = np.arange(1, n_blocks)
    drops = np.array([means[:s].mean() - means[s:].mean() for s in k])
    errors = scatter * np.sqrt(1.0 / k + 1.0 / (n_blocks - k))
    best = int(np.argmax(drops / errors))
    return float(drops[best]), float(errors[best])


def drop_text(drop: float, err: float) -> str:
    """``energy_drop``'s result as printed: "0.049 ± 0.027", or why there is none."""
    if np.isnan(drop):
        return "not measured (too few IS energies)"
    return f"{drop:.3f} ± {err:.3f}"


@dataclass(frozen=True)
class CrystalWatch:
    """The watch's verdict on one run (replica 0): order in the sampled frames, IS-energy drop, flag."""

    file: str
    run: str
    n_particles: int
    temperature: float
    frames: int
    q6_local: float
    q6_global: float
    solid_fraction_max: float
    solid_fraction_last: float
    e_is_drop: float
    e_is_drop_err: float
    flagged: bool
    reason: str


def sampled_frames(path, n_frames: int, replica: int = 0):
    """(box, species, positions (F, N, 3)) of ≤ ``n_frames`` evenly spaced frames ending with the last one.

    Inherent-structure frames when the file has them (vibrations removed), else MD positions.
    """
    with h5py.File(path, "r") as f:
        box = np.asarray(f[f"{L.box_path(replica)}/{L.EDGES}"][()], float)
        species = f[f"{L.particles_path(replica)}/{L.SPECIES}"][()]
        grp = L.element_path(replica, L.INHERENT_STRUCTURE)
        grp = grp if grp in f else L.element_path(replica, L.POSITION)
        if grp not in f:
            raise DeckError(f"{path}: no positions to watch for crystallisation")
        values = f[f"{grp}/{L.VALUE}"]
        idx = np.unique(np.linspace(0, written_frames(f[grp]) - 1, n_frames).round().astype(int))
        return box, species, values[idx]


def watch_file(path, n_frames: int = 8, r_cut: float = R_CUT, replica: int = 0) -> CrystalWatch:
    """Bond order of the A particles in sampled frames and the IS-energy drop of one replica of a run file."""
    box, species, frames = sampled_frames(path, n_frames, replica)
    orders = [bond_order(x[species == 0], box, r_cut) for x in frames]
    with h5py.File(path, "r") as f:
        temperature = pio.deck_temperature(pio.provenance(f))
    try:
        drop, err = energy_drop(pio.read_inherent_structures(path, replica).energy_per_particle)
    except CorruptFileError:  # runs without quenches have no IS energies: order only
        drop, err = float("nan"), float("nan")
    solid = np.array([o.solid_fraction for o in orders])
    reasons = []
    if crystalline(solid.max()):
        reasons.append(f"solid-like A fraction {solid.max():.2f} > {SOLID_FRACTION_FLAG}")
    if drop > DROP_SIGMAS * err and drop > DROP_MIN:
        reasons.append(f"e_IS drop {drop:.3f} ε > {DROP_SIGMAS:g}σ ({err:.3f})")
    run = pio.replica_stem(path, replica, len(pio.replicas(path)))
    return CrystalWatch(file=str(Path(path).resolve()), run=run, n_particles=int(species.size),
                        temperature=temperature, frames=len(orders), q6_local=orders[-1].q6_local,
                        q6_global=orders[-1].q6_global, solid_fraction_max=float(solid.max()),
                        solid_fraction_last=float(solid[-1]), e_is_drop=drop, e_is_drop_err=err,
                        flagged=bool(reasons), reason="; ".join(reasons) or "liquid")


def write_csv(rows: list, path: Path) -> Path:
    """One row per run, the CrystalWatch fields as columns."""
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(asdict(rows[0])))
        w.writeheader()
        w.writerows(asdict(r) for r in rows)
    return path


def main(argv=None) -> int:
    """``python -m postprocess.crystal RUN.h5 [...] --out DIR [--frames 8] [--r-cut 1.4]`` → ``DIR/crystal.csv``."""
    ap = argparse.ArgumentParser(prog="python -m postprocess.crystal", description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--frames", type=positive(int), default=8, help="frames sampled per run (the last one included)")
    ap.add_argument("--r-cut", type=positive(float), default=R_CUT, help="A-A neighbour distance [sigma]")
    args = ap.parse_args(argv)
    rows = [watch_file(f, args.frames, args.r_cut, r) for f in args.files for r in pio.replicas(f)]
    args.out.mkdir(parents=True, exist_ok=True)
    for r in rows:
        print(f"{r.run}: Q6 {r.q6_global:.3f}, solid-like A {r.solid_fraction_max:.2f}, "
              f"e_IS drop {drop_text(r.e_is_drop, r.e_is_drop_err)} → {'FLAGGED: ' + r.reason if r.flagged else 'liquid'}")
    print(write_csv(rows, args.out / "crystal.csv"))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.crystal"))
