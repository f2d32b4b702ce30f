"""Serial parts of the decomposition: rank grid, halo-width check, exact sums, replica layout, launch check."""
import math
from itertools import product

import numpy as np
import pytest

from pel_hpc.errors import DecompositionError, LaunchError
from pel_hpc.parallel.comm import SerialComm
from pel_hpc.parallel.ensemble import replica_seed, replica_table
from pel_hpc.parallel.grid import (balanced_cuts, choose_dims, largest_valid_grid, make_grid, owner_ranks,
                                  rebalanced, uniform_cuts)
from pel_hpc.parallel.halo import _fill_holes, _to_matrix, _unpack_matrix
from pel_hpc.parallel.halo_kernels import count_misplaced, leaving_rows, sort_rows_by_tag
from pel_hpc.parallel.launch import check_slurm_ntasks
from pel_hpc.parallel.reduction import N_LIMBS, accumulate_limbs, exact_sum, limbs_to_float

R_HALO = 2.8


@pytest.mark.parametrize("size", [1, 2, 4, 6, 8, 12])
def test_auto_grid_minimises_the_halo_surface(size):
    """Brute force over every ordered factorisation: the chosen grid has the least surface."""
    box = np.array([20.0, 20.0, 30.0])
    dims = choose_dims(size, box, R_HALO)
    assert math.prod(dims) == size

    def area(d):
        w = box / np.asarray(d)
        return w[0] * w[1] + w[1] * w[2] + w[0] * w[2]

    every = [d for d in product(range(1, size + 1), repeat=3) if math.prod(d) == size]
    assert area(dims) == pytest.approx(min(area(d) for d in every))


def test_thin_subboxes_are_refused_naming_the_largest_grid():
    box = np.full(3, 18.8)  # N = 8000 at density 1.2
    with pytest.raises(DecompositionError, match=r"largest grid that works is 6x6x6 \(216 ranks\)"):
        make_grid(0, 7 * 7 * 7, box, R_HALO, [7, 7, 7])
    with pytest.raises(DecompositionError, match="thinner than the halo"):
        make_grid(0, 8, box, R_HALO, [8, 1, 1])
    with pytest.raises(DecompositionError, match="has 4 sub-boxes but the replica group has 2 ranks"):
        make_grid(0, 2, box, R_HALO, [2, 2, 1])
    best = largest_valid_grid(box, R_HALO)
    assert all(box[d] / best[d] >= R_HALO > box[d] / (best[d] + 1) for d in range(3))


@pytest.mark.parametrize("shifted", [False, True])
def test_owner_ranks_agree_with_subbox_bounds_and_neighbours_are_mutual(shifted):
    """Equal sub-boxes and planes shifted as load balancing does: the owner of every position
    (numpy and the migration kernels) is the sub-box whose bounds contain it."""
    box, dims = np.array([12.0, 15.0, 18.0]), (2, 3, 4)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (5000, 3)) * box
    grids = [make_grid(r, 24, box, R_HALO, dims) for r in range(24)]
    cuts = uniform_cuts(box, dims)
    if shifted:
        cuts = tuple(np.concatenate(([0.0], np.sort(rng.uniform(0, L, n - 1)), [L])) for L, n in zip(box, dims))
        grids = [g.with_cuts(cuts) for g in grids]
    k = 0
    for d, planes in enumerate(cuts):  # positions exactly on a plane belong to the slab above it
        for plane in planes[:-1]:
            x[k, d] = plane
            k += 1
    owners = owner_ranks(x, cuts)
    for g in grids:
        mine = x[owners == g.rank]
        assert np.all(mine >= g.lo) and np.all(mine < g.hi)
        assert count_misplaced(mine, len(mine), *g.cuts, np.array(g.coords)) == 0
        others = x[owners != g.rank]
        assert count_misplaced(others, len(others), *g.cuts, np.array(g.coords)) == len(others)
        for d in range(3):
            minus, plus = g.neighbors[d]
            assert grids[plus].neighbors[d][0] == g.rank and grids[minus].neighbors[d][1] == g.rank
    assert np.bincount(owners, minlength=24).min() > 0


