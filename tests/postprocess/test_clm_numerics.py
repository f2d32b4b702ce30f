"""CLM kernel numerics: the log-free histogram bins, the inlined exp, and the link-pattern tables.

References: ``numpy.searchsorted`` on the same edges, ``numpy.exp``, and the product of independent
per-link Bernoulli probabilities enumerated by brute force.
"""
import math

import numpy as np
from numba import njit

from postprocess.clm.fast_exp import fast_exp
from postprocess.clm.links import link_patterns
from postprocess.clm.log_bins import log_bin, log_bin_table


@njit
def _apply(x, cells, edges):
    out = np.empty(x.size, np.int64)
    for i in range(x.size):
        out[i] = log_bin(x[i], cells, edges)
    return out


@njit
def _exp(x):
    out = np.empty(x.size)
    for i in range(x.size):
        out[i] = fast_exp(x[i])
    return out


def test_log_bins_equal_searchsorted():
    """Every τ (random, the edges themselves and their neighbours, 0) lands where searchsorted puts it."""
    log_lo, dlog, n_edges = math.log(3.7e-6), math.log(10.0) / 20, 241
    cells, edges = log_bin_table(log_lo, dlog, n_edges)
    x = np.exp(np.random.default_rng(1).uniform(log_lo - 5, log_lo + n_edges * dlog + 5, 200_000))
    e = edges[:-1]
    x = np.concatenate([x, e, np.nextafter(e, 0), np.nextafter(e, np.inf), [0.0, 1e-300, 1e300]])
    np.testing.assert_array_equal(_apply(x, cells, edges), np.searchsorted(e, x, side="right"))


def test_fast_exp_within_one_ulp():
    x = np.concatenate([np.random.default_rng(2).uniform(-700, 700, 10**6),
                        np.random.default_rng(3).uniform(-60, 60, 10**6), [0.0, 1.0, -1.0, 1e-300]])
    ref = np.exp(x)
    assert np.abs(_exp(x).view(np.int64) - ref.view(np.int64)).max() <= 1


def test_link_patterns_are_independent_bernoulli_links():
    """The alias table's subset masses equal Π p_k Π (1 − p_k); the lists name the set bits."""
    p = np.array([0.1, 0.1, 0.3, 0.05, 0.9, 0.0])
    prob, alias, links = link_patterns(p)
    n = prob.size
    mass = prob / n
    np.add.at(mass, alias, (1.0 - prob) / n)
    for s in range(n):
        fired = [k for k in range(p.size) if s >> k & 1]
        assert list(links[s, 1:1 + links[s, 0]]) == fired
        assert math.isclose(mass[s], np.prod([p[k] if k in fired else 1 - p[k] for k in range(p.size)]),
                            rel_tol=1e-9, abs_tol=1e-15)
    assert link_patterns(np.full(11, 0.1))[0].size == 0          # many links: geometric skipping
