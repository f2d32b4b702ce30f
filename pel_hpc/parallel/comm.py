"""Communicator wrappers: the only import of mpi4py in pel_hpc.

Code outside :mod:`pel_hpc.parallel` receives a :class:`SerialComm` or an :class:`MPIComm`
and calls the same small interface on either; the communicator is always passed in,
never taken from a module-level ``COMM_WORLD``, so replica groups work unchanged.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np


class SerialComm:
    """Null communicator of one rank: every collective is the identity."""

    rank = 0
    size = 1
    raw = None  # what h5py's ``driver="mpio"`` would need; serial runs open files without it

    def allreduce_sum(self, value):
        """Global sum of a scalar or a numpy array (a copy for arrays)."""
        return np.array(value, copy=True) if isinstance(value, np.ndarray) else value

    def allreduce_max(self, value):
        """Global maximum of a scalar or a numpy array."""
        return self.allreduce_sum(value)

    def allreduce_min(self, value):
        """Global minimum of a scalar or a numpy array."""
        return self.allreduce_sum(value)

    def allgather(self, obj):
        """List of every rank's object (here: a one-element list)."""
        return [obj]

    def bcast(self, obj, root: int = 0):
        """The root rank's object on every rank."""
        return obj

    def alltoall(self, objs: list) -> list:
        """``objs[k]`` goes to rank k; returns what every rank sent here (workflow: H5MD rows by tag block)."""
        return list(objs)

    def barrier(self) -> None:
        """Synchronise all ranks (nothing to do here)."""

    def idle_barrier(self, poll: float = 0.005) -> None:
        """:meth:`barrier` for ranks that may wait long (nothing to do here)."""

    def split(self, color: int, key: int = 0) -> "SerialComm":
        """Sub-communicator of the ranks with the same color (here: this one)."""
        return self


class MPIComm:
    """Thin wrapper of an ``mpi4py.MPI.Comm`` with the :class:`SerialComm` interface.

    Reductions of arrays and of int/float scalars use the uppercase buffer interface on numpy
    buffers (scalars on persistent one-element buffers): nothing is pickled in the MD step.
    """

    def __init__(self, comm=None):
        from mpi4py import MPI

        self._MPI = MPI
        self.raw = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.raw.Get_rank()
        self.size = self.raw.Get_size()
        self._scalar = {float: (np.zeros(1), np.zeros(1)), int: (np.zeros(1, np.int64), np.zeros(1, np.int64))}

    def _reduce(self, value, op):
        """Arrays and int/float scalars by ``Allreduce`` on numpy buffers (scalars: persistent
        one-element buffers, no allocation, no pickling); anything else by the pickled path."""
        if isinstance(value, np.ndarray):
            send = np.ascontiguousarray(value)
            recv = np.empty_like(send)
            self.raw.Allreduce(send, recv, op=op)
            return recv
        kind = float if isinstance(value, (float, np.floating)) else \
            int if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) else None
        if kind is None:
            return self.raw.allreduce(value, op=op)
        send, recv = self._scalar[kind]
        send[0] = value
        self.raw.Allreduce(send, recv, op=op)
        return kind(recv[0])

    def allreduce_sum(self, value):
        """Global sum of a scalar or a numpy array."""
        return self._reduce(value, self._MPI.SUM)

    def allreduce_max(self, value):
        """Global maximum of a scalar or a numpy array."""
        return self._reduce(value, self._MPI.MAX)

    def allreduce_min(self, value):
        """Global minimum of a scalar or a numpy array."""
        return self._reduce(value, self._MPI.MIN)

    def allgather(self, obj):
        """List of every rank's (picklable) object, in rank order."""
        return self.raw.allgather(obj)

    def bcast(self, obj, root: int = 0):
        """The root rank's (picklable) object on every rank."""
        return self.raw.bcast(obj, root=root)

    def alltoall(self, objs: list) -> list:
        """``objs[k]`` (picklable) goes to rank k; returns the list received from every rank."""
        return self.raw.alltoall(objs)

    def barrier(self) -> None:
        """Synchronise all ranks."""
        self.raw.Barrier()

    def idle_barrier(self, poll: float = 0.005) -> None:
        """Synchronise all ranks, sleeping ``poll`` seconds between tests of a non-blocking barrier.

        For ranks that may wait long while others work (a preparation on some of the ranks): Open
        MPI's blocking calls spin, so such a rank would take a core from a working one wherever
        ranks share cores (``--oversubscribe``, shared nodes).  Costs up to ``poll`` s of latency."""
        request = self.raw.Ibarrier()
        while not request.Test():
            time.sleep(poll)

    def waitall(self, requests: list) -> None:
        """Complete the non-blocking point-to-point requests (``raw.Isend``/``raw.Irecv``)."""
        self._MPI.Request.Waitall(requests)

    def split(self, color: int, key: int = 0) -> "MPIComm":
        """Sub-communicator of the ranks with the same color, ordered by key."""
        return MPIComm(self.raw.Split(color, key))


