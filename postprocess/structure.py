"""Static structure: partial radial distribution functions g_αβ(r) and their first minimum.

Used by :mod:`postprocess.events` for the first coordination shell of a tagged particle and for
the expected number of particles N_av(d) at distance d (Sect. III B, Fig. 4 of the paper).
All lengths in σ_AA, volumes in σ_AA³; distances are minimum-image distances in the periodic box
(the box origin is irrelevant), so wrapped and unwrapped positions give the same g(r).

.. math::

    g_{\\alpha\\beta}(r) = \\frac{V}{N_\\alpha N'_\\beta}
        \\Big\\langle \\sum_{i\\in\\alpha} \\sum_{j\\in\\beta, j\\ne i} \\delta(r - r_{ij}) \\Big\\rangle
        \\frac{1}{4\\pi r^2},

with N'_β = N_β − 1 when α = β.  For an ideal gas g(r) = 1 at every r < L/2.

References
----------
M. P. Allen and D. J. Tildesley, *Computer Simulation of Liquids*, 2nd ed. (2017), Sect. 8.2.
"""
from dataclasses import dataclass

import numpy as np
from numba import njit

from pel_hpc.errors import DeckError


@dataclass(frozen=True)
class RadialDistribution:
    """A binned g_αβ(r): bin ``edges`` (n_bins+1,) [σ], ``g`` and its Poisson error ``g_err``
    (n_bins,), the raw pair ``counts`` and the number of frames averaged."""

    edges: np.ndarray
    g: np.ndarray
    g_err: np.ndarray
    counts: np.ndarray
    n_frames: int

    @property
    def r(self) -> np.ndarray:
        """Bin centres [σ]."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])


@njit(cache=True)
def _pair_histogram(x, box, ia, ib, same, r_max, n_bins):
    """Histogram of minimum-image distances between index sets ``ia`` and ``ib`` over all frames.

    x (F, N, 3) positions, box (3,) edges.  With ``same`` the sets are equal and each unordered
    pair i<j is counted once; otherwise every (i, j≠i) pair is counted.
    """
    counts = np.zeros(n_bins, dtype=np.int64)
    inv_dr = n_bins / r_max
    r_max2 = r_max * r_max
    for f in range(x.shape[0]):
        for a in range(ia.shape[0]):
            i = ia[a]
            b0 = a + 1 if same else 0
            for b in range(b0, ib.shape[0]):
                j = ib[b]
                if j == i:
                    continue
                r2 = 0.0
                for k in range(3):
                    dx = x[f, j, k] - x[f, i, k]
                    dx -= box[k] * np.rint(dx / box[k])
                    r2 += dx * dx
                if r2 < r_max2:
                    counts[int(np.sqrt(r2) * inv_dr)] += 1
    return counts


def shell_volumes(edges: np.ndarray) -> np.ndarray:
    """Volumes 4π(r_{k+1}³ − r_k³)/3 of spherical shells between consecutive ``edges`` [σ³]."""
    return 4.0 * np.pi / 3.0 * np.diff(np.asarray(edges, dtype=float) ** 3)


def radial_distribution(positions, box, types, pair=(0, 0), r_max=None, n_bins=100):
    """Partial radial distribution function g_αβ(r), averaged over frames.

    Parameters
    ----------
    positions : (F, N, 3) or (N, 3) array
        Positions [σ], wrapped or unwrapped.
    box : (3,) array
        Periodic box edges [σ].
    types : (N,) int array
        Species (0 = A, 1 = B).
    pair : (int, int)
        The species α and β; (0, 0) is g_AA.
    r_max : float, optional
        Largest distance [σ]; at most half the shortest box edge (default).
    n_bins : int
        Number of bins on [0, r_max].

    Returns
    -------
    RadialDistribution
    """
    x = np.ascontiguousarray(positions, dtype=np.float64)
    x = x[None] if x.ndim == 2 else x
    box = np.asarray(box, dtype=np.float64)
    types = np.asarray(types)
    half = 0.5 * float(box.min())
    r_max = half if r_max is None else float(r_max)
    if x.ndim != 3 or x.shape[1:] != (types.shape[0], 3):
        raise DeckError(f"positions of shape {np.shape(positions)} do not match {types.shape[0]} types")
    if not 0.0 < r_max <= half * (1 + 1e-12):
        raise DeckError(f"r_max = {r_max} must lie in (0, L/2 = {half}] for minimum-image g(r)")
    ia = np.flatnonzero(types == pair[0])
    ib = np.flatnonzero(types == pair[1])
    same = pair[0] == pair[1]
    if ia.size == 0 or ib.size - int(same) <= 0:
        raise DeckError(f"too few particles of species {pair} for g(r)")
    counts = _pair_histogram(x, box, ia, ib, same, r_max, int(n_bins))
    edges = np.linspace(0.0, r_max, int(n_bins) + 1)
    n_partners = ib.size - 1 if same else ib.size
    ideal = x.shape[0] * ia.size * n_partners / float(np.prod(box)) * shell_volumes(edges)
    per_pair = 2.0 if same else 1.0  # each unordered pair stands for two ordered ones
    g = per_pair * counts / ideal
    g_err = per_pair * np.sqrt(np.maximum(counts, 1)) / ideal
    return RadialDistribution(edges, g, g_err, counts, x.shape[0])


def first_minimum(rdf: RadialDistribution, smooth: int = 3) -> float:
    """Position [σ] of the first minimum of g(r) after its first peak.

    ``g`` is smoothed with a running mean of ``smooth`` bins first, so that statistical noise
    does not create spurious minima.  The first peak is the first local maximum after g first
    exceeds 1; a flat minimum (g = 0 between the shells of a crystal) gives its midpoint.
    This is the first-shell radius of Sect. III B.
    """
    kernel = np.ones(int(smooth)) / int(smooth)
    g = np.convolve(rdf.g, kernel, mode="same")
    above = np.flatnonzero(g > 1.0)
    if above.size == 0:
        raise DeckError("g(r) never exceeds 1 within r_max: no first coordination shell")
    falling = above[0] + np.flatnonzero(np.diff(g[above[0]:]) < 0.0)
    rising = falling[0] + np.flatnonzero(np.diff(g[falling[0]:]) > 0.0) if falling.size else falling
    if rising.size == 0:
        raise DeckError("g(r) has no minimum after its first peak within r_max")
    stop = rising[0]
    flat = np.flatnonzero(g[falling[0]:stop + 1] <= g[stop] + 1e-12 * max(1.0, g[stop])) + falling[0]
    return float(0.5 * (rdf.r[flat[0]] + rdf.r[flat[-1]]))


def expected_pair_fraction(rdf: RadialDistribution, d_edges, volume: float) -> np.ndarray:
    """Fraction of the other particles expected in each distance bin from g(r).

    .. math::

        p(d_k < r < d_{k+1}) = \\frac{1}{V} \\int_{d_k}^{d_{k+1}} 4\\pi r^2 g(r)\\,dr,

    the normalisation of N_av(d) in Fig. 4 of the paper: multiplied by the number of event
    pairs it is the count expected if the second event hit a random particle.  The integral of
    the binned g(r) is interpolated linearly at ``d_edges`` (which must lie within r_max).
    """
    d_edges = np.asarray(d_edges, dtype=float)
    if d_edges.min() < 0.0 or d_edges.max() > rdf.edges[-1] * (1 + 1e-12):
        raise DeckError(f"distance bins must lie in [0, r_max = {rdf.edges[-1]:.4g}] of g(r)")
    cumulative = np.concatenate(([0.0], np.cumsum(rdf.g * shell_volumes(rdf.edges))))
    return np.diff(np.interp(d_edges, rdf.edges, cumulative)) / float(volume)
