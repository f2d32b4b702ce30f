"""pel_hpc — MPI-parallel Kob–Andersen MD and potential-energy-landscape analysis.

All quantities are in Lennard-Jones units of the A particles (see :mod:`pel_hpc.units`).
This module imports neither numba kernels nor mpi4py; it only pins numba's on-disk
cache to the current sources (see :mod:`pel_hpc._numba_cache`).
"""
from pel_hpc._numba_cache import configure_numba_cache as _configure_numba_cache

__version__ = "0.1.0"

_configure_numba_cache()
