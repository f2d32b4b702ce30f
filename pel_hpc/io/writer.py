"""The run's H5MD output file: create or re-open, append frames and observables collectively.

One :class:`H5MDWriter` per rank, all ranks of the run's (world) communicator together.
Each rank contributes its owned particles of each replica its group runs (``parts`` maps
replica → rows; a group may run several); every method is collective and must be called by
all ranks at the same step, whatever the number of replicas of their group.  Rows are exchanged so that every rank
writes one contiguous block of tags (no gather to rank 0).  See :mod:`pel_hpc.io.layout` for the
file layout and :mod:`pel_hpc.io.h5md` for the collective primitives.
"""
from __future__ import annotations

import numpy as np

from pel_hpc.io import h5md
from pel_hpc.io import layout as L

# elements whose clock is shared (hard-linked) with another element at the same cadence
_CLOCK_PARTNER = {L.IMAGE: L.POSITION}
OBSERVABLE_BUFFER = 64  # scalar rows kept in memory at most; flushed at every frame and checkpoint
GROW_FRAMES = 1  # frames added per resize; >1 lost rows written into preallocated space under mpio (HDF5 1.10.8)


def _ensure(dset, need: int) -> None:
    """Grow ``dset`` along its first axis to hold ``need`` rows, in blocks of GROW_FRAMES."""
    if dset.shape[0] < need:
        dset.resize(max(need, dset.shape[0] + GROW_FRAMES), axis=0)


