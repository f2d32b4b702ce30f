r"""The lattice of elementary systems (ES) of the coupled landscape model and its coupling range.

Sect. III D and IV B of the paper: a macroscopic glass former is a periodic d-dimensional
lattice of ES (each one a 65-particle system described by its PEL).  After an active process of
ES i, every coupled ES j performs a passive process with probability q·w_ij, where

* nearest-neighbour coupling (``r_max=None``): w_ij = 1 for the 2d ES sharing a boundary, so
  N_eff = 2d;
* long-range coupling: w_ij = r_ij^{−n} for 0 < r_ij < r_max (minimum-image distance in lattice
  units), so N_eff = Σ_j r_ij^{−n} and q_eff = N_eff·q (Sect. IV B, Fig. 10).

The coupling is stored once as a CSR table (``offsets``, ``neighbours``, ``weights``) that the
numba engine reads; each neighbour appears once even on lattices of side 2.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from pel_hpc.errors import DeckError


@dataclass(frozen=True)
class Lattice:
    """A periodic lattice of ES with its coupling table.

    Attributes
    ----------
    shape : tuple of int     ES per dimension (the paper: (3, 3, 3)).
    offsets : (n_es+1,) int64    CSR row pointers into ``neighbours``/``weights``.
    neighbours : (n_links,) int32  coupled ES of each ES (int32: half the memory traffic on 10^6 ES).
    weights : (n_links,) float64   w_ij (1 for nearest neighbours, r^{−n} for long range).
    r_max : float or None    coupling range in lattice units (None: nearest neighbours).
    exponent : float         n of p(r) ∝ r^{−n}.
    """

    shape: tuple
    offsets: np.ndarray
    neighbours: np.ndarray
    weights: np.ndarray
    r_max: float | None
    exponent: float

    @property
    def n_es(self) -> int:
        """Number of elementary systems."""
        return int(np.prod(self.shape))

    @property
    def n_eff(self) -> float:
        """N_eff = Σ_j w_ij, the effective number of coupled ES (Sect. IV B); the same for every ES."""
        return float(self.weights[self.offsets[0]:self.offsets[1]].sum())

    def q_eff(self, q: float) -> float:
        """q_eff = N_eff·q, the effective coupling strength of Sect. IV B."""
        return self.n_eff * q


def _displacements(shape, r_max):
    """Integer displacement vectors with 0 < |δ| < r_max (or the 2d unit vectors), deduplicated mod shape."""
    d = len(shape)
    if r_max is None:
        vecs = [s * np.eye(d, dtype=np.int64)[k] for k in range(d) for s in (1, -1)]
    else:
        reach = [min(int(np.ceil(r_max)), n // 2) for n in shape]
        vecs = [np.array(v, dtype=np.int64) for v in itertools.product(*[range(-r, r + 1) for r in reach])]
    seen, unique = set(), []
    for v in vecs:
        key = tuple(int(c) % n for c, n in zip(v, shape))
        if any(key) and key not in seen:
            seen.add(key)
            unique.append(v)
    return unique


def make_lattice(shape, r_max: float | None = None, exponent: float = 3.0) -> Lattice:
    """Build a periodic ES lattice and its coupling table.

    Parameters
    ----------
    shape : sequence of int
        ES per dimension, any d ≥ 1 (e.g. (3, 3, 3) as in the paper, or (100, 100, 100)).
    r_max : float, optional
        Long-range coupling p(r) ∝ r^{−n} for minimum-image distance r < r_max [lattice units];
        ``None`` couples the 2d nearest neighbours (N_eff = 2d), Sect. IV A.
    exponent : float
        n of p(r) ∝ r^{−n} (ignored for nearest neighbours, whose weight is 1).

    Returns
    -------
    Lattice
    """
    shape = tuple(int(n) for n in shape)
    if not shape or min(shape) < 1:
        raise DeckError(f"lattice shape must be a non-empty list of positive sizes, got {shape}")
    if r_max is not None and not r_max > 1.0:
        raise DeckError(f"coupling r_max must be > 1 lattice unit (or null for nearest neighbours), got {r_max}")
    vecs = _displacements(shape, r_max)
    dist = np.array([np.sqrt(float(np.sum(v * v))) for v in vecs])
    keep = np.ones(len(vecs), bool) if r_max is None else dist < r_max
    vecs = np.array(vecs, dtype=np.int64).reshape(-1, len(shape))[keep]
    w = np.ones(len(vecs)) if r_max is None else dist[keep] ** (-float(exponent))
    coords = np.indices(shape).reshape(len(shape), -1).T
    nb = np.empty((coords.shape[0], len(vecs)), dtype=np.int32)
    for k, v in enumerate(vecs):
        nb[:, k] = np.ravel_multi_index(tuple(((coords + v) % shape).T), shape)
    offsets = np.arange(coords.shape[0] + 1, dtype=np.int64) * len(vecs)
    return Lattice(shape, offsets, nb.ravel(), np.tile(w, coords.shape[0]), r_max, float(exponent))