def test_migration_hops_go_the_shorter_periodic_way():
    cuts = np.array([0.0, 2.0, 3.5, 7.0, 10.0])  # 4 unequal slabs; this rank owns slab 1
    x = np.zeros((6, 3))
    x[:, 0] = [1.0, 2.5, 4.0, 8.0, 9.9, 0.0]  # slabs 0, 1, 2, 3, 3, 0
    minus, plus = np.empty(6, np.int64), np.empty(6, np.int64)
    b, c = leaving_rows(x, 6, 0, cuts, 1, minus, plus)
    # slab 0 is one hop minus; slab 2 one hop plus; slab 3 is two hops either way (a tie goes plus)
    assert list(minus[:b]) == [0, 5] and sorted(plus[:c]) == [2, 3, 4]


@pytest.mark.parametrize("seed", range(6))
def test_migration_removes_leavers_keeps_the_rest_and_round_trips_every_array(seed):
    """Rows packed for sending hold every array's row exactly (ints through float64); removing the
    leavers moves only tail rows into holes and keeps every staying row once; unpacking the packed
    rows after the kept ones restores the original set of rows."""
    rng = np.random.default_rng(seed)
    n, cap = 200, 260
    arrays = {"x": rng.random((cap, 3)), "typ": rng.integers(0, 2, cap).astype(np.int32),
              "tag": rng.permutation(cap).astype(np.int64) + 2**40, "image": rng.integers(-9, 9, (cap, 3)).astype(np.int32)}
    before = {k: a[:n].copy() for k, a in arrays.items()}
    leave = np.sort(rng.choice(n, size=int(rng.integers(0, 60)), replace=False)).astype(np.int64)
    packed = _to_matrix(arrays, leave)
    n_keep = _fill_holes(arrays, leave, n)
    assert n_keep == n - leave.size
    stay = np.setdiff1d(np.arange(n), leave)
    assert sorted(arrays["tag"][:n_keep].tolist()) == sorted(before["tag"][stay].tolist())
    untouched = np.setdiff1d(np.arange(n_keep), leave)  # rows below n_keep that stay keep their place
    assert np.array_equal(arrays["tag"][untouched], before["tag"][untouched])
    _unpack_matrix(arrays, packed, n_keep)
    order = np.argsort(arrays["tag"][:n])
    ref = np.argsort(before["tag"])
    for k in arrays:
        assert np.array_equal(arrays[k][:n][order], before[k][ref]), k
        assert arrays[k].dtype == before[k].dtype


def test_balanced_cuts_equalise_times_within_the_halo_bound():
    """A slab measured slower per width loses width in proportion to its speed; damping takes
    a fraction of the step; no slab falls below the halo width; equal times change nothing."""
    cuts = np.array([0.0, 5.0, 10.0, 15.0, 20.0])
    assert np.allclose(balanced_cuts(cuts, [1.0, 1.0, 1.0, 1.0], 2.8), cuts)
    full = balanced_cuts(cuts, [2.0, 1.0, 1.0, 1.0], 2.8, damping=1.0)
    w = np.diff(full)
    speed = np.diff(cuts) / np.array([2.0, 1.0, 1.0, 1.0])
    assert np.allclose(w / w.sum(), speed / speed.sum()) and full[0] == 0.0 and full[-1] == 20.0
    # after the move, times ∝ w / speed are equal
    assert np.allclose(w / speed, (w / speed)[0])
    half = balanced_cuts(cuts, [2.0, 1.0, 1.0, 1.0], 2.8, damping=0.5)
    assert np.allclose(half, 0.5 * (cuts + full))
    clamped = balanced_cuts(cuts, [100.0, 1.0, 1.0, 1.0], 2.8, damping=1.0)
    w = np.diff(clamped)
    assert w[0] == pytest.approx(2.8) and np.allclose(w[1:], (20.0 - 2.8) / 3) and np.all(np.diff(clamped) > 0)
    assert np.array_equal(balanced_cuts(cuts, [1.0, 0.0, 1.0, 1.0], 2.8), cuts)  # nothing measured


