"""Decomposed domain: the :class:`~pel_hpc.md.domain.SerialDomain` interface over a rank grid.

Each rank of the (replica group) communicator owns the particles of one sub-box; ghosts
within :math:`r_h = r_c + r_{skin}` of its faces arrive through the six-swap
:class:`~pel_hpc.parallel.halo.Halo` at pre-shifted coordinates, so the one force kernel
(:mod:`pel_hpc.md.forces`) sees every image as a plain row. At a rebuild
(displacement :math:`\\max|\\Delta x| > r_{skin}/2`, globally reduced) particles are wrapped,
migrated to their owners, sorted by cell, the ghost plan is rebuilt and the full list built
from a non-periodic cell grid covering sub-box plus halo; between rebuilds only ghost
positions travel (forward communication).

Load balancing (``decomposition.balance``): at every rebuild the ranks' compute times since
the previous one (force and list-build kernels, waiting excluded) are gathered and the grid's
cut planes shifted towards equal times (:func:`pel_hpc.parallel.grid.rebalanced`), before the
particles migrate; a rank on a slower core gets a thinner sub-box.  Which rank computes which
particle then depends on timing, hence so do the last bits of a trajectory, except in
reproducible mode, whose trajectories do not depend on the decomposition at all.

Reproducible mode (``decomposition.reproducible``): every neighbour row is sorted by the
partner's global tag, and ghost coordinates come from the same one-addition shift on every
grid, so each particle's force sum is bitwise identical for any rank count; global sums of
per-particle quantities use the exact reduction of :mod:`pel_hpc.parallel.reduction`.

Lengths in [sigma].
"""
from __future__ import annotations

from time import perf_counter

import numpy as np

from pel_hpc.md import neighbors as nb
from pel_hpc.md.box import check_cutoff, wrap
from pel_hpc.md.neighbors import list_is_stale
from pel_hpc.parallel.grid import make_grid, owner_ranks, rebalanced
from pel_hpc.parallel.halo import Halo, exchange
from pel_hpc.parallel.halo_kernels import mark_near_faces, sort_rows_by_tag
from pel_hpc.parallel.reduction import exact_sum
from pel_hpc.state import PER_PARTICLE

_REACH_POWER = 64  # power sums that carry maxima through a sum reduction (DecomposedDomain.sum_and_reach)
_REACH_CAP = 2.0**14  # (2^14)^64 = 2^896: summed over 2^100 ranks still a finite float


