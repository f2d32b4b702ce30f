"""Periodic box: wrapping with image counters and the cut-off check.

The box is orthorhombic with edge lengths ``box`` (3,) [sigma] and its origin at 0.  Periodic
images that a particle interacts with are ghost rows made by the halo
(:mod:`pel_hpc.parallel.halo`), or minimum images in the list-free tiny-box kernels.
"""
import numpy as np
from numba import njit

from pel_hpc.errors import DeckError


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
