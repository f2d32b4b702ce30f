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
``nlist, count, count_a``
    the neighbour list read by the one force kernel (:mod:`pel_hpc.md.forces`): ``nlist``
    (n_local, capacity) int32 rows ``j`` of the partners in ``[local | ghost]`` (every periodic
    image is a ghost), A partners first; ``count``, ``count_a`` (n_local,) int32 the numbers of
    all and of the A partners.
``threads``
    numba threads on which the list force kernel and the list build work on this rank's rows (deck
    ``run.threads``; :func:`pel_hpc.parallel.launch.use_threads` starts numba's pool); bitwise the
    same forces and lists.
``min_image``
    True for a serial tiny box (an edge below 2.5 list radii, N = 65): no ghosts and no list,
    the forces come from the list-free minimum-image kernel.
``setup(state)``
    initial ownership (migration), wrapping, ghosts and lists; called once before forces.
``refresh(state) -> bool``
    called every MD step right after the drift (and every minimiser move): checks the
    displacement criterion max|Δx| > skin/2 (globally reduced); if exceeded, wraps,
    migrates, rebuilds ghosts and lists and returns True; else refreshes ghost positions
    and returns False.  May reorder and resize the state's per-particle arrays.
``refresh_overlapping(state, work, check=True) -> bool``
    :meth:`refresh` that also calls ``work(first, last)`` on every owned row once the ghosts
    are current, part of it while halo messages are in flight (the MD step's force pass);
    ``check=False`` when a forecast proved the displacement check false.
``reach(state, dt)``, ``sum_and_reach(values, reach)``, ``clear_of_rebuild(bound)``
    the forecast of the next displacement check, carried by the thermostat's reduction
    (:meth:`~pel_hpc.simulation.Integrator.second_half`); ``reach`` is None where none is made.
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
from numba import njit

from pel_hpc.md import neighbors as nb
from pel_hpc.md.box import check_cutoff, wrap
from pel_hpc.parallel.comm import SerialComm
from pel_hpc.parallel.domain import DecomposedDomain


class SerialDomain(DecomposedDomain):
    """One rank owns everything: the decomposed domain on a 1×1×1 grid, or no list at all.

    The ghosts are the periodic images within r_list of the box faces (the halo's self-swaps),
    so serial and decomposed runs share one list builder and one force kernel.  Tiny boxes
    (:func:`pel_hpc.md.neighbors.fits_min_image`, e.g. N = 65 with r_c = 1.8) keep no ghosts and
    no list: ``min_image`` is set and the forces come from the list-free minimum-image kernel
    (:func:`pel_hpc.md.forces.pair_forces_min_image`), as in the compiled MD loop and quenches;
    a "rebuild" there only wraps the particles.

    Parameters
    ----------
    rc_max : largest pair cut-off [sigma]
    skin : Verlet skin [sigma]
    comm : a communicator of one rank (default :class:`SerialComm`)
    capacity : initial neighbours per particle (grown on overflow)
    threads : numba threads of the list force kernel and list build (deck ``run.threads``)
    """

    def __init__(self, rc_max: float, skin: float = 0.3, comm=None, capacity: int = 64, threads: int = 1):
        super().__init__(rc_max, skin, SerialComm() if comm is None else comm, capacity=capacity, threads=threads)

    def copy(self) -> "SerialDomain":
        """A fresh domain with the same settings (see the module docstring)."""
        return SerialDomain(self.rc_max, self.skin, self.comm, self.capacity, self.threads)

    def setup(self, state) -> None:
        """Check the cut-off against the box, then choose the minimum-image path or the 1×1×1 halo."""
        check_cutoff(self.rc_max, state.box, self.skin)
        self.min_image = nb.fits_min_image(state.box, self.rlist)
        if not self.min_image:
            super().setup(state)
            return
        state.n_ghost = 0
        self.rebuild(state)

    def refresh(self, state) -> bool:
        """Rebuild if some particle moved more than skin/2 since the last build (else forward ghosts)."""
        if not self.min_image:
            return super().refresh(state)
        if not nb.list_is_stale(state, self.x_build, self.skin, self.comm):
            return False
        self.rebuild(state)
        return True

    def refresh_overlapping(self, state, work, check: bool = True) -> bool:
        """:meth:`refresh`, then ``work(0, n_local)`` (no messages to overlap on one rank)."""
        if not self.min_image:
            return super().refresh_overlapping(state, work, check)
        rebuilt = self.refresh(state)
        work(0, state.n_local)
        return rebuilt

    def rebuild(self, state) -> None:
        """Wrap (minimum-image path) or wrap, sort by cell, rebuild ghosts and list (halo path)."""
        if not self.min_image:
            super().rebuild(state)
            return
        n = state.n_local
        wrap(state.x, state.image, state.box, n)
        self.x_build = state.x[:n].copy()
        self.n_rebuilds += 1

    def gather_by_tag(self, state, array: np.ndarray) -> np.ndarray:
        """Rows of ``array`` for the owned particles, ordered by tag."""
        out = np.empty((state.n_global,) + array.shape[1:], dtype=array.dtype)
        if array.ndim == 2 and array.dtype == np.float64:  # positions, forces: every L-BFGS iteration
            _scatter_rows(array, state.tag, state.n_local, out)
        else:
            out[state.tag[: state.n_local]] = array[: state.n_local]
        return out


@njit(cache=True)
def _scatter_rows(array, tag, n, out):
    """out[tag[i]] = array[i] for the first ``n`` rows (numpy's fancy assignment is 10x slower)."""
    for i in range(n):
        for k in range(array.shape[1]):
            out[tag[i], k] = array[i, k]
