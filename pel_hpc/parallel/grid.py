"""Cartesian rank grid: choice of the grid, sub-box bounds, owners and the halo-width check.

The periodic box :math:`[0, L_x) \\times [0, L_y) \\times [0, L_z)` is cut into
:math:`n_x n_y n_z` sub-boxes, one per rank of the (group) communicator, by planes at the
*cuts* :math:`0 = c_{d,0} < c_{d,1} < \\dots < c_{d,n_d} = L_d` of each dimension (equal
widths unless load balancing shifts them, :func:`balanced_cuts`). Ranks are
numbered row-major in their grid coordinates (the last dimension fastest), the order of
``MPI_Cart_create`` without reordering, so the grid needs no MPI call and its arithmetic is
testable in one process. A sub-box must be at least as wide as the halo :math:`r_c + r_{skin}`
in every dimension: then one swap per face direction brings every ghost (Plimpton 1995).

References
----------
S. Plimpton, J. Comp. Phys. 117, 1 (1995); LAMMPS ``CommBrick`` (design only).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import product

import numpy as np

from pel_hpc.errors import DecompositionError


def _grid_text(dims) -> str:
    return "x".join(str(int(n)) for n in dims)


def largest_valid_grid(box, r_halo: float) -> tuple[int, int, int]:
    """Grid with the most sub-boxes whose widths are all at least ``r_halo``.

    Parameters
    ----------
    box : (3,) array of float
        Edge lengths of the periodic box [length].
    r_halo : float
        Halo width :math:`r_c + r_{skin}` [length].
    """
    return tuple(max(1, int(np.floor(float(b) / r_halo))) for b in box)


def check_grid(dims, box, r_halo: float, size: int | None = None) -> None:
    """Refuse a grid whose sub-boxes are thinner than the halo, or whose size is not the rank count.

    Raises
    ------
    DecompositionError
        Naming the offending dimension and the largest grid that works.
    """
    dims = tuple(int(n) for n in dims)
    if len(dims) != 3 or min(dims) < 1:
        raise DecompositionError(f"decomposition.grid {list(dims)} must be three positive integers")
    if size is not None and int(np.prod(dims)) != size:
        raise DecompositionError(
            f"decomposition.grid {_grid_text(dims)} has {int(np.prod(dims))} sub-boxes but the "
            f"replica group has {size} ranks")
    widths = np.asarray(box, dtype=float) / np.asarray(dims)
    thin = np.flatnonzero(widths < r_halo)
    if thin.size:
        d = int(thin[0])
        best = largest_valid_grid(box, r_halo)
        raise DecompositionError(
            f"grid {_grid_text(dims)} gives sub-boxes {widths[d]:.4g} wide in {'xyz'[d]}, thinner "
            f"than the halo r_c+skin = {r_halo:.4g}; the largest grid that works is "
            f"{_grid_text(best)} ({int(np.prod(best))} ranks)")


def choose_dims(size: int, box, r_halo: float) -> tuple[int, int, int]:
    """The valid grid of ``size`` sub-boxes with the smallest halo surface.

    Among all factorisations :math:`n_x n_y n_z = P` with every width :math:`L_d/n_d \\ge
    r_{halo}`, the one minimising the sub-box surface
    :math:`\\sum_d \\prod_{e \\ne d} L_e/n_e` (the halo volume per step) is taken; ties
    go to the lexicographically largest ``(n_x, n_y, n_z)``.

    Raises
    ------
    DecompositionError
        When no factorisation of ``size`` fits the halo.
    """
    box = np.asarray(box, dtype=float)
    best, best_area = None, np.inf
    divisors = [d for d in range(1, size + 1) if size % d == 0]
    for nx, ny in product(divisors, repeat=2):
        if size % (nx * ny):
            continue
        dims = (nx, ny, size // (nx * ny))
        widths = box / np.asarray(dims)
        if np.any(widths < r_halo):
            continue
        area = widths[0] * widths[1] + widths[1] * widths[2] + widths[0] * widths[2]
        if area < best_area - 1e-12 * area or (abs(area - best_area) <= 1e-12 * area and dims > best):
            best, best_area = dims, area
    if best is None:
        valid = largest_valid_grid(box, r_halo)
        raise DecompositionError(
            f"{size} ranks cannot split a box of {'x'.join(f'{e:.4g}' for e in box)} sigma into sub-boxes at least "
            f"r_c+skin = {r_halo:.4g} wide; the largest grid that works is {_grid_text(valid)} "
            f"({int(np.prod(valid))} rank{'s' if np.prod(valid) > 1 else ''})")
    return best


@dataclass(frozen=True)
class RankGrid:
    """One rank's place in the Cartesian grid.

    Attributes
    ----------
    dims : tuple of int
        Sub-boxes per dimension :math:`(n_x, n_y, n_z)`.
    coords : tuple of int
        This rank's grid coordinates.
    rank : int
        This rank in the group communicator.
    box : (3,) ndarray
        Global box edges [length].
    cuts : tuple of three (n_d + 1,) ndarrays
        Planes cutting each dimension, from 0 to L_d [length]; rank (i, j, k) owns
        :math:`[c_{x,i}, c_{x,i+1}) \\times [c_{y,j}, c_{y,j+1}) \\times [c_{z,k}, c_{z,k+1})`.
    neighbors : ((int, int), (int, int), (int, int))
        Ranks of the minus and plus neighbours in x, y and z (periodic; may be this rank).
    """

    dims: tuple
    coords: tuple
    rank: int
    box: np.ndarray
    cuts: tuple
    neighbors: tuple

    @property
    def size(self) -> int:
        """Number of ranks in the grid."""
        return int(np.prod(self.dims))

    @property
    def lo(self) -> np.ndarray:
        """This rank's lower sub-box bounds (3,) [length]."""
        return np.array([self.cuts[d][self.coords[d]] for d in range(3)])

    @property
    def hi(self) -> np.ndarray:
        """This rank's upper sub-box bounds (3,) [length]."""
        return np.array([self.cuts[d][self.coords[d] + 1] for d in range(3)])

    def with_cuts(self, cuts) -> "RankGrid":
        """The same grid with other cut planes (load balancing)."""
        return replace(self, cuts=tuple(np.array(c, dtype=float) for c in cuts))


