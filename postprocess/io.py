"""Serial reader of pel_hpc H5MD files → numpy arrays + units + provenance; MB result files.

All group and dataset names come from :mod:`pel_hpc.io.layout` (the only place they are spelled).
Units are LJ units (:mod:`pel_hpc.units`): σ, ε, τ.  A file that is not a pel_hpc H5MD file, or
lacks the requested element, raises :class:`~pel_hpc.errors.CorruptFileError`; a missing file
raises :class:`~pel_hpc.errors.InputFileError`.

IS energies are stored *per particle*; :class:`ISTrajectory` also gives the *total* energy
(× N), the convention of Table I and of :mod:`postprocess.landscape`.

IS positions are stored wrapped and without images.  :func:`read_is_positions` unwraps them
against the MD positions of the same step when those exist (a quench moves no particle by L/2),
otherwise by minimum image between consecutive IS frames.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import yaml

from pel_hpc import units
from pel_hpc.errors import CorruptFileError
from pel_hpc.io.runlock import check_not_running
from pel_hpc.io import layout as L
from pel_hpc.io.h5md import open_h5
from pel_hpc.io.reader import stored, stored_deck, written_frames


@dataclass(frozen=True)
class ISTrajectory:
    """IS energy time series of one replica.

    time [τ], step, energy_per_particle [ε], n_particles, temperature [ε/k_B] (from the deck),
    box (3,) [σ], species (N,), provenance (dict: file, deck, git_commit, package_version).
    """

    time: np.ndarray
    step: np.ndarray
    energy_per_particle: np.ndarray
    n_particles: int
    temperature: float
    box: np.ndarray
    species: np.ndarray
    provenance: dict = field(default_factory=dict)

    @property
    def energy_total(self) -> np.ndarray:
        """Total IS energy of the N-particle system [ε] (Table I convention)."""
        return self.energy_per_particle * self.n_particles


def open_file(path) -> h5py.File:
    """``path`` opened read-only: InputFileError if it does not exist, FileInUseError if a job is writing
    it (its run lock, :mod:`pel_hpc.io.runlock`, or HDF5's file lock), CorruptFileError if HDF5 cannot read it
    (:func:`pel_hpc.io.h5md.open_h5`)."""
    if Path(path).exists():
        check_not_running(path)
    return open_h5(path, "r")


def _get(f: h5py.File, path: str):
    try:
        return f[path]
    except KeyError:
        raise CorruptFileError(f"'{f.filename}' has no '{path}' (not a pel_hpc H5MD file, or not written)") from None


def provenance(f: h5py.File) -> dict:
    """Provenance of a pel_hpc file: file name, deck text, git commit, package version, ranks."""
    out = {"file": str(Path(f.filename).resolve())}
    if L.PARAMETERS in f:
        params = f[L.PARAMETERS]
        if L.DECK in params:
            out["deck"] = stored_deck(f)
        for key in (L.ATTR_GIT_COMMIT, L.ATTR_PACKAGE_VERSION, L.ATTR_N_RANKS):
            if key in params.attrs:
                val = params.attrs[key]
                out[key] = val.decode() if isinstance(val, bytes) else val.item() if hasattr(val, "item") else val
    return out


def deck_temperature(prov: dict) -> float:
    """The thermostat temperature of the deck stored in the file (NaN if absent) [ε/k_B]."""
    try:
        return float(yaml.safe_load(prov["deck"])["integrator"]["temperature"])
    except (KeyError, TypeError, ValueError, yaml.YAMLError):
        return float("nan")


def replicas(path) -> list[int]:
    """Indices of the replicas stored in a run file (``particles/replica_%03d``), ascending."""
    with open_file(path) as f:
        grp = _get(f, L.PARTICLES)
        found = sorted(k for k in range(len(grp)) if L.replica_group(k) in grp)
    if not found:
        raise CorruptFileError(f"'{path}' has no '{L.particles_path(0)}' (not a pel_hpc H5MD file)")
    return found


def replica_stem(path, replica: int, n_replicas: int) -> str:
    """File stem for results of one replica: ``run`` for single-replica files, ``run_r003`` otherwise."""
    stem = Path(path).stem
    return stem if n_replicas == 1 else f"{stem}_r{replica:03d}"


def read_inherent_structures(path, replica: int = 0) -> ISTrajectory:
    """The IS energy trajectory of one replica (``observables/<replica>/inherent_structure_energy``)."""
    with open_file(path) as f:
        species = _get(f, f"{L.particles_path(replica)}/{L.SPECIES}")[()]
        grp = stored(f, L.observable_path(replica, L.IS_ENERGY), "inherent structures",
                     "its run made no quenches (quench.every: 0 in its deck)")
        box = _get(f, f"{L.box_path(replica)}/{L.EDGES}")[()]
        prov = provenance(f)
        prov["replica"] = replica
        n = written_frames(grp)  # a killed, never restarted run leaves preallocated rows unwritten
        return ISTrajectory(time=grp[L.TIME][:n], step=grp[L.STEP][:n], energy_per_particle=grp[L.VALUE][:n],
                            n_particles=int(species.size), temperature=deck_temperature(prov),
                            box=np.asarray(box, float), species=species, provenance=prov)


def read_positions(path, replica: int = 0, frames=slice(None)):
    """Unwrapped MD positions of one replica: (time [τ], step, x (n_frames, N, 3) [σ]).

    ``frames`` (a slice or index array) selects among the written frames."""
    with open_file(path) as f:
        pos = _get(f, L.element_path(replica, L.POSITION))
        img = _get(f, L.element_path(replica, L.IMAGE))
        box = _get(f, f"{L.box_path(replica)}/{L.EDGES}")[()]
        frames = np.arange(written_frames(pos))[frames]
        sel = slice(frames[0], frames[-1] + 1) if frames.size and np.all(np.diff(frames) == 1) else frames
        x = pos[L.VALUE][sel] + img[L.VALUE][sel] * box
        return pos[L.TIME][sel], pos[L.STEP][sel], x


def read_is_positions(path, replica: int = 0):
    """Unwrapped IS positions: (time [τ], step, x (n_frames, N, 3) [σ]) — see the module docstring."""
    with open_file(path) as f:
        box = np.asarray(_get(f, f"{L.box_path(replica)}/{L.EDGES}")[()], float)
        grp = stored(f, L.element_path(replica, L.INHERENT_STRUCTURE), "inherent-structure positions",
                     "its run stored none (output.is_positions: 0 in its deck)")
        n = written_frames(grp)
        t, step, x = grp[L.TIME][:n], grp[L.STEP][:n], grp[L.VALUE][:n]
    try:
        _, md_step, md_x = read_positions(path, replica)
    except CorruptFileError:
        md_step = np.empty(0, dtype=np.int64)
    common = np.isin(step, md_step)
    if common.all():
        ref = md_x[np.searchsorted(md_step, step)]
        return t, step, x + box * np.round((ref - x) / box)
    d = np.diff(x, axis=0)
    d -= box * np.round(d / box)
    return t, step, np.concatenate([x[:1], x[:1] + np.cumsum(d, axis=0)])


def write_metabasins(stem, mbs, traj: ISTrajectory, energy_tol: float) -> tuple[Path, Path]:
    """Write an MB trajectory to ``stem.h5`` (arrays + provenance attrs) and ``stem.csv``."""
    stem = Path(stem)
    h5 = stem.parent / (stem.name + ".h5")  # not with_suffix: "ka65_T0.60_mb" has a dot
    with h5py.File(h5, "w") as f:
        for name in ("start", "stop", "energy", "frame", "t_start", "waiting_time", "complete"):
            f[name] = getattr(mbs, name)
        f["energy"].attrs[L.ATTR_UNIT] = units.ENERGY
        f["waiting_time"].attrs[L.ATTR_UNIT] = units.TIME
        f["t_start"].attrs[L.ATTR_UNIT] = units.TIME
        f.attrs["temperature"] = traj.temperature
        f.attrs["n_particles"] = traj.n_particles
        f.attrs["energy_tol"] = energy_tol
        f.attrs["energy_convention"] = "total IS energy of the N-particle system [epsilon]"
        for key, val in traj.provenance.items():
            f.attrs["source_" + key] = val
    csv = stem.parent / (stem.name + ".csv")
    header = f"# metabasins of {traj.provenance.get('file')} (T={traj.temperature}, energy_tol={energy_tol})\n"
    header += "start,stop,frame,t_start,waiting_time,energy,complete"
    table = np.column_stack([mbs.start, mbs.stop, mbs.frame, mbs.t_start, mbs.waiting_time, mbs.energy, mbs.complete])
    np.savetxt(csv, table, delimiter=",", header=header, comments="", fmt="%.10g")
    return h5, csv


def read_metabasins(path) -> tuple[dict, dict]:
    """Arrays and attributes of a file written by :func:`write_metabasins`."""
    with open_file(path) as f:
        if "waiting_time" not in f:
            raise CorruptFileError(f"'{path}' is not a metabasin file (no 'waiting_time')")
        arrays = {name: f[name][()] for name in f}
        return arrays, dict(f.attrs)
