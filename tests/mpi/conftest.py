"""Tests in this folder run under ``mpirun -n 1/2/3/4 --oversubscribe python -m pytest -m mpi tests/mpi``.

Every test here is marked ``mpi``.  A failure on any rank calls ``MPI_Abort`` so that the
other ranks do not hang in a collective; only rank 0 reports to the terminal.
"""
import os
import sys
from pathlib import Path

import pytest
from mpi4py import MPI


_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    # this hook sees the whole session's items: mark only the ones in this folder
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.mpi)


def pytest_configure(config):
    if MPI.COMM_WORLD.rank != 0:  # silence the other ranks' reporters at the file-descriptor level
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and MPI.COMM_WORLD.size > 1:
        sys.stderr.write(f"[rank {MPI.COMM_WORLD.rank}] {item.nodeid} failed:\n{report.longreprtext}\n")
        sys.stderr.flush()
        MPI.COMM_WORLD.Abort(1)


@pytest.fixture
def world():
    """The raw world communicator (tests may import mpi4py; the package only in pel_hpc/parallel)."""
    return MPI.COMM_WORLD
