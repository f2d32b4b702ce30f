"""SIGTERM/SIGUSR1 → a flag → checkpoint at the next chunk boundary → exit code 75.

SLURM's ``--signal=B:USR1@120`` sends USR1 to the batch shell, whose ``trap`` forwards it to
the backgrounded ``mpirun``; Open MPI forwards USR1 to every rank.  A handler must not do
I/O, so it only records the signal; :class:`pel_hpc.io.ops.SignalOp` checks the flag
(reduced over all ranks, so every rank stops at the same step), writes the checkpoint and
raises :class:`~pel_hpc.errors.CheckpointExit`, whose exit code (75, EX_TEMPFAIL) tells the
job script to requeue.
"""
from __future__ import annotations

import signal

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class StopFlag:
    """Records the last stop signal received (``signum`` is 0 until one arrives)."""

    def __init__(self):
        self.signum = 0
        self._previous = {}

    def _handle(self, signum, frame) -> None:
        self.signum = int(signum)

    def install(self) -> "StopFlag":
        """Install the handlers for SIGTERM and SIGUSR1 (main thread only)."""
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def restore(self, ignore: bool = False) -> None:
        """Put the previous handlers back, or with ``ignore`` ignore the stop signals from now on
        (a process whose run is over: nothing is left to checkpoint)."""
        for sig, handler in self._previous.items():
            signal.signal(sig, signal.SIG_IGN if ignore else handler)
        self._previous.clear()

    @property
    def requested(self) -> bool:
        """Whether a stop signal has arrived on this rank."""
        return self.signum != 0
