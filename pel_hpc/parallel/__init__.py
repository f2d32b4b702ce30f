"""Everything that talks MPI: communicator wrappers, rank grid, halo exchange, replica ensembles.

This sub-package is the only place in pel_hpc that imports mpi4py.
"""