def test_rebalanced_grid_sums_slab_times_over_ranks():
    box, dims = np.array([20.0, 20.0, 20.0]), (2, 2, 1)
    g = make_grid(3, 4, box, R_HALO, dims)
    times = [3.0, 3.0, 1.0, 1.0]  # ranks (0, 0), (0, 1) slow; x slab 0 takes 6, slab 1 takes 2
    new = rebalanced(g, times, R_HALO, damping=1.0)
    assert new.cuts[0][1] == pytest.approx(20.0 * (1 / 6) / (1 / 6 + 1 / 2))
    assert np.allclose(new.cuts[1], g.cuts[1]) and np.allclose(new.cuts[2], g.cuts[2])
    assert np.allclose(new.lo, [new.cuts[0][1], 10.0, 0.0]) and np.allclose(new.hi, [20.0, 20.0, 20.0])


def test_exact_sum_is_correctly_rounded_and_order_free():
    """Compared with math.fsum (correctly rounded) on values spanning 600 decades; a split into
    'ranks' whose limbs are added as integers gives the same bits in any order."""
    rng = np.random.default_rng(1)
    v = rng.normal(size=(4000, 2)) * 10.0 ** rng.integers(-300, 300, size=(4000, 2))
    v[:3, 0] = [5e-324, -5e-324, 1e308]
    total = exact_sum(v, SerialComm())
    assert [total[c] == math.fsum(v[:, c]) for c in range(2)] == [True, True]
    for parts in (3, 7):
        chunks = np.array_split(v[rng.permutation(len(v))], parts)
        limbs = np.zeros((2, N_LIMBS), np.int64)
        for chunk in chunks:
            part = np.zeros_like(limbs)
            accumulate_limbs(np.ascontiguousarray(chunk), len(chunk), part)
            limbs += part
        assert np.array_equal(limbs_to_float(limbs), total)


@pytest.mark.parametrize("seed", [0, 1])
def test_rows_sorted_by_species_tag_then_position_as_pythons_sort_orders_them(seed):
    """Reproducible mode's row order (species, tag, then x, y, z for images of one particle), checked
    against Python's ``sorted`` on the same keys, for rows with several images of a particle."""
    rng = np.random.default_rng(seed)
    n_local, n_total, width = 30, 90, 40
    tag = np.concatenate([np.arange(n_local), rng.integers(0, n_local, n_total - n_local)]).astype(np.int64)
    typ = (tag % 5 == 0).astype(np.int32)  # species by particle, as images share it
    x = rng.normal(size=(n_total, 3))
    x[n_local + 1, :2] = x[tag[n_local + 1], :2]  # an image differing only in z
    count = rng.integers(0, width, n_local).astype(np.int32)
    nlist = np.zeros((n_local, width), np.int32)
    for i in range(n_local):
        nlist[i, :count[i]] = rng.choice(n_total, count[i], replace=False)
    expect = [sorted(nlist[i, :count[i]], key=lambda j: (typ[j], tag[j], *x[j])) for i in range(n_local)]
    sort_rows_by_tag(nlist, count, typ, tag, x, n_local, n_total)
    for i in range(n_local):
        assert nlist[i, :count[i]].tolist() == [int(j) for j in expect[i]]


def test_replica_table_blocks_and_refusals():
    assert replica_table(8, 1, 2) == ((0, 1, 2, 3), (4, 5, 6, 7))
    assert replica_table(5, 2, 4) == ((0, 1), (2, 3, 4))
    with pytest.raises(DecompositionError, match="groups of ensemble.ranks_per_replica = 2"):
        replica_table(8, 2, 3)
    with pytest.raises(DecompositionError, match="at most 2 ranks"):
        replica_table(2, 1, 4)
    seeds = {replica_seed(12345, k) for k in range(1000)}
    assert len(seeds) == 1000 and replica_seed(1, 3) != replica_seed(2, 3)


def test_slurm_ntasks_mismatch_is_refused():
    check_slurm_ntasks(4, {"SLURM_NTASKS": "4"})
    check_slurm_ntasks(4, {})
    with pytest.raises(LaunchError, match="SLURM_NTASKS=8 but MPI started 4 ranks"):
        check_slurm_ntasks(4, {"SLURM_NTASKS": "8"})
