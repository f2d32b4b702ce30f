r"""Logarithmic histogram bins found without a logarithm (one table look-up and one comparison).

Every active process puts its waiting time τ into a histogram with edges τ_j = e^{ℓ_0 + j Δ},
j = 0 … n − 1; the bin of τ is h(τ) = #{j : τ_j ≤ τ} (0: below the first edge, n: above the last).
``math.log`` per event was ≈ 10 % of an event on a small lattice.  Instead the bit pattern of a
positive double, shifted right by 52 − m, is a monotone cell index (exponent and the top m mantissa
bits; a cell spans a factor ≤ 2^{2^{−m}}).  With m chosen so that a cell is narrower than a bin,
a cell holds at most one edge, so h(τ) = h(cell start) + [τ ≥ next edge]: exact, the edges being
the rounded doubles e^{ℓ_0 + jΔ}.

Layout: ``cells`` (int64) = (key of the first cell, shift, h(start of cell c) for every c);
``edges`` = (τ_0, …, τ_{n−1}, +inf).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .intrinsics import float_bits


def log_bin_table(log_lo: float, dlog: float, n_edges: int):
    """(cells, edges) for edges e^{log_lo + j dlog}, j < n_edges (ln τ units, dlog > 0)."""
    edges = np.exp(log_lo + dlog * np.arange(n_edges))
    m = max(0, math.ceil(math.log2(math.log(2.0) / dlog)) + 1)
    shift = 52 - m
    keys = edges.view(np.int64) >> shift
    first = int(keys[0])
    starts = (np.arange(first, int(keys[-1]) + 1, dtype=np.int64) << shift).view(np.float64)
    below = np.searchsorted(edges, starts, side="right")
    if np.any(np.diff(np.append(below, n_edges)) > 1):
        raise AssertionError("log_bin_table: a cell holds two edges")
    cells = np.concatenate(([first, shift], below)).astype(np.int64)
    return cells, np.append(edges, np.inf)


@njit(cache=True, inline="always")
def log_bin(x, cells, edges):
    """h(x) = number of edges ≤ x (0 for x ≤ 0)."""
    c = (float_bits(x) >> cells[1]) - cells[0]
    if c < 0:
        return 0
    if c >= cells.size - 2:
        return edges.size - 1
    h = cells[c + 2]
    return h + (x >= edges[h])          # an add, not a branch
