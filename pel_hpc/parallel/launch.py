"""Launch checks: the MPI world must match the batch allocation before any work starts."""
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
