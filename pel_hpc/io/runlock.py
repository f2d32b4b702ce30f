"""The run lock: one running job per output file.

A run holds an exclusive ``flock`` on ``.<output name>.lock`` beside its output file from before it
reads or writes anything until it ends (rank 0 holds it; the kernel drops it when the process dies,
even on SIGKILL).  A second ``pel-hpc run`` of the same output — a job submitted twice, ``--restart``
or ``--overwrite`` while the first still runs — is refused in one line (:class:`FileInUseError`)
instead of truncating, unlinking or appending to the file the first job is writing.  HDF5's own
file lock does not cover this: HDF5 1.10 takes no lock under the MPI-IO driver, and its ``w`` mode
truncates before it locks.  Readers (``pel-hpc info``, ``export``, the post-processing commands)
refuse a file whose run still holds its lock, whose contents are then incomplete.

The lock file names its holder (pid, host, SLURM job) and is removed when the run ends (a run killed
hard leaves it unlocked; the next run takes it over).  Removal while holding the lock is safe because a
run that locks the file checks that the name still leads to the file it locked, and starts over if
not.  On a file system without ``flock`` (some Lustre mounts) no lock is taken and runs proceed
unprotected, as before.
"""
from __future__ import annotations

import errno
import fcntl
import os
import socket
from pathlib import Path

from pel_hpc.errors import FileInUseError, InputFileError

_UNSUPPORTED = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}


def lock_path(output) -> Path:
    """``.<name>.lock`` in the output file's folder."""
    output = Path(output)
    return output.with_name(f".{output.name}.lock")


def _holder(lock: Path) -> str:
    try:
        text = lock.read_text().strip()
    except OSError:
        text = ""
    return f" ({text})" if text else ""


def _refusal(output, lock: Path) -> FileInUseError:
    return FileInUseError(f"'{output}' belongs to a running job{_holder(lock)}: wait until it has ended "
                          f"(lock {lock.name})")


def acquire(output):
    """Take the run lock of ``output`` (rank 0 of a run); returns the lock, to pass to :func:`release`,
    or None where the file system has no ``flock``.  Raises :class:`FileInUseError` if another process
    holds it."""
    lock = lock_path(output)
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            raise InputFileError(f"no folder '{lock.parent}' for the output file '{output}'") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _refusal(output, lock) from None
        except OSError as exc:
            os.close(fd)
            if exc.errno in _UNSUPPORTED:
                return None
            raise
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed it between our open and our lock: lock the new one
    job = os.environ.get("SLURM_JOB_ID")
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}{f', SLURM job {job}' if job else ''}\n".encode())
    return lock, fd


def release(taken) -> None:
    """Remove and drop the lock taken by :func:`acquire` (None: nothing to drop)."""
    if taken is not None:
        lock, fd = taken
        try:
            os.unlink(lock)  # while still held: no other run has it
        except FileNotFoundError:
            pass
        os.close(fd)


def check_not_running(path) -> None:
    """Refuse to read ``path`` while a run holds its lock (:class:`FileInUseError`); a file without a
    lock file (a checkpoint, another program's file) or on a file system without ``flock`` passes."""
    lock = lock_path(path)
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _refusal(path, lock) from None
    except OSError as exc:
        if exc.errno not in _UNSUPPORTED:
            raise
    finally:
        os.close(fd)
