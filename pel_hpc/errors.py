"""Typed errors of pel_hpc.

Each becomes a one-line message and a distinct non-zero exit code in :mod:`pel_hpc.cli`.
Raise them with a message that names the problem (a deck key path, a file, a grid).
"""


class PelError(Exception):
    """Base class: a user-facing error with a one-line message.

    ``hard_exit``: after the report the process leaves without Python's and HDF5's exit handlers, because
    HDF5 still holds a file that must not be closed (unwritable, or collective over ranks not closing it)."""

    exit_code = 1
    hard_exit = False


class DeckError(PelError):
    """An invalid input deck: unknown key, wrong type, out-of-range value, inconsistent combination."""

    exit_code = 2


class InputFileError(PelError):
    """A missing or unreadable file or folder the user named (start configuration, checkpoint, an output's folder)."""

    exit_code = 3


class CorruptFileError(PelError):
    """An HDF5 file that exists but is not a valid pel_hpc / H5MD file (or is truncated)."""

    exit_code = 4


class DecompositionError(PelError):
    """An impossible domain decomposition (sub-boxes thinner than the halo, bad rank count)."""

    exit_code = 5


class LaunchError(PelError):
    """A run started with the wrong number of MPI ranks for its allocation (e.g. SLURM_NTASKS mismatch)."""

    exit_code = 6


class OutputExistsError(PelError):
    """A fresh run whose output file already exists (continue it with --restart, or --overwrite)."""

    exit_code = 7


class CrystallineStartError(PelError):
    """Every inherent structure a start could be taken from is crystalline (pel_hpc.preparation's guard)."""

    exit_code = 8


class FileInUseError(PelError):
    """An HDF5 file that another process holds open (HDF5's file lock): a job still writing it."""

    exit_code = 9


class OutputWriteError(PelError):
    """A file the run writes could not be written (disk full, quota, I/O error); what was written
    before, and the last complete checkpoint, are kept."""

    exit_code = 10
    hard_exit = True  # HDF5's exit handler would flush the unwritable file again and crash (SIGSEGV)


class UnstableDynamicsError(PelError):
    """The MD diverged (a time step too large for the forces, or overlapping particles in a start
    configuration): a displacement or energy no longer finite, an NVT kinetic temperature beyond
    :data:`pel_hpc.md.thermostat.RUNAWAY` times the target, or H jumping between thermo rows
    (:data:`pel_hpc.operations.DRIFT_LIMIT`).  The output keeps the rows written before; no checkpoint
    is written of the diverged state."""

    exit_code = 11

    @classmethod
    def at(cls, replicas, step: int, reason: str, dt: float) -> "UnstableDynamicsError":
        """The one-line report: which replicas, by which step [MD steps], what was not finite, the usual causes."""
        names = ", ".join(map(str, replicas[:6])) + (f" and {len(replicas) - 6} more" if len(replicas) > 6 else "")
        who = f"replica {replicas[0]}" if len(replicas) == 1 else f"replicas {names}"
        hint = (f"integrator.dt = {dt:g} tau is larger than the usual 0.005: reduce it, or look for overlapping "
                f"particles in the start" if dt > 0.005 else
                f"the forces are too steep for integrator.dt = {dt:g} tau: look for overlapping particles in the "
                f"start, or reduce dt (a density far above 1.2 needs it)")
        return cls(f"{who}: the MD diverged by step {step}: {reason}; {hint}")


class CheckpointExit(PelError):
    """Raised after a checkpoint was written on SIGTERM/SIGUSR1: a clean, requeue-able exit."""

    exit_code = 75  # EX_TEMPFAIL: the job script may requeue and restart with --restart
