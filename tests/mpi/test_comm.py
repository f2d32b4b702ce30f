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


def test_scalar_reductions_keep_the_type_and_equal_the_sum(world):
    """int and float scalars (the MD step's reductions: no pickling) reduce to the exact sum/max/min
    with their Python type; other objects still reduce."""
    comm = MPIComm(world)
    n = comm.size
    total = comm.allreduce_sum(0.25 * (comm.rank + 1))
    assert type(total) is float and total == 0.125 * n * (n + 1)
    assert comm.allreduce_sum(np.float64(1.5)) == 1.5 * n
    big = comm.allreduce_max(2**40 + comm.rank)
    assert type(big) is int and big == 2**40 + n - 1
    assert comm.allreduce_min(np.int32(comm.rank - 3)) == -3
    assert comm.allreduce_max(comm.rank == n - 1) is True


def test_idle_barrier_waits_without_spinning(world):
    """While rank 0 works for 1 s, the others wait in ``idle_barrier`` using well under 0.3 s of CPU
    (a blocking MPI barrier spins: about 1 s of CPU each), and nobody leaves before rank 0 arrives."""
    import time

    comm = MPIComm(world)
    comm.barrier()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    if comm.rank == 0:
        time.sleep(1.0)
    comm.idle_barrier()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    assert wall >= 0.95
    if comm.rank != 0:
        assert cpu < 0.3, f"rank {comm.rank} used {cpu:.2f} s of CPU while waiting"