def make_grid(rank: int, size: int, box, r_halo: float, requested="auto") -> RankGrid:
    """Rank grid from the deck's ``decomposition.grid`` (``"auto"`` or ``[nx, ny, nz]``).

    Parameters
    ----------
    rank, size : int
        This rank and the number of ranks of the (replica group) communicator.
    box : (3,) array of float
        Edge lengths [length].
    r_halo : float
        Halo width :math:`r_c + r_{skin}` [length].
    requested : "auto" or sequence of 3 int
        The deck's grid.
    """
    box = np.asarray(box, dtype=float)
    if isinstance(requested, str):
        if requested != "auto":
            raise DecompositionError(f"decomposition.grid must be 'auto' or [nx, ny, nz], not {requested!r}")
        dims = choose_dims(size, box, r_halo)
    else:
        dims = tuple(int(n) for n in requested)
    check_grid(dims, box, r_halo, size)
    coords = tuple(int(c) for c in np.unravel_index(rank, dims))
    neighbors = []
    for d in range(3):
        pair = []
        for step in (-1, 1):
            c = list(coords)
            c[d] = (c[d] + step) % dims[d]
            pair.append(int(np.ravel_multi_index(c, dims)))
        neighbors.append(tuple(pair))
    return RankGrid(dims, coords, rank, box, uniform_cuts(box, dims), tuple(neighbors))


def uniform_cuts(box, dims) -> tuple:
    """Cut planes of equal sub-boxes: :math:`c_{d,i} = i L_d / n_d` [length]."""
    return tuple(np.arange(int(dims[d]) + 1) * (float(box[d]) / int(dims[d])) for d in range(3))


def owner_coords(x: np.ndarray, cuts) -> np.ndarray:
    """Grid coordinates of the sub-box owning each wrapped position: the slab i with
    :math:`c_{d,i} \\le x_d < c_{d,i+1}` in each dimension (clipped to the grid).

    Parameters
    ----------
    x : (n, 3) ndarray
        Positions wrapped into ``[0, L)`` [length].
    cuts : the grid's cut planes (:attr:`RankGrid.cuts`)
    """
    x = np.asarray(x, dtype=float).reshape(-1, 3)
    return np.stack([np.clip(np.searchsorted(c, x[:, d], side="right") - 1, 0, len(c) - 2)
                     for d, c in enumerate(cuts)], axis=1).astype(np.int64)


def owner_ranks(x: np.ndarray, cuts) -> np.ndarray:
    """Row-major rank owning each wrapped position (see :func:`owner_coords`)."""
    c = owner_coords(x, cuts)
    return np.ravel_multi_index(c.T, tuple(len(k) - 1 for k in cuts)).astype(np.int64)


ROWS_PER_CHUNK = 1 << 20  # rows read or drawn at a time by kept_rows


