"""Serial post-processing of pel_hpc HDF5 (H5MD) files: metabasins, PEL parameters, CTRW, CLM.

Never imports mpi4py.  Importing :mod:`pel_hpc` first pins numba's cache to the sources.
"""
import pel_hpc  # noqa: F401  (keys the numba cache on the sources before any kernel compiles)
