"""The run's H5MD output file: create or re-open, buffer frames and observables, write them in blocks.

One :class:`H5MDWriter` per rank, all ranks of the run's (world) communicator together.
Each rank contributes its owned particles of each replica its group runs (``parts`` maps
replica → rows; a group may run several); every method is collective and must be called by
all ranks at the same step, whatever the number of replicas of their group.

Rows are kept in memory and written in blocks: when an element's buffer is full
(:func:`pel_hpc.io.plan.block_rows`), and at every :meth:`H5MDWriter.flush` (each
checkpoint, SIGTERM/SIGUSR1, the end of each stage) and at :meth:`H5MDWriter.close`, so a
checkpoint never precedes its rows on disk and a restart rewrites exactly the rows after it.
A block costs one ``alltoall`` per element and one write per dataset and rank
(:mod:`pel_hpc.io.blocks`); rank 0 creates the metadata serially (:meth:`H5MDWriter.create`).
Datasets are preallocated at the deck's row count and never shrunk through the parallel
file: :meth:`~H5MDWriter.close` trims them serially (why: :mod:`pel_hpc.io.plan`).  See
:mod:`pel_hpc.io.layout` for the file layout and :mod:`pel_hpc.io.h5md` for the primitives.
"""
from __future__ import annotations

import gc

import numpy as np

from pel_hpc.io import h5md, plan
from pel_hpc.io import layout as L
from pel_hpc.io.blocks import dense_blocks, tag_bounds
from pel_hpc.io.reader import run_deck_text

# elements whose clock is shared (hard-linked) with another element at the same cadence
_CLOCK_PARTNER = {L.IMAGE: L.POSITION}


def _ensure(dset, need: int) -> None:
    """Extend ``dset`` along its first axis to hold ``need`` rows (a step beyond the deck's plan)."""
    if dset.shape[0] < need:
        dset.resize(max(need, dset.shape[0] + dset.chunks[0]), axis=0)


