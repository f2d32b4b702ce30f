"""Domain strategy: who owns which particle, ghosts, neighbour lists, global reductions.

:class:`~pel_hpc.simulation.Simulation`, the minimiser, the thermostat and the observables
only talk to a domain through this interface, so the decomposed domain
(``pel_hpc/parallel/domain.py``) drops in without changes elsewhere.

Interface (duck-typed; :class:`SerialDomain` is the reference implementation)
------------------------------------------------------------------------------
``comm``
    :class:`~pel_hpc.parallel.comm.SerialComm` or ``MPIComm``; global reductions other than
    sums (max displacement) and collectives go through it.
``sum_per_particle(values) -> scalar or ndarray``
    the global sum over all particles of per-particle ``values`` (n_local,) or (n_local, k):
    kinetic energy, momentum, E_pot, virial, the minimisers' force norms all go through it.
    The decomposed domain in reproducible mode sums exactly (bitwise the same on any rank
    count); otherwise it is a local sum and one ``allreduce``.
``nlist, count, shifts``
    the neighbour list read by the one force kernel (:mod:`pel_hpc.md.forces`): ``nlist``
    (n_local, capacity) int32 packed entries ``(j << 7) | (s << 2) | (2 t_i + t_j)``,
    ``count`` (n_local,) int32, ``shifts`` (27, 3) float64 image shifts (decomposed domains
    put ghosts at shifted coordinates and use ``box.ZERO_SHIFT``).
``setup(state)``
    initial ownership (migration), wrapping, ghosts and lists; called once before forces.
``refresh(state) -> bool``
    called every MD step right after the drift (and every minimiser move): checks the
    displacement criterion max|Δx| > skin/2 (globally reduced); if exceeded, wraps,
    migrates, rebuilds ghosts and lists and returns True; else refreshes ghost positions
    and returns False.  May reorder and resize the state's per-particle arrays.
``reverse_forces(state)``
    sends ghost forces back to owners; a no-op for full lists (ours).
``gather_by_tag(state, array) -> ndarray``
    the owned rows of a per-particle ``array`` (e.g. ``state.x``) of all ranks, ordered by
    tag, (n_global, ...) on every rank; for output and tests.
``copy() -> Domain``
    a fresh domain with the same settings and communicator, not yet set up; the minimiser
    quenches a ``state.copy()`` on it without disturbing the running trajectory.
``n_rebuilds``
    number of list rebuilds so far (diagnostics).

All lengths in [sigma].
"""
from __future__ import annotations

import numpy as np

from pel_hpc.md import neighbors as nb
from pel_hpc.md.box import check_cutoff, shift_table, wrap
from pel_hpc.parallel.comm import SerialComm


def list_is_stale(state, x_build, skin: float, comm) -> bool:
    """Verlet criterion, globally reduced: has any particle moved more than skin/2 since the build?"""
    d2 = nb.max_displacement2(state.x, x_build, state.n_local)
    return comm.allreduce_max(d2) > 0.25 * skin**2