def kept_rows(n: int, read, keep=None):
    """Rows 0 … n−1 of per-particle arrays, ``read(lo, hi) -> {name: rows lo … hi−1}`` (one name "x"),
    filtered by ``keep(x) -> mask`` (e.g. :func:`owned_by`) a chunk of :data:`ROWS_PER_CHUNK` rows at a
    time, so that no process holds all n at once; without ``keep``, all rows in one read.  Returns
    (the kept row numbers, {name: kept rows})."""
    if keep is None:
        return np.arange(n), read(0, n)
    index, parts = [], []
    for lo in range(0, n, ROWS_PER_CHUNK) or [0]:  # n = 0: one empty read gives the arrays' shapes
        got = read(lo, min(n, lo + ROWS_PER_CHUNK))
        rows = np.flatnonzero(keep(got["x"]))
        index.append(lo + rows)
        parts.append({name: a[rows] for name, a in got.items()})
    return np.concatenate(index), {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def owned_by(comm, box, r_halo: float, requested="auto"):
    """``keep(x) -> mask`` of the positions ``x`` (wrapped into the box here) that this rank of ``comm``
    owns on the grid :func:`make_grid` makes for ``box`` (which refuses an impossible grid here, before
    anything is built): how a start is made owned, so that no rank holds a whole large system.  Every
    position is kept by exactly one rank."""
    cuts = make_grid(comm.rank, comm.size, box, r_halo, requested).cuts
    edges = np.asarray(box, dtype=float)
    return lambda x: owner_ranks(np.mod(x, edges), cuts) == comm.rank


def balanced_cuts(cuts, slab_time, min_width: float, damping: float = 0.5):
    """Shift one dimension's cut planes so that every slab would take the same time.

    The time of slab i is taken as proportional to its width over its speed,
    :math:`t_i \\propto w_i / s_i`; the widths that equalise it are proportional to the measured
    speeds :math:`s_i = w_i / t_i`, :math:`w_i^* = L\\, s_i / \\sum_k s_k`.  The new widths move a
    fraction ``damping`` of the way there (measured times are noisy), and none may fall
    below ``min_width`` (the halo width, so the six-swap pattern stays valid): the slabs at
    the bound keep it and the others share the rest in the same proportions.  This is the
    "shift" method of LAMMPS' ``balance``/``fix balance`` with ``weight time``, applied to
    the rank grid's planes (design only).

    Parameters
    ----------
    cuts : (n + 1,) array of float
        Current planes, ``cuts[0] = 0`` to ``cuts[n] = L`` [length].
    slab_time : (n,) array of float
        Measured compute time of each slab over the same interval [s] (any common unit).
    min_width : float
        Smallest allowed slab width [length]; ``L / n`` must be at least this.
    damping : float
        Fraction of the step towards equal times taken, in (0, 1].

    Returns
    -------
    (n + 1,) ndarray of the new planes (the old ones if some time is not positive).
    """
    cuts = np.asarray(cuts, dtype=float)
    t = np.asarray(slab_time, dtype=float)
    n, length = len(cuts) - 1, float(cuts[-1] - cuts[0])
    if n < 2 or not np.all(np.isfinite(t)) or np.any(t <= 0.0):
        return cuts.copy()
    w = np.diff(cuts)
    speed = w / t
    target = (1.0 - damping) * w + damping * length * speed / speed.sum()
    fixed = np.zeros(n, bool)
    for _ in range(n):  # clamp at min_width; the free slabs share what is left in proportion
        low = ~fixed & (target < min_width)
        if not low.any():
            break
        fixed |= low
        target[fixed] = min_width
        free = ~fixed
        target[free] *= (length - min_width * fixed.sum()) / target[free].sum()
    out = np.empty(n + 1)
    out[0] = cuts[0]
    out[1:] = cuts[0] + np.cumsum(target)
    out[-1] = cuts[-1]
    return out


def rebalanced(grid: RankGrid, rank_time, min_width: float, damping: float = 0.5) -> RankGrid:
    """The grid with every dimension's planes shifted by :func:`balanced_cuts`.

    ``rank_time`` lists every rank's compute time over the same interval, in rank order (the
    same list on every rank, e.g. from an allgather, so every rank computes the same planes);
    a slab's time is the sum over the ranks in it.
    """
    t = np.asarray(rank_time, dtype=float).reshape(grid.dims)
    cuts = []
    for d in range(3):
        other = tuple(e for e in range(3) if e != d)
        cuts.append(balanced_cuts(grid.cuts[d], t.sum(axis=other), min_width, damping))
    return grid.with_cuts(cuts)
