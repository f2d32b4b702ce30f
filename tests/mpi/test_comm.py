"""Collectives of the MPIComm wrapper agree with the arithmetic they stand for."""
import numpy as np

from pel_hpc.parallel.comm import MPIComm


def test_allreduce_and_split(world):
    comm = MPIComm(world)
    n = comm.size
    total = comm.allreduce_sum(np.array([comm.rank, 1.0]))
    assert total.tolist() == [n * (n - 1) / 2, n]
    assert comm.allreduce_max(comm.rank) == n - 1
    sub = comm.split(comm.rank % 2, comm.rank)
    assert sub.size == len(range(comm.rank % 2, n, 2))
    assert sub.allreduce_sum(1) == sub.size
