"""Cartesian rank grid: choice of the grid, sub-box bounds, owners and the halo-width check.

The periodic box :math:`[0, L_x) \\times [0, L_y) \\times [0, L_z)` is cut into
:math:`n_x n_y n_z` equal sub-boxes, one per rank of the (group) communicator. Ranks are
numbered row-major in their grid coordinates (the last dimension fastest), the order of
``MPI_Cart_create`` without reordering, so the grid needs no MPI call and its arithmetic is
testable in one process. A sub-box must be at least as wide as the halo :math:`r_c + r_{skin}`
in every dimension: then one swap per face direction brings every ghost (Plimpton 1995).

References
----------
S. Plimpton, J. Comp. Phys. 117, 1 (1995); LAMMPS ``CommBrick`` (design only).
"""
from __future__ import annotations

from dataclasses import dataclass
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
            f"{size} ranks cannot split a box of {_grid_text(np.round(box, 3))} into sub-boxes at least "
            f"r_c+skin = {r_halo:.4g} wide; the largest grid that works is {_grid_text(valid)} "
            f"({int(np.prod(valid))} ranks)")
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
    lo, hi : (3,) ndarray
        This rank's sub-box bounds [length].
    neighbors : ((int, int), (int, int), (int, int))
        Ranks of the minus and plus neighbours in x, y and z (periodic; may be this rank).
    """

    dims: tuple
    coords: tuple
    rank: int
    box: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    neighbors: tuple

    @property
    def size(self) -> int:
        """Number of ranks in the grid."""
        return int(np.prod(self.dims))


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
    n = np.asarray(dims, dtype=float)
    lo = np.asarray(coords) * box / n
    hi = (np.asarray(coords) + 1) * box / n
    return RankGrid(dims, coords, rank, box, lo, hi, tuple(neighbors))


def owner_coords(x: np.ndarray, box, dims) -> np.ndarray:
    """Grid coordinates of the sub-box owning each wrapped position.

    Parameters
    ----------
    x : (n, 3) ndarray
        Positions wrapped into ``[0, L)`` [length].
    """
    n = np.asarray(dims)
    c = np.floor(x * (n / np.asarray(box, dtype=float))).astype(np.int64)
    return np.clip(c, 0, n - 1)


def owner_ranks(x: np.ndarray, box, dims) -> np.ndarray:
    """Row-major rank owning each wrapped position (see :func:`owner_coords`)."""
    c = owner_coords(x, box, dims)
    return np.ravel_multi_index(c.T, dims).astype(np.int64)