class DecomposedDomain:
    """Spatial decomposition over ``comm`` (see the module docstring).

    Parameters
    ----------
    rc_max : largest pair cut-off [sigma]
    skin : Verlet skin [sigma]
    comm : MPIComm or SerialComm of the replica group (a 1×1×1 grid on one rank)
    grid : ``"auto"`` or ``[nx, ny, nz]`` (deck ``decomposition.grid``)
    reproducible : bool (deck ``decomposition.reproducible``)
    balance : bool (deck ``decomposition.balance``): shift the cut planes by measured time
    capacity : initial neighbours per particle (grown on overflow)
    threads : numba threads of the list force kernel and list build (deck ``run.threads``)
    """

    def __init__(self, rc_max: float, skin: float, comm, grid="auto", reproducible: bool = False,
                 balance: bool = False, capacity: int = 64, threads: int = 1):
        self.rc_max, self.skin, self.threads = float(rc_max), float(skin), int(threads)
        self.rlist = self.rc_max + self.skin
        self.comm, self.requested_grid = comm, grid
        self.reproducible, self.balance, self.capacity = bool(reproducible), bool(balance), int(capacity)
        self.busy_time = 0.0  # seconds in force (if balance) and list-build kernels since the last balancing
        self.n_rebuilds = 0
        self.n_interior = 0  # owned rows first in memory whose lists hold no ghost (0: no overlap)
        self._reach_buf = np.empty(3)  # Σ|v|², then the two reach power sums (sum_and_reach)
        self.rebuild_comm_time = 0.0  # seconds in migration and borders at rebuilds (benchmarks)
        self.nlist = np.zeros((0, self.capacity), np.int32)
        self.count = np.zeros(0, np.int32)
        self.count_a = np.zeros(0, np.int32)
        self.x_build = np.zeros((0, 3))
        self.grid = self.halo = None
        self.min_image = False  # the list-free tiny-box kernels are a serial-domain choice

    def copy(self) -> "DecomposedDomain":
        """A fresh domain with the same settings and communicator, not yet set up."""
        return DecomposedDomain(self.rc_max, self.skin, self.comm, self.requested_grid,
                                self.reproducible, self.balance, self.capacity, self.threads)

    def setup(self, state) -> None:
        """Make the grid, keep or migrate the owned particles, build ghosts and lists.

        A state holding all particles on every rank (a replicated start) keeps the owned
        ones; otherwise particles migrate to their owners.
        """
        check_cutoff(self.rc_max, state.box, self.skin)
        self.grid = make_grid(self.comm.rank, self.comm.size, state.box, self.rlist, self.requested_grid)
        self.halo = Halo(self.comm, self.grid, self.rlist)
        state.n_ghost = 0
        replicated = self.comm.size > 1 and self.comm.allreduce_sum(state.n_local) == self.comm.size * state.n_global
        if replicated:
            n = state.n_local
            wrap(state.x, state.image, state.box, n)
            keep = np.flatnonzero(owner_ranks(state.x[:n], self.grid.cuts) == self.comm.rank)
            for name in PER_PARTICLE:
                a = getattr(state, name)
                a[:keep.size] = a[keep]
            state.n_local = keep.size
        self.rebuild(state)

    def refresh(self, state) -> bool:
        """Rebuild if some particle moved more than skin/2 since the build, else forward ghosts."""
        if not self.refresh_check(state):
            self.halo.forward(state.x)
            return False
        self.rebuild(state)
        return True

    def refresh_overlapping(self, state, work, check: bool = True) -> bool:
        """:meth:`refresh`, with ``work(first, last)`` done on every owned row once the ghosts it
        reads are current (e.g. :func:`pel_hpc.md.forces.force_rows`).

        Between rebuilds the rows whose lists hold no ghost (the first :attr:`n_interior`, see
        :meth:`_sort_by_cell`) are worked on while the halo messages are in flight, the others
        after they arrive: the forward communication hides behind the interior forces.  Each row
        is worked on whole, in one call, so the result is bitwise that of ``refresh(state)``
        followed by ``work(0, n_local)``.  ``check=False`` skips the displacement check (and its
        global reduction) when a forecast has proven it false (:meth:`sum_and_reach`)."""
        timed = self._timed(work) if self.balance else work
        if check and self.refresh_check(state):
            self.rebuild(state)
            timed(0, state.n_local)
            return True
        n_in = self.n_interior
        if n_in:
            self.halo.forward(state.x, during=lambda: timed(0, n_in))
            timed(n_in, state.n_local)
        else:
            self.halo.forward(state.x)
            timed(0, state.n_local)
        return False

    def _timed(self, work):
        """``work`` that adds its wall time to :attr:`busy_time` (load balancing only)."""
        def timed(first, last):
            t0 = perf_counter()
            work(first, last)
            self.busy_time += perf_counter() - t0
        return timed

    def refresh_check(self, state) -> bool:
        """The displacement criterion (globally reduced): must the lists be rebuilt?"""
        return list_is_stale(state, self.x_build, self.skin, self.comm)

    def reach(self, state, dt: float):
        """This rank's (max|a + b|, max|b|) of :func:`pel_hpc.md.neighbors.reach_after_drift` for the
        next velocity-Verlet drift of step ``dt`` [tau] from the current x, v, F, or None where no
        forecast is made (no list; reproducible mode, whose exact sums carry no maxima)."""
        if self.min_image or self.reproducible:
            return None
        return nb.reach_after_drift(state.x, self.x_build, state.v, state.f, 0.5 * dt, dt, state.n_local)

    def sum_and_reach(self, values, reach):
        """Global sum of the per-particle ``values`` (n_local,) and, in the same reduction, upper
        bounds on the global maxima of this rank's ``reach`` (two floats) [sigma].

        A sum reduction carries the maxima as power sums: with r = reach/(skin/2) and p = 64,
        max ≤ (Σ_ranks r^p)^{1/p} ≤ P^{1/p} max (1.011 max on 2 ranks, 1.11 on 1000): one
        reduction per NVT step instead of two (the thermostat's 2K and the displacement check).
        The sum is the one of :meth:`sum_per_particle` (same reduction of the same local sum)."""
        h, p = 0.5 * self.skin, _REACH_POWER
        buf = self._reach_buf
        buf[0] = values.sum()
        cap = _REACH_CAP  # a diverging run's reach: still far above 1 (check, not overflow); NaN passes
        buf[1], buf[2] = min(reach[0] / h, cap) ** p, min(reach[1] / h, cap) ** p
        tot = self.comm.allreduce_sum(buf)
        return float(tot[0]), (h * float(tot[1]) ** (1.0 / p), h * float(tot[2]) ** (1.0 / p))

    def clear_of_rebuild(self, displacement_bound: float) -> bool:
        """Does a bound on every particle's displacement since the build [sigma] prove the next
        displacement check false?  A relative margin of 10^-6 covers the rounding of the forecast,
        so the rebuild decisions are exactly those of the check."""
        return displacement_bound < (1.0 - 1e-6) * 0.5 * self.skin

    def rebuild(self, state) -> None:
        """Wrap, migrate, sort by cell, rebuild the ghost plan and the neighbour list."""
        n = state.n_local
        wrap(state.x, state.image, state.box, n)
        if self.balance and self.comm.size > 1:
            self._rebalance()
        t0 = perf_counter()
        _, n = exchange(self.comm, self.grid, {k: getattr(state, k) for k in PER_PARTICLE}, n,
                        lambda need: self._grow_all(state, need))
        self.rebuild_comm_time += perf_counter() - t0
        state.n_local, state.n_ghost = n, 0
        cells = self._cell_grid()
        t0 = perf_counter()
        self._sort_by_cell(state, cells)
        t1 = perf_counter()
        state.x, state.typ, state.tag, state.n_ghost = self.halo.borders(
            state.x, state.typ, state.tag, n, lambda need: self._grow(state, need))
        t2 = perf_counter()
        self._build_list(state, cells)
        self.busy_time += (t1 - t0) + (perf_counter() - t2)
        self.rebuild_comm_time += t2 - t1
        self.x_build = state.x[:n].copy()
        self.n_rebuilds += 1

    def _rebalance(self) -> None:
        """Shift the cut planes towards equal compute times (module docstring); the particles
        migrate to their new owners in the exchange that follows."""
        times = self.comm.allgather(self.busy_time)  # the same list on every rank: the same planes
        self.busy_time = 0.0
        self.grid = rebalanced(self.grid, times, self.rlist * (1.0 + 1e-9))  # margin: rounding of the planes
        self.halo.grid = self.grid

    def _grow_all(self, state, need: int) -> dict:
        """Exchange callback: enlarge every per-particle array to hold ``need`` rows."""
        state.resize(int(1.3 * need) + 16)
        return {k: getattr(state, k) for k in PER_PARTICLE}

    def _grow(self, state, need: int):
        """Halo callback: enlarge every per-particle array to hold ``need`` rows."""
        arrays = self._grow_all(state, need)
        return arrays["x"], arrays["typ"], arrays["tag"]

    def _cell_grid(self):
        """(lo, cell size (3,), nc, m) of a non-periodic cell grid over sub-box plus halo."""
        lo = self.grid.lo - self.rlist
        nc, side, m = nb.cell_grid((self.grid.hi - self.grid.lo) + 2.0 * self.rlist, self.rlist)
        return lo, np.full(3, side), nc, m

    def _sort_by_cell(self, state, cells) -> None:
        """Reorder the owned particles by cell for memory locality (a stable counting sort).

        On a grid of more than one rank, the particles farther than r_list from every face of the
        sub-box (whose lists can hold no ghost) come first, each group in cell order: their
        forces are computed while the halo messages travel (:meth:`refresh_overlapping`)."""
        lo, size, nc, _ = cells
        n, ncell = state.n_local, int(np.prod(nc))
        cell_of = nb.bin_particles(state.x, n, lo, size, nc, np.empty(n, np.int64))
        keys = ncell
        self.n_interior = 0
        if np.prod(self.grid.dims) > 1:
            self.n_interior = mark_near_faces(state.x, n, self.grid.lo, self.grid.hi, self.rlist, cell_of, ncell)
            keys = 2 * ncell
        start, order = np.empty(keys + 1, np.int64), np.empty(n, np.int64)
        nb.counting_sort(cell_of, n, keys, start, order)
        state.permute_local(order)

    def _build_list(self, state, cells) -> None:
        """Full list over ``[local | ghost]``, grown on overflow; tag-sorted if reproducible."""
        lo, size, nc, m = cells
        n, n_tot, ncell = state.n_local, state.n_total, int(np.prod(nc))
        nb.check_rows(n_tot)
        cell_of = nb.bin_particles(state.x, n_tot, lo, size, nc, np.empty(n_tot, np.int64))
        start, atoms = np.empty(ncell + 1, np.int64), np.empty(n_tot, np.int64)
        nb.counting_sort(cell_of, n_tot, ncell, start, atoms)
        while True:
            if len(self.nlist) < n or self.nlist.shape[1] < self.capacity:
                self.nlist = np.zeros((max(n, 1), self.capacity), np.int32)
                self.count = np.zeros(max(n, 1), np.int32)
                self.count_a = np.zeros(max(n, 1), np.int32)
            args = (state.x, state.typ, n, cell_of, start, atoms, nc, m, nb.pair_list_radii(self.rc_max, self.skin),
                    self.nlist, self.count, self.count_a)
            worst = nb.build_cells_threaded(*args, self.threads) if self.threads > 1 else nb.build_cells(*args)
            if worst <= self.capacity:
                break
            self.capacity = int(worst * 1.2) + 8
        if self.reproducible:
            sort_rows_by_tag(self.nlist, self.count, state.typ, state.tag, state.x, n, n_tot)

    def reverse_forces(self, state) -> None:
        """Nothing to send back: full lists compute each pair on both owners."""

    def sum_per_particle(self, values: np.ndarray):
        """Global sum of per-particle values (n_local, ...) -> scalar or (k,); exact if reproducible."""
        v = np.asarray(values, dtype=np.float64)
        if self.reproducible:
            return exact_sum(v, self.comm)
        return self.comm.allreduce_sum(v.sum(axis=0))

    def gather_by_tag(self, state, array: np.ndarray) -> np.ndarray:
        """Owned rows of ``array`` from all ranks ordered by tag, on every rank."""
        n = state.n_local
        parts = self.comm.allgather((state.tag[:n].copy(), np.ascontiguousarray(array[:n])))
        out = np.empty((state.n_global,) + array.shape[1:], dtype=array.dtype)
        for tags, rows in parts:
            out[tags] = rows
        return out
