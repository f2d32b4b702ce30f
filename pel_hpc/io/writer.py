"""The run's H5MD output file: create or re-open, append frames and observables collectively.

One :class:`H5MDWriter` per rank, all ranks of the run's (world) communicator together.
Each rank contributes its owned particles of its own replica; every method is collective
and must be called by all ranks at the same step.  See :mod:`pel_hpc.io.layout` for the
file layout and :mod:`pel_hpc.io.h5md` for the collective primitives.
"""
from __future__ import annotations

import numpy as np

from pel_hpc.io import h5md
from pel_hpc.io import layout as L

# elements whose clock is shared (hard-linked) with another element at the same cadence
_CLOCK_PARTNER = {L.IMAGE: L.POSITION}


def enabled_elements(cfg) -> dict[str, int]:
    """Per-particle elements written by a run and their cadences in MD steps."""
    cad = {L.POSITION: cfg.output.positions, L.IMAGE: cfg.output.positions,
           L.VELOCITY: cfg.output.velocities, L.INHERENT_STRUCTURE: cfg.output.is_positions}
    return {name: every for name, every in cad.items() if every > 0}


def enabled_observables(cfg) -> dict[str, int]:
    """Scalar observables written by a run and their cadences in MD steps."""
    obs = {name: cfg.output.thermo for name in L.THERMO_OBSERVABLES} if cfg.output.thermo > 0 else {}
    if cfg.quench.every > 0:
        obs[L.IS_ENERGY] = cfg.quench.every
    return obs


