r"""Which coupled ES perform a passive process after an active one (step 3 of :mod:`.kinetics`).

After an active process of ES i, each of its L links k (to ES j = neighbours[k]) fires
independently with probability p_k = q w_k (× Γ(e_j)/Γ_max for energy-dependent coupling, a
thinning applied afterwards).  Two exact ways to draw the set of fired links:

* **pattern table** (L ≤ ``MAX_PATTERN_LINKS``, e.g. the 2d nearest neighbours): the 2^L subsets S
  have probabilities Π_{k∈S} p_k Π_{k∉S}(1 − p_k); one alias draw (one uniform, no logarithm)
  picks S, whose links are listed in ``pattern_links[S]`` = (|S|, k_1, …, k_|S|).
* **geometric skipping** (long-range coupling, many links): Bernoulli(p_max) trials on successive
  links, p_max = q max(w), by skipping Geom(p_max) links (one logarithm per candidate), thinned by
  w_k/max(w); "no candidate", probability (1 − p_max)^L, is tested first without a logarithm.
  O(1 + N_eff q) per event.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .fast_exp import fast_exp
from .processes import ENERGY_DEPENDENT, alias_table, log_rate_at
from .rng import uniform

MAX_PATTERN_LINKS = 10


def link_patterns(p_link):
    """Alias table (prob, alias) of the 2^L subsets of links and their lists ``pattern_links``;
    empty arrays if L > ``MAX_PATTERN_LINKS`` (then the kernels use geometric skipping)."""
    p = np.asarray(p_link, dtype=float)
    if p.size > MAX_PATTERN_LINKS or p.size == 0:
        return np.ones(0), np.zeros(0, np.int64), np.zeros((0, 1), np.int64)
    bits = (np.arange(2**p.size)[:, None] >> np.arange(p.size)) & 1
    prob, alias = alias_table(np.prod(np.where(bits == 1, p, 1.0 - p), axis=1))
    links = np.zeros((bits.shape[0], p.size + 1), np.int64)
    links[:, 0] = bits.sum(axis=1)
    for s in range(bits.shape[0]):
        fired = np.nonzero(bits[s])[0]
        links[s, 1:1 + fired.size] = fired
    return prob, alias, links


def geometric_skip(p_max: float, n_links: int):
    """(1/ln(1 − p_max), (1 − p_max)^L) for geometric skipping (−inf, 1: no link can fire; −0: all do)."""
    if p_max <= 0.0 or n_links == 0:
        return -math.inf, 1.0
    if p_max >= 1.0:
        return -0.0, 0.0
    inv = 1.0 / math.log1p(-p_max)
    return inv, math.exp(n_links / inv)


@njit(cache=True, inline="always")
def next_link(rng, k, inv_log1mq):
    """Next candidate link after k: Bernoulli(p_max) trials on successive links, done by geometric
    skipping (``inv_log1mq`` = 1/ln(1 − p_max); −inf: none fires; −0: every link is a candidate)."""
    skip = math.log(1.0 - uniform(rng)) * inv_log1mq
    return k + 1 + (int(skip) if skip < 4.0e18 else 4000000000000000000)


@njit(cache=True, inline="always")
def first_link(u, k_begin, k_end, inv_log1mq, no_link):
    """First candidate link of [k_begin, k_end) (k_end: none) from the uniform u; the same draw as
    :func:`next_link`, with "none" ((1 − u) ≤ (1 − p_max)^L, probability ``no_link``) decided
    without a logarithm."""
    v = 1.0 - u
    if v <= no_link:
        return k_end
    skip = math.log(v) * inv_log1mq
    return k_begin + (int(skip) if skip < k_end - k_begin else k_end - k_begin)


@njit(cache=True, inline="always")
def accept_link(rng, k, rec_e, link_accept, mode, tab, log_rate):
    """Thinning of a link k → j: w_k/max(w) (``link_accept``; empty for pattern tables: no random
    read of it on large lattices), and Γ(e_j)/Γ_max for energy-dependent coupling (``rec_e`` = e_j)."""
    if link_accept.size and link_accept[k] < 1.0 and uniform(rng) >= link_accept[k]:
        return False
    if mode == ENERGY_DEPENDENT:
        return uniform(rng) < fast_exp(log_rate_at(rec_e, tab[0], tab[1], log_rate) - tab[3])
    return True