class _Clock:
    """The ``step``/``time`` pair of one cadence, with its length tracked in memory."""

    def __init__(self, group):
        self.step, self.time = group[L.STEP], group[L.TIME]
        self.n = self.step.shape[0]
        self.last = int(self.step[self.n - 1]) if self.n else None


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

    def __init__(self, cfg, comm, collective: bool = True):
        self.cfg, self.comm = cfg, comm
        self.n, self.replicas, self.dt = cfg.system.n, cfg.ensemble.replicas, cfg.integrator.dt
        self.path = cfg.output.file
        self.elements = enabled_elements(cfg)
        self.observables = enabled_observables(cfg)
        self.dxpl = h5md.transfer_plist(comm, collective)
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
        return self._cache()

    def _create_series(self, f, r: int) -> None:
        for name in self.elements:
            partner = _CLOCK_PARTNER.get(name)
            linked = L.element_path(r, partner) if partner in self.elements else None
            h5md.create_series(f, L.element_path(r, name), (self.n, 3), L.PARTICLE_ELEMENTS[name][0],
                               h5md.ELEMENT_UNITS[name], linked)
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
        return self._cache()

    def _series_paths(self) -> list[str]:
        paths = [L.element_path(r, name) for r in range(self.replicas) for name in self.elements]
        paths += [L.observable_path(r, name) for r in range(self.replicas) for name in self.observables]
        return paths

    def _cache(self) -> "H5MDWriter":
        """Dataset handles and clock lengths in memory (no path lookups or reads per write)."""
        self.values, self.clocks, by_step_id = {}, {}, {}
        for path in self._series_paths():
            group = self.file[path]
            key = group[L.STEP].id
            clock = by_step_id.setdefault(key, _Clock(group))
            self.values[path], self.clocks[path] = group[L.VALUE], clock
        self.pending: dict[str, list] = {}
        return self

    # -- appending -----------------------------------------------------------------------
    def _frame(self, path: str, step: int) -> int:
        """Index of ``step`` in the series' clock, appending it (once per shared clock)."""
        return self._frames(path, [step])[0]

    def _frames(self, path: str, steps: list) -> list:
        """Indices of increasing ``steps`` in the series' clock, appending the new ones in one write."""
        clock = self.clocks[path]
        new = [s for s in steps if clock.last is None or s > clock.last]
        k = clock.n
        if new:
            _ensure(clock.step, k + len(new))
            _ensure(clock.time, k + len(new))
            mine = self.comm.rank == 0
            rows = np.arange(k, k + len(new)) if mine else np.zeros(0, np.int64)
            h5md.write_rows(clock.step, None, rows, np.array(new if mine else [], np.int64), self.dxpl)
            h5md.write_rows(clock.time, None, rows, np.array(new if mine else [], np.float64) * self.dt, self.dxpl)
            clock.n, clock.last = k + len(new), new[-1]
        first = k - (len(steps) - len(new))  # already-present steps are the clock's last ones
        return list(range(first, first + len(steps)))

    def _to_blocks(self, parts: dict) -> dict:
        """Move rows so that rank k holds the contiguous tag block [kN/P, (k+1)N/P) of every replica.

        One ``alltoall`` per write: each rank then writes one hyperslab per replica, which
        MPI-IO turns into large contiguous writes (scattered rows would cost one selection
        per run of consecutive tags).
        """
        size = self.comm.size
        if size == 1:
            return parts
        bounds = np.arange(size + 1) * self.n // size
        send = [{} for _ in range(size)]
        for r, (tags, values) in parts.items():
            tags, values = np.asarray(tags), np.asarray(values)
            dest = np.searchsorted(bounds, tags, side="right") - 1
            order = np.argsort(dest, kind="stable")
            for k, idx in enumerate(np.split(order, np.cumsum(np.bincount(dest, minlength=size))[:-1])):
                if len(idx):
                    send[k][r] = (tags[idx], values[idx])
        merged = {}
        for got in self.comm.alltoall(send):
            for r, piece in got.items():
                merged.setdefault(r, []).append(piece)
        return {r: (np.concatenate([t for t, _ in pieces]), np.concatenate([v for _, v in pieces]))
                for r, pieces in merged.items()}

    def _write_per_replica(self, dset_of, frame_of, parts: dict) -> None:
        """Collective write into every replica's dataset; ``parts[r] = (tags, values)`` are this rank's rows."""
        parts = self._to_blocks(parts)
        for r in range(self.replicas):
            dset = dset_of(r)
            frame = None if frame_of is None else frame_of(r)
            if frame is not None:
                _ensure(dset, frame + 1)
            tags, values = parts.get(r, (np.zeros(0, np.int64), np.zeros((0,) + dset.shape[2:])))
            order = np.argsort(tags, kind="stable")
            h5md.write_rows(dset, frame, np.asarray(tags)[order], np.asarray(values)[order], self.dxpl)

    def append_particles(self, element: str, step: int, parts: dict) -> None:
        """Append one frame of a per-particle element; ``parts[replica] = (tags, values)`` of this rank."""
        self.flush_observables()
        paths = {r: L.element_path(r, element) for r in range(self.replicas)}
        frames = {r: self._frame(paths[r], step) for r in range(self.replicas)}
        self._write_per_replica(lambda r: self.values[paths[r]], frames.__getitem__, parts)

    def append_observables(self, step: int, values: dict) -> None:
        """Queue scalar observables; ``values[replica] = {name: value}`` on the ranks that lead a replica.

        Every rank calls this at the same steps with the same names (collective contract);
        rows are written in blocks of at most :data:`OBSERVABLE_BUFFER`, and at every frame,
        :meth:`flush` and :meth:`close`, so a checkpoint never precedes its rows on disk.
        """
        names = sorted({name for row in values.values() for name in row})
        names = self.comm.bcast(names) if self.comm.size > 1 else names
        for name in (n for n in self.observables if n in names):
            for r in range(self.replicas):
                path = L.observable_path(r, name)
                queue = self.pending.setdefault(path, [])
                queue.append((step, values[r][name] if r in values else None))
                if len(queue) >= OBSERVABLE_BUFFER:
                    self.flush_observables()

    def flush_observables(self) -> None:
        """Write every queued observable row (collective)."""
        for path in sorted(self.pending):
            queue = self.pending[path]
            if not queue:
                continue
            frames = self._frames(path, [step for step, _ in queue])
            dset = self.values[path]
            _ensure(dset, frames[-1] + 1)
            held = [(k, v) for k, (_, v) in zip(frames, queue) if v is not None]
            rows = np.array([k for k, _ in held], np.int64)
            h5md.write_rows(dset, None, rows, np.array([v for _, v in held], np.float64), self.dxpl)
            queue.clear()

    def trim(self) -> None:
        """Shrink every time series to its written length (drops the preallocated rows)."""
        for path in self._series_paths():
            clock, value = self.clocks[path], self.values[path]
            for dset in (clock.step, clock.time, value):
                if dset.shape[0] != clock.n:
                    dset.resize(clock.n, axis=0)

    def flush(self) -> None:
        """Write queued rows, trim, and flush HDF5 buffers to disk (collective); before every checkpoint."""
        self.flush_observables()
        self.trim()
        self.file.flush()

    def close(self) -> None:
        """Write queued rows and close the file (collective)."""
        if self.file is not None:
            self.flush_observables()
            self.trim()
            self.file.close()
            self.file = None
