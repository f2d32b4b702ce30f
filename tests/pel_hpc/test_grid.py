"""Serial parts of the decomposition: rank grid, halo-width check, exact sums, replica layout, launch check."""
import math
from itertools import product

import numpy as np
import pytest

from pel_hpc.errors import DecompositionError, LaunchError
from pel_hpc.parallel.comm import SerialComm
from pel_hpc.parallel.ensemble import replica_seed, replica_table
from pel_hpc.parallel.grid import choose_dims, largest_valid_grid, make_grid, owner_ranks
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


def test_owner_ranks_agree_with_subbox_bounds_and_neighbours_are_mutual():
    box, dims = np.array([12.0, 15.0, 18.0]), (2, 3, 4)
    x = np.random.default_rng(0).uniform(0, 1, (5000, 3)) * box
    owners = owner_ranks(x, box, dims)
    grids = [make_grid(r, 24, box, R_HALO, dims) for r in range(24)]
    for g in grids:
        mine = x[owners == g.rank]
        assert np.all(mine >= g.lo) and np.all(mine < g.hi)
        for d in range(3):
            minus, plus = g.neighbors[d]
            assert grids[plus].neighbors[d][0] == g.rank and grids[minus].neighbors[d][1] == g.rank
    assert np.bincount(owners, minlength=24).min() > 0


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