class H5MDWriter:
    """Collective writer of one run's H5MD file.

    Parameters
    ----------
    cfg : RunConfig
        The validated deck (cadences, N, replicas, dt, deck text).
    comm : SerialComm or MPIComm
        The communicator of all ranks that share the file.
    """

    def __init__(self, cfg, comm):
        self.cfg, self.comm = cfg, comm
        self.n, self.replicas, self.dt = cfg.system.n, cfg.ensemble.replicas, cfg.integrator.dt
        self.path = cfg.output.file
        self.elements = enabled_elements(cfg)
        self.observables = enabled_observables(cfg)
        self.dxpl = h5md._dxpl(comm)
        self.file = None

    # -- opening -------------------------------------------------------------------------
    def create(self, box, parts: dict) -> "H5MDWriter":
        """Create the file with every group, the box and ``species`` (``parts[replica] = (tags, species)``)."""
        self.file = f = h5md.open_h5(self.path, "w", self.comm)
        commit = self.comm.bcast(h5md.git_commit() if self.comm.rank == 0 else None)
        h5md.write_header(f, self.cfg.deck_text, self.comm.size, self.replicas, commit)
        for r in range(self.replicas):
            h5md.write_box(f, r, box)
            f.require_group(L.particles_path(r)).create_dataset(L.SPECIES, shape=(self.n,), dtype=np.int32)
            f.require_group(L.particles_path(r)).create_dataset(L.MASS, data=np.ones(self.n))
            self._create_series(f, r)
        self._write_per_replica(lambda r: f[f"{L.particles_path(r)}/{L.SPECIES}"], None, parts)
        f.flush()
        return self

    def _create_series(self, f, r: int) -> None:
        for name, every in self.elements.items():
            dtype = L.PARTICLE_ELEMENTS[name][0]
            partner = _CLOCK_PARTNER.get(name)
            linked = L.element_path(r, partner) if partner in self.elements else None
            h5md.create_series(f, L.element_path(r, name), (self.n, 3), dtype, h5md.ELEMENT_UNITS[name], linked)
        first = None
        for name in self.observables:
            linked = first if name in L.THERMO_OBSERVABLES else None
            group = h5md.create_series(f, L.observable_path(r, name), (), np.float64,
                                       h5md.OBSERVABLE_UNITS[name], linked)
            group[L.VALUE].attrs[L.ATTR_PER_PARTICLE] = name in h5md.PER_PARTICLE
            if name in L.THERMO_OBSERVABLES and first is None:
                first = L.observable_path(r, name)

    def reopen(self, step: int) -> "H5MDWriter":
        """Open an existing file for appending and drop every frame after ``step`` (restart)."""
        self.file = f = h5md.open_h5(self.path, "r+", self.comm)
        for path in self._series_paths():
            steps = f[f"{path}/{L.STEP}"][...]
            keep = int(np.searchsorted(steps, step, side="right"))
            for member in (L.STEP, L.TIME, L.VALUE):
                if f[f"{path}/{member}"].shape[0] != keep:
                    f[f"{path}/{member}"].resize(keep, axis=0)
        f.flush()
        return self

    def _series_paths(self) -> list[str]:
        paths = [L.element_path(r, name) for r in range(self.replicas) for name in self.elements]
        paths += [L.observable_path(r, name) for r in range(self.replicas) for name in self.observables]
        return paths

    # -- appending -----------------------------------------------------------------------
    def _frame(self, path: str, step: int) -> int:
        """Index of ``step`` in the series' clock, appending it (once per shared clock)."""
        group = self.file[path]
        steps = group[L.STEP]
        k = steps.shape[0]
        if k > 0 and steps[k - 1] == step:
            return k - 1
        steps.resize(k + 1, axis=0)
        group[L.TIME].resize(k + 1, axis=0)
        rows = np.array([k]) if self.comm.rank == 0 else np.zeros(0, np.int64)
        h5md.write_rows(steps, None, rows, np.array([step])[: len(rows)], self.dxpl)
        h5md.write_rows(group[L.TIME], None, rows, np.array([step * self.dt])[: len(rows)], self.dxpl)
        return k

    def _write_per_replica(self, dset_of, frame_of, parts: dict) -> None:
        """Collective write into every replica's dataset; ``parts[r] = (tags, values)`` are this rank's rows."""
        for r in range(self.replicas):
            dset = dset_of(r)
            frame = None if frame_of is None else frame_of(r)
            if frame is not None and dset.shape[0] <= frame:
                dset.resize(frame + 1, axis=0)
            tags, values = parts.get(r, (np.zeros(0, np.int64), np.zeros((0,) + dset.shape[2:])))
            order = np.argsort(tags, kind="stable")
            h5md.write_rows(dset, frame, np.asarray(tags)[order], np.asarray(values)[order], self.dxpl)

    def append_particles(self, element: str, step: int, parts: dict) -> None:
        """Append one frame of a per-particle element; ``parts[replica] = (tags, values)`` of this rank."""
        frames = {r: self._frame(L.element_path(r, element), step) for r in range(self.replicas)}
        self._write_per_replica(lambda r: self.file[f"{L.element_path(r, element)}/{L.VALUE}"],
                                frames.__getitem__, parts)

    def append_observables(self, step: int, values: dict) -> None:
        """Append scalar observables; ``values[replica] = {name: value}`` for the replicas this rank leads."""
        names = sorted({name for row in values.values() for name in row})
        names = self.comm.bcast(names) if self.comm.size > 1 else names
        for name in [n for n in self.observables if n in names]:
            for r in range(self.replicas):
                frame = self._frame(L.observable_path(r, name), step)
                dset = self.file[f"{L.observable_path(r, name)}/{L.VALUE}"]
                if dset.shape[0] <= frame:
                    dset.resize(frame + 1, axis=0)
                mine = r in values
                rows = np.array([frame]) if mine else np.zeros(0, np.int64)
                val = np.array([values[r][name]]) if mine else np.zeros(0)
                h5md.write_rows(dset, None, rows, val, self.dxpl)

    def flush(self) -> None:
        """Flush HDF5 buffers to disk (collective); called before every checkpoint."""
        self.file.flush()

    def close(self) -> None:
        """Close the file (collective)."""
        if self.file is not None:
            self.file.close()
            self.file = None
