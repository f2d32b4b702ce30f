"""Tests of postprocess.metabasins: hand-built IS sequences, brute force, tolerances, speed."""
import time as _time

import numpy as np
import pytest

from postprocess.metabasins import find_metabasins, label_inherent_structures, metabasin_boundaries

E = {"A": -10.0, "B": -9.0, "C": -12.0, "D": -11.5, "E": -8.0, "F": -13.0}


def _traj(s):
    return np.array([E[c] for c in s])


def test_nested_returns():
    # A B A | C D C | E    (B nested in A's interval, D nested in C's)
    mb = find_metabasins(_traj("ABACDCE"))
    assert mb.start.tolist() == [0, 3, 6] and mb.stop.tolist() == [2, 5, 6]
    assert mb.energy.tolist() == [-10.0, -12.0, -8.0]
    assert mb.frame.tolist() == [0, 3, 6]
    assert mb.waiting_time.tolist() == [3.0, 3.0, 1.0]
    assert mb.complete.tolist() == [False, True, False]


def test_chained_returns():
    # A B A B C B | D : A's and B's intervals overlap, C nested -> one MB of 6 frames
    mb = find_metabasins(_traj("ABABCBDFD" + "E"), time=0.5 * np.arange(10))
    assert mb.start.tolist() == [0, 6, 9] and mb.stop.tolist() == [5, 8, 9]
    assert mb.energy.tolist() == [-12.0, -13.0, -8.0]
    assert mb.frame.tolist() == [4, 7, 9]
    assert mb.waiting_time.tolist() == [3.0, 1.5, 0.5]
    assert mb.waiting_time.sum() == pytest.approx(0.5 * 10)


def test_no_return_every_is_its_own_mb_and_single_is():
    mb = find_metabasins(_traj("AABBCCD"))
    assert mb.waiting_time.tolist() == [2.0, 2.0, 2.0, 1.0]
    one = find_metabasins(_traj("AAAA"))
    assert len(one) == 1 and not one.complete[0]


def _brute_force(labels):
    """O(n²) reference: repeatedly merge overlapping [first, last] intervals."""
    ivs = []
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        ivs.append([idx[0], idx[-1]])
    ivs.sort()
    merged = [ivs[0]]
    for a, b in ivs[1:]:
        if a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [m[0] for m in merged], [m[1] for m in merged]


def test_random_sequences_match_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(200):
        n_is = rng.integers(1, 12)
        # random walk among few IS with occasional new ones: realistic returns
        labels = np.cumsum(rng.integers(-1, 2, size=rng.integers(1, 60))) % n_is
        start, stop = metabasin_boundaries(np.unique(labels, return_inverse=True)[1])
        ref_start, ref_stop = _brute_force(labels)
        assert start.tolist() == ref_start and stop.tolist() == ref_stop


def test_energy_tolerance_and_configuration_split():
    rng = np.random.default_rng(4)
    e = _traj("ABAB") + rng.normal(0, 1e-12, 4)  # re-quench scatter (6e-14 in our MD) inside ENERGY_TOL
    assert np.unique(label_inherent_structures(e)).size == 2
    assert np.unique(label_inherent_structures(np.array([-10.0, -10.0 + 1e-3]))).size == 2
    # same energy, different configurations -> different IS when positions confirm
    x = rng.uniform(0, 4, size=(5, 10, 3))
    pos = np.stack([x[0], x[1], x[0], x[1], x[0] + 0.01])
    lab = label_inherent_structures(np.full(5, -10.0), positions=pos, box=np.full(3, 4.0))
    assert lab[0] == lab[2] == lab[4] and lab[1] == lab[3] and lab[0] != lab[1]


def test_million_frames_fast():
    rng = np.random.default_rng(5)
    labels = np.cumsum(rng.random(1_000_000) < 0.05)
    labels = labels - (rng.random(labels.size) < 0.3)  # frequent back-jumps
    energy = -10.0 - 1e-2 * (labels % 997)
    t0 = _time.perf_counter()
    mb = find_metabasins(energy)
    assert _time.perf_counter() - t0 < 3.0
    assert mb.waiting_time.sum() == pytest.approx(energy.size)