class _Clock:
    """The ``step``/``time`` pair of one cadence and its number of written rows."""

    def __init__(self, group, n: int = 0):
        self.step, self.time, self.n = group[L.STEP], group[L.TIME], n


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
    """Collective, buffered writer of one run's H5MD file.

    Parameters
    ----------
    cfg : RunConfig
        The validated deck (cadences and stage lengths, N, replicas, dt, deck text).
    comm : SerialComm or MPIComm
        The communicator of all ranks that share the file.
    collective : bool, optional
        MPI-IO transfers; default: the deck's ``output.transfer``.  Collective (the deck
        default): every rank takes part in every block write (two-phase aggregation by
        MPI-IO, what parallel file systems are tuned for).  Independent: after the exchange
        each rank writes its one contiguous hyperslab per dataset and block, and a rank
        without rows does not call at all.  Measured here on a quiet machine both give the
        same bandwidth and a steady I/O share of 3–4 % (64 × N = 65) and 0.4–0.5 % (N = 2080)
        (``benchmarks/bench_io.py``); under heavy oversubscription collective calls cost more.
    """

    def __init__(self, cfg, comm, collective: bool | None = None):
        collective = cfg.output.transfer == "collective" if collective is None else collective
        self.cfg, self.comm, self.collective = cfg, comm, collective
        self.n, self.replicas, self.dt = cfg.system.n, cfg.ensemble.replicas, cfg.integrator.dt
        self.path = cfg.output.file
        self.elements = enabled_elements(cfg)
        self.observables = enabled_observables(cfg)
        self.dxpl = h5md.transfer_plist(comm, collective)
        self.file = None

    def _block(self, element: str) -> int:
        itemsize = np.dtype(L.PARTICLE_ELEMENTS[element][0]).itemsize
        return plan.block_rows(self.replicas * self.n * 3 * itemsize)

    def _put(self, dset, start: tuple, data) -> None:
        """Write ``data`` at ``start``: every rank takes part if collective, only holders if independent."""
        if self.collective or (data is not None and np.size(data)):
            h5md.write_block(dset, start, data, self.dxpl)

    # -- opening -------------------------------------------------------------------------
    def create(self, box, parts: dict, replace: bool = False) -> "H5MDWriter":
        """Create the file with every group, the box and ``species`` (``parts[replica] = (tags, species)``).

        Rank 0 creates every group, dataset and attribute serially (chunks allocated at
        creation), then all ranks open the file together and write ``species``: the
        metadata costs no collective operations.  An existing file is replaced only with
        ``replace`` and only if no other process holds it (:func:`pel_hpc.io.h5md.create_file`).
        """
        if self.comm.rank == 0:
            with h5md.create_file(self.path, replace) as f:
                h5md.write_header(f, self.cfg.deck_text, self.comm.size, self.replicas, h5md.git_commit())
                for r in range(self.replicas):
                    h5md.write_box(f, r, box)
                    group = f.require_group(L.particles_path(r))
                    group.create_dataset(L.SPECIES, shape=(self.n,), dtype=np.int32, dcpl=h5md.allocated_early())
                    group.create_dataset(L.MASS, data=np.ones(self.n))
                    self._create_series(f, r)
        self.comm.barrier()
        self.file = f = h5md.open_h5(self.path, "r+", self.comm)
        species = dense_blocks(self.comm, self.n, [parts], self.replicas, (), np.int32)
        lo = tag_bounds(self.n, self.comm.size)[self.comm.rank]
        for r in range(self.replicas):
            self._put(f[f"{L.particles_path(r)}/{L.SPECIES}"], (lo,), species[r][0])
        return self._cache({})

    def _create_series(self, f, r: int) -> None:
        for name, every in self.elements.items():
            partner = _CLOCK_PARTNER.get(name)
            linked = L.element_path(r, partner) if partner in self.elements else None
            rows, dtype = plan.rows_of(self.cfg, every), L.PARTICLE_ELEMENTS[name][0]
            chunk = plan.chunk_rows(self.n * 3 * np.dtype(dtype).itemsize, rows)
            h5md.create_series(f, L.element_path(r, name), (self.n, 3), dtype, h5md.ELEMENT_UNITS[name],
                               linked, rows, chunk)
        first = None
        for name, every in self.observables.items():
            linked = first if name in L.THERMO_OBSERVABLES else None
            group = h5md.create_series(f, L.observable_path(r, name), (), np.float64,
                                       h5md.OBSERVABLE_UNITS[name], linked, plan.rows_of(self.cfg, every))
            group[L.VALUE].attrs[L.ATTR_PER_PARTICLE] = name in h5md.PER_PARTICLE
            if name in L.THERMO_OBSERVABLES and first is None:
                first = L.observable_path(r, name)

    def reopen(self, step: int) -> "H5MDWriter":
        """Open an existing file for appending after ``step`` (restart): later rows are rewritten.

        Rows after ``step`` (written after the last checkpoint, or preallocated) stay until
        the continued run overwrites them; datasets are extended to the deck's row count.  A deck
        that differs from the run's last one (longer stages, ...) is recorded
        (:func:`~pel_hpc.io.h5md.record_restart_deck`).
        """
        self.file = f = h5md.open_h5(self.path, "r+", self.comm)
        if run_deck_text(f) != self.cfg.deck_text:  # a permitted change (pel_hpc.deck.restart): keep it
            h5md.record_restart_deck(f, step, self.cfg.deck_text)
        keep = {}
        for path, every in self._series().items():
            steps = f[f"{path}/{L.STEP}"][...]
            keep[path] = int(np.searchsorted(steps, step, side="right"))
            for member in (L.STEP, L.TIME, L.VALUE):
                if f[path][member].shape[0] < plan.rows_of(self.cfg, every):
                    f[path][member].resize(plan.rows_of(self.cfg, every), axis=0)
        f.flush()
        return self._cache(keep)

    def _series(self) -> dict[str, int]:
        """Every time series of the file and its cadence."""
        out = {L.element_path(r, name): every for r in range(self.replicas) for name, every in self.elements.items()}
        out.update({L.observable_path(r, name): every for r in range(self.replicas)
                    for name, every in self.observables.items()})
        return out

    def _cache(self, written: dict) -> "H5MDWriter":
        """Dataset handles, clocks and written-row counts in memory (no lookups or reads per write)."""
        self.values, self.clocks, self.written, by_step_id = {}, {}, {}, {}
        for path in self._series():
            group = self.file[path]
            self.written[path] = written.get(path, 0)
            clock = by_step_id.setdefault(group[L.STEP].id, _Clock(group, self.written[path]))
            self.values[path], self.clocks[path] = group[L.VALUE], clock
        self.frames: dict[str, list] = {}
        self.pending: dict[tuple, list] = {}  # observable names -> [(step, {replica: {name: value}})]
        return self

    # -- buffering -----------------------------------------------------------------------
    def append_particles(self, element: str, step: int, parts: dict) -> None:
        """Buffer one frame of a per-particle element; ``parts[replica] = (tags, values)`` of this rank."""
        frame = {r: (np.array(tags, np.int64), np.array(values)) for r, (tags, values) in parts.items()}
        buffer = self.frames.setdefault(element, [])
        buffer.append((step, frame))
        if len(buffer) >= self._block(element):
            self._write_frames(element)

    def append_observables(self, step: int, values: dict, names=None) -> None:
        """Buffer scalar observables; ``values[replica] = {name: value}`` on the ranks that lead a replica.

        Every rank calls this at the same steps with the same ``names`` (collective
        contract; without ``names`` they are broadcast from rank 0's ``values``).
        """
        if names is None:
            names = sorted({name for row in values.values() for name in row})
            names = self.comm.bcast(names) if self.comm.size > 1 else names
        key = tuple(names)
        queue = self.pending.setdefault(key, [])
        queue.append((step, values))  # split by name only when written
        if len(queue) >= plan.OBSERVABLE_BLOCK:
            self._write_observables(key)

    # -- block writes --------------------------------------------------------------------
    def _rows(self, path: str, steps: list) -> int:
        """First row of ``steps`` in the series ``path``; appends them to its clock unless a
        series sharing the clock already did (rank 0 writes the clock rows)."""
        clock, k = self.clocks[path], self.written[path]
        new = steps[clock.n - k:] if clock.n > k else steps
        if new:
            start = clock.n
            for dset, column in ((clock.step, np.array(new, np.int64)), (clock.time, np.array(new) * self.dt)):
                _ensure(dset, start + len(new))
                self._put(dset, (start,), column if self.comm.rank == 0 else None)
            clock.n = start + len(new)
        self.written[path] = k + len(steps)
        return k

    def _write_frames(self, element: str) -> None:
        """Write an element's buffered frames: one collective write per replica's ``value``."""
        buffer = self.frames.pop(element, [])
        if not buffer:
            return
        steps = [step for step, _ in buffer]
        dtype = np.dtype(L.PARTICLE_ELEMENTS[element][0])
        blocks = dense_blocks(self.comm, self.n, [frame for _, frame in buffer], self.replicas, (3,), dtype)
        lo = tag_bounds(self.n, self.comm.size)[self.comm.rank]
        for r in range(self.replicas):
            path = L.element_path(r, element)
            first = self._rows(path, steps)
            _ensure(self.values[path], first + len(steps))
            self._put(self.values[path], (first, lo), blocks[r])

    def _write_observables(self, names: tuple) -> None:
        """Write the rows buffered for ``names``: one write per observable and replica's ``value``."""
        queue = self.pending.pop(names, [])
        steps = [step for step, _ in queue]
        for name in (n for n in names if n in self.observables and queue):
            for r in range(self.replicas):
                path = L.observable_path(r, name)
                first = self._rows(path, steps)
                _ensure(self.values[path], first + len(steps))
                held = [values[r][name] for _, values in queue if r in values]
                data = np.array(held, np.float64) if len(held) == len(queue) else None
                self._put(self.values[path], (first,), data)

    def flush_observables(self) -> None:
        """Write every buffered observable row (collective)."""
        for names in sorted(self.pending):
            self._write_observables(names)

    def flush(self) -> None:
        """Write every buffered row and flush HDF5 buffers to disk (collective); before every checkpoint.

        Replica groups with less work (fewer replicas) arrive first and wait here asleep, not
        spinning in MPI (:meth:`~pel_hpc.parallel.comm.MPIComm.idle_barrier`)."""
        self.comm.idle_barrier()
        for element in sorted(self.frames):
            self._write_frames(element)
        self.flush_observables()
        self.file.flush()

    def close(self) -> None:
        """Write buffered rows, close the file, then drop unused preallocated rows (collective).

        The trim is done by rank 0 on the closed file, opened serially: shrinking under mpio
        can lose rows or hang the close (see :mod:`pel_hpc.io.plan`).
        """
        if self.file is None:
            return
        self.flush()
        lengths = {path: (self.clocks[path].n, self.written[path]) for path in self._series()}
        excess = any(self.clocks[path].step.shape[0] != n_clock or self.values[path].shape[0] != n
                     for path, (n_clock, n) in lengths.items())
        self.file.close()
        self.file = None
        if excess and self.comm.rank == 0:
            trim(self.path, lengths)
        self.comm.barrier()

    def abandon(self) -> None:
        """Close the file after a failed write, without flushing again (it would fail again)."""
        if self.file is None:
            return
        self.values, self.clocks = {}, {}  # no dataset handle may outlive the file
        try:
            self.file.close()
        except Exception:  # noqa: BLE001 - the write error is already being reported
            pass
        self.file = None
        gc.collect()


def trim(path, lengths: dict) -> None:
    """Shrink the time series ``{group path: (clock rows, value rows)}`` of the closed file ``path``."""
    with h5md.open_h5(path, "r+") as f:
        for series, (clock_rows, rows) in lengths.items():
            for member, n in ((L.STEP, clock_rows), (L.TIME, clock_rows), (L.VALUE, rows)):
                if f[series][member].shape[0] != n:
                    f[series][member].resize(n, axis=0)