class SerialDomain:
    """One rank owns everything; periodic images come from the list's shift indices.

    Tiny boxes (fewer than 3 cells of side r_list per edge, e.g. N = 65 with r_c = 1.8)
    use the exact all-pairs multi-image list; larger boxes a cell list with cells of side
    ≥ r_list/2 and particles sorted by cell at every rebuild.  For tiny boxes
    (``uses_all_pairs``) the compiled MD loop and the compiled quenches skip the list and
    use the equivalent list-free minimum-image forces (:func:`pel_hpc.md.forces.pair_forces_min_image`).

    Parameters
    ----------
    rc_max : largest pair cut-off [sigma]
    skin : Verlet skin [sigma]
    comm : communicator for reductions (serial runs: :class:`SerialComm`)
    capacity : initial neighbours per particle (grown on overflow)
    """

    def __init__(self, rc_max: float, skin: float = 0.3, comm=None, capacity: int = 64):
        self.rc_max, self.skin = float(rc_max), float(skin)
        self.rlist = self.rc_max + self.skin
        self.rlist_pair = nb.pair_list_radii(self.rc_max, self.skin)
        self.comm = SerialComm() if comm is None else comm
        self.capacity = int(capacity)
        self.n_rebuilds = 0
        self.nlist = np.zeros((0, self.capacity), np.int32)
        self.count = np.zeros(0, np.int32)
        self.shifts = np.zeros((27, 3))
        self.x_build = np.zeros((0, 3))
        self.grid = None

    def copy(self) -> "SerialDomain":
        """A fresh domain with the same settings (see the module docstring)."""
        return SerialDomain(self.rc_max, self.skin, self.comm, self.capacity)

    @property
    def uses_all_pairs(self) -> bool:
        """True when the exact all-pairs multi-image builder is used (tiny boxes)."""
        return self.grid is None

    def setup(self, state) -> None:
        """Check the cut-off against the box, choose the list scheme and build the list."""
        check_cutoff(self.rc_max, state.box, self.skin)
        self.shifts = shift_table(state.box)
        self.grid = nb.cell_grid(state.box, self.rlist, periodic=True)
        self.rebuild(state)

    def refresh(self, state) -> bool:
        """Rebuild if some particle moved more than skin/2 since the last build."""
        if not list_is_stale(state, self.x_build, self.skin, self.comm):
            return False
        self.rebuild(state)
        return True

    def rebuild(self, state) -> None:
        """Wrap, sort by cell (cell lists only) and build the list, growing it on overflow."""
        n = state.n_local
        nb.check_rows(n)
        wrap(state.x, state.image, state.box, n)
        cells = self._sort_by_cell(state) if self.grid is not None else None
        while True:
            if len(self.nlist) < n or self.nlist.shape[1] < self.capacity:
                self.nlist = np.zeros((n, self.capacity), np.int32)
                self.count = np.zeros(n, np.int32)
            worst = self._build(state, cells)
            if worst <= self.capacity:
                break
            self.capacity = int(worst * 1.2) + 8
        self.x_build = state.x[:n].copy()
        self.n_rebuilds += 1

    def _sort_by_cell(self, state):
        """Reorder the particles by cell (memory locality) and return the CSR cell table."""
        nc, _ = self.grid
        n, ncell = state.n_local, int(np.prod(nc))
        cell_of = nb.bin_particles(state.x, n, np.zeros(3), state.box / nc, nc, np.empty(n, np.int64))
        order = np.argsort(cell_of, kind="stable")
        state.permute_local(order)
        cell_of = cell_of[order]
        start, atoms = np.empty(ncell + 1, np.int64), np.empty(n, np.int64)
        nb.counting_sort(cell_of, n, ncell, start, atoms)
        return cell_of, start, atoms

    def _build(self, state, cells) -> int:
        n = state.n_local
        if cells is None:
            return nb.build_all_pairs(state.x, state.typ, n, n, state.box, self.rlist_pair, self.nlist,
                                      self.count)
        nc, m = self.grid
        cell_of, start, atoms = cells
        return nb.build_cells(state.x, state.typ, n, cell_of, start, atoms, nc, m, state.box, True,
                              self.rlist_pair, self.nlist, self.count)

    def reverse_forces(self, state) -> None:
        """Nothing to send back: full lists, no ghosts."""

    def sum_per_particle(self, values: np.ndarray):
        """Global sum of per-particle values (n_local, ...) -> scalar or (k,) (a plain sum)."""
        return self.comm.allreduce_sum(np.asarray(values, dtype=np.float64).sum(axis=0))

    def gather_by_tag(self, state, array: np.ndarray) -> np.ndarray:
        """Rows of ``array`` for the owned particles, ordered by tag."""
        out = np.empty((state.n_global,) + array.shape[1:], dtype=array.dtype)
        out[state.tag[: state.n_local]] = array[: state.n_local]
        return out