LAUNCHER_RANK = ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK")  # set by mpirun (Open MPI, PMIx, MPICH/srun)


def _running_mpi():
    """The ``mpi4py.MPI`` module if MPI is running in this process (never started here), else None."""
    mpi = sys.modules.get("mpi4py.MPI")
    return mpi if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized() else None


def world_rank(environ=None) -> int:
    """This process's rank in MPI_COMM_WORLD, also before MPI is started (from the launcher's
    environment); 0 in a process that no launcher started.  Never starts MPI itself."""
    mpi = _running_mpi()
    if mpi is not None:
        return mpi.COMM_WORLD.Get_rank()
    env = os.environ if environ is None else environ
    for name in LAUNCHER_RANK:
        if env.get(name, "").isdigit():
            return int(env[name])
    return 0


_FAILURES = None  # a duplicate of COMM_WORLD made by world(): error reports agree on it, apart from other traffic


def world() -> SerialComm | MPIComm:
    """The world communicator: an :class:`MPIComm` (one rank under plain ``python`` is fine).

    Collective on first use: also duplicates COMM_WORLD for :func:`report_failure`."""
    global _FAILURES
    comm = MPIComm()
    if _FAILURES is None and comm.size > 1:
        _FAILURES = comm.raw.Dup()
    return comm


def report_failure(line: str, exit_code: int, stream=None, delay: float = 2.0) -> None:
    """Report a failure once per run, as one whole line on ``stream`` (stderr), then return.

    mpirun forwards each rank's stderr as it arrives, so the line is written in one call (in two
    pieces, unbuffered Python's text then newline, it can merge with another rank's).  Bad input
    fails on every rank at once, and then rank 0 alone reports:

    * MPI running (after :func:`world`): the ranks meet in a barrier on a communicator of its own;
      if every rank arrives within ``delay`` seconds, rank 0 writes the line and all return
      (MPI then finalises normally).  A rank that does not meet the others failed alone (the others
      wait elsewhere, for it): it writes its line and aborts the job with ``exit_code``, as a
      normal exit would leave the others waiting for ever.
    * MPI not started (a bad deck): rank 0 writes at once, any other rank ``delay`` seconds later,
      by which time mpirun has ended the job on rank 0's exit; a rank that failed alone still reports.
    """
    stream = sys.stderr if stream is None else stream

    def write() -> None:
        stream.write(line + "\n")  # one call: a whole line
        stream.flush()

    mpi = _running_mpi()
    if mpi is not None and _FAILURES is not None:
        request = _FAILURES.Ibarrier()
        end = time.monotonic() + delay
        while not request.Test():
            if time.monotonic() > end:
                write()
                mpi.COMM_WORLD.Abort(exit_code)
            time.sleep(0.005)
        if _FAILURES.Get_rank() == 0:
            write()
        return
    if world_rank() != 0:
        time.sleep(delay)
    write()
