"""Periodic box: wrapping with image counters, the periodic shift table and the cut-off check.

The box is orthorhombic with edge lengths ``box`` (3,) [sigma] and its origin at 0.
Neighbour-list entries carry an index ``s`` into the 27-entry shift table; the image of
particle j seen by i is ``x[j] + shifts[s]`` with ``shifts[s] = (n_x, n_y, n_z)·box``,
``s = 9(n_x+1) + 3(n_y+1) + (n_z+1)``.  :data:`ZERO_SHIFT` (13) is the unshifted image
used for halo ghosts, which arrive pre-shifted.
"""
import numpy as np
from numba import njit

from pel_hpc.errors import DeckError

ZERO_SHIFT = 13


def shift_index(nx: int, ny: int, nz: int) -> int:
    """Index into the shift table of the image offset (n_x, n_y, n_z) ∈ {−1, 0, 1}³."""
    return 9 * (nx + 1) + 3 * (ny + 1) + (nz + 1)


def shift_table(box: np.ndarray) -> np.ndarray:
    """The 27 periodic image shifts (27, 3) [sigma], row ``s`` as in :func:`shift_index`."""
    n = np.array([[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)], dtype=np.float64)
    return n * np.asarray(box, dtype=np.float64)[None, :]


def check_cutoff(rc_max: float, box: np.ndarray, skin: float = 0.0) -> None:
    """Refuse a cut-off with r_c ≥ L/2 (two images would interact) or r_c + skin ≥ L.

    Raises
    ------
    DeckError
        naming ``system.cutoff`` (or ``system.skin``) and the box edge.
    """
    half = 0.5 * float(np.min(box))
    if rc_max >= half:
        raise DeckError(f"system.cutoff: r_c = {rc_max:.4g} sigma must be < L/2 = {half:.4g} sigma for this box")
    if rc_max + skin >= 2.0 * half:
        raise DeckError(f"system.skin: r_c + skin = {rc_max + skin:.4g} sigma must be < L = {2 * half:.4g} sigma")


@njit(cache=True)
def wrap(x, image, box, n):
    """Wrap the first ``n`` positions into [0, L) in place, counting crossings in ``image``."""
    for i in range(n):
        for d in range(3):
            k = np.floor(x[i, d] / box[d])
            if k != 0.0:
                x[i, d] -= k * box[d]
                image[i, d] += np.int32(k)
                if x[i, d] >= box[d]:  # rounding at the upper edge
                    x[i, d] -= box[d]
                    image[i, d] += 1


def unwrapped(x: np.ndarray, image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Unwrapped positions x + image·L [sigma]."""
    return x + image * np.asarray(box)[None, :]
