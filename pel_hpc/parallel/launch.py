"""Launch checks: the MPI world and the threads per rank must match the batch allocation before any
work starts."""
from __future__ import annotations

import os

from pel_hpc.errors import LaunchError


def check_slurm_ntasks(world_size: int, environ=None) -> None:
    """Refuse to start when ``SLURM_NTASKS`` is set and differs from the world size.

    A mismatch means ``mpirun``/``srun`` was called with a different ``-n`` than the job
    allocated (over- or under-subscribing the nodes); it is cheaper to stop at once.

    Parameters
    ----------
    world_size : int
        ``COMM_WORLD`` size.
    environ : mapping, optional
        Environment to read (default ``os.environ``).

    Raises
    ------
    LaunchError
        Naming both numbers.
    """
    env = os.environ if environ is None else environ
    value = env.get("SLURM_NTASKS")
    if value is None or value == "":
        return
    try:
        ntasks = int(value)
    except ValueError:
        raise LaunchError(f"SLURM_NTASKS={value!r} is not an integer") from None
    if ntasks != world_size:
        raise LaunchError(f"SLURM_NTASKS={ntasks} but MPI started {world_size} ranks; "
                          f"launch with srun or mpirun -n {ntasks}")


def use_threads(threads: int, environ=None) -> None:
    """Give numba's thread pool ``threads`` threads in this rank (deck ``run.threads``; the domain
    runs the list force kernel on them, :mod:`pel_hpc.md.forces`).

    Refused (LaunchError, before any work) when the rank cannot have that many CPUs: SLURM gave each
    task fewer (``SLURM_CPUS_PER_TASK``), or the rank is bound to fewer (its affinity mask; ``mpirun``
    binds each rank to one core unless told ``--map-by slot:PE=<threads>`` or ``--bind-to none``),
    or ``NUMBA_NUM_THREADS`` caps the pool below it.  With one thread the pool is never started.
    """
    env = os.environ if environ is None else environ
    cpus = env.get("SLURM_CPUS_PER_TASK", "")
    if cpus.isdigit() and int(cpus) < threads:
        raise LaunchError(f"run.threads is {threads} but SLURM gives each task {cpus} CPU(s) "
                          f"(SLURM_CPUS_PER_TASK); submit with --cpus-per-task={threads}")
    usable = len(os.sched_getaffinity(0))
    if usable < threads:
        raise LaunchError(f"run.threads is {threads} but this rank may run on {usable} CPU(s) (its affinity "
                          f"mask); launch with mpirun --map-by slot:PE={threads} (or --bind-to none)")
    if threads == 1:
        return
    import numba

    if numba.config.NUMBA_NUM_THREADS < threads:
        raise LaunchError(f"run.threads is {threads} but NUMBA_NUM_THREADS is {numba.config.NUMBA_NUM_THREADS}; "
                          f"export NUMBA_NUM_THREADS={threads} (or unset it)")
    numba.set_num_threads(threads)
