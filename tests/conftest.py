"""Shared test configuration.

Serial tests run with ``pytest -m "not mpi" tests``; the MPI tests under ``tests/mpi``
run under ``mpirun -n 1``, ``-n 2``, ``-n 3`` and ``-n 4`` (see the Makefile's ``test`` target).
"""
import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")

import pel_hpc  # noqa: E402,F401  (keys the numba cache on the sources)
