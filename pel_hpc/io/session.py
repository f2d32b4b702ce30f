"""One production run of a validated deck: replicas, output file, checkpoints, signals, restart.

:func:`run_deck` is what ``pel-hpc run DECK [--restart]`` calls.  In order:

0. the output's run lock (:mod:`pel_hpc.io.runlock`), held to the end: one running job per output;
1. launch checks (``SLURM_NTASKS`` equals the world size; a multiple of
   ``ensemble.ranks_per_replica`` ranks, at most one group per replica) and the replica split
   of :func:`pel_hpc.parallel.ensemble.replica_table` (several replicas per group when the
   world has fewer groups than replicas);
2. one simulation per replica of this rank's group — from the deck's start (per
   ``ensemble.mode``; replica k's start depends only on ``(run.seed, k)``), or from the last
   complete checkpoint with ``--restart`` (bitwise continuation on the same rank count and
   grouping; any other rank count or grouping restarts from the replicas' global arrays) — run in
   lockstep by a :class:`~pel_hpc.parallel.group.ReplicaGroup` (one compiled batch for
   single-rank tiny boxes, one replica after the other per chunk otherwise);
3. the H5MD file with one particles group per replica — created, or re-opened with every
   frame after the checkpoint step dropped, so the output holds every frame exactly once;
4. the stages from the current step to the end; SIGTERM/SIGUSR1 make a checkpoint and
   exit 75 (:class:`~pel_hpc.errors.CheckpointExit`); a final checkpoint marks completion.

A ``--restart`` deck must continue the same run (:mod:`pel_hpc.deck.restart`, checked first); one
that changed what may change (e.g. longer stages) is kept in the file next to the original.

The deck was validated before this function is called, so a bad deck never creates a file.
"""
from __future__ import annotations

import os
import re
import sys

from pel_hpc.deck.checks import check_world_size
from pel_hpc.deck.restart import check_restart_deck
from pel_hpc.errors import InputFileError, OutputWriteError, PelError, UnstableDynamicsError
from pel_hpc.io import layout as L
from pel_hpc.io import runlock
from pel_hpc.io.checkpoint import checkpoint_step, read_restart_states, write_checkpoint
from pel_hpc.io.h5md import open_h5
from pel_hpc.io.ops import ProgressOp, output_operations
from pel_hpc.io.reader import run_deck_text
from pel_hpc.io.signals import StopFlag
from pel_hpc.io.writer import H5MDWriter


def replica_layout(cfg, world):
    """(ReplicaLayout, group communicator) of this rank: the replicas its group runs.

    Raises
    ------
    LaunchError
        When the world size is not a multiple of the ranks per replica
        (:func:`~pel_hpc.deck.checks.ranks_per_replica`) or makes more groups than ``ensemble.replicas``.
    """
    from pel_hpc.parallel.ensemble import split_world

    return split_world(world, cfg.ensemble.replicas, check_world_size(cfg, world.size))


def start_states(cfg, layout, world, restart: bool, comm=None, stream=None) -> list:
    """Start states of this group's replicas: the deck's (per ``ensemble.mode``; a random start pushed
    on the group communicator ``comm``, its report on ``stream``) or the checkpoint's (on a group of
    several ranks, each its own particles when the checkpoint must be redistributed)."""
    if not restart:
        from pel_hpc.parallel.ensemble import replica_states
        from pel_hpc.physics.kob_andersen import pair_table

        return replica_states(cfg, layout.replicas, pair_table(cfg.system.cutoff, cfg.system.truncation), comm,
                              stream)
    if not os.path.isfile(cfg.output.file):
        raise InputFileError(f"--restart: no output file '{cfg.output.file}' to append to")
    if cfg.checkpoint.file is None:
        raise InputFileError(f"--restart: the deck writes no checkpoint (checkpoint.file: null), so "
                             f"'{cfg.output.file}' cannot be continued: start afresh with --overwrite")
    keep = None
    if comm is not None and comm.size > 1:  # a replica on several ranks: each reads the particles it owns
        from pel_hpc.parallel.grid import owned_by
        from pel_hpc.physics.kob_andersen import pair_table

        r_halo = pair_table(cfg.system.cutoff, cfg.system.truncation).rc_max + cfg.system.skin
        keep = lambda box: owned_by(comm, box, r_halo, cfg.decomposition.grid)  # noqa: E731
    return read_restart_states(cfg.checkpoint.file, world, layout.replicas, comm, keep)


def check_restart(cfg) -> None:
    """Refuse a ``--restart`` deck that would continue a different run (:mod:`pel_hpc.deck.restart`),
    before anything runs or is written; every rank reads the file and raises alike."""
    step = None if cfg.checkpoint.file is None else checkpoint_step(cfg.checkpoint.file)
    if step is None or not os.path.isfile(cfg.output.file):
        return  # nothing to continue: start_states reports it
    with open_h5(cfg.output.file, "r") as f:
        text = run_deck_text(f)
    check_restart_deck(text, cfg.deck_text, step, cfg.output.file)


def build_group(cfg, layout, comm, states, stream):
    """A :class:`ReplicaGroup` of one simulation per replica (only the first prints a thermo table)."""
    from pel_hpc.build import build_simulation
    from pel_hpc.parallel.group import ReplicaGroup

    quiet = open(os.devnull, "w")
    return ReplicaGroup([build_simulation(cfg, comm, k, stream if i == 0 else quiet, state=s)
                         for i, (k, s) in enumerate(zip(layout.replicas, states))])


def run_remaining(group, cfg) -> None:
    """Run every stage from the group's current step to the end of the deck.

    A deck whose stages have no steps at all (a start written out, or its energy evaluated: LAMMPS'
    ``run 0``) still acts its operations at its one step, with the last stage's output flag; otherwise
    the last step has acted already and the final call does nothing."""
    for i, stage in enumerate(cfg.stages):
        left = cfg.stage_start(i) + stage.steps - group.step
        if left > 0:
            group.run(left, output=stage.output)
    if cfg.stages:
        group.run(0, output=cfg.stages[-1].output)


def take_run_lock(path, world):
    """Rank 0 takes the run lock of the output ``path`` (:mod:`pel_hpc.io.runlock`); every rank raises
    its refusal alike (:class:`FileInUseError` if another job holds it).  Returns rank 0's lock (None
    elsewhere)."""
    fd, refusal = None, None
    if world.rank == 0:
        try:
            fd = runlock.acquire(path)
        except PelError as err:
            refusal = err
    refusal = world.bcast(refusal)
    if refusal is not None:
        raise refusal
    return fd


def run_deck(cfg, world, restart: bool = False, stream=None, check_allocation: bool = True,
             ignore_late_signals: bool = False, overwrite: bool = False):
    """Run ``cfg`` on ``world`` with output, checkpoints, signal handling and optional restart.

    The run holds its output's run lock throughout (:func:`take_run_lock`): a second run of the same
    output while this one runs is refused before it reads or writes anything.  A fresh run (not
    ``restart``) replaces an existing output file only with ``overwrite``, and never one that
    another process holds open (:func:`pel_hpc.io.h5md.create_file`).

    A deck with a ``preparation`` section first runs or reuses it (:mod:`pel_hpc.preparation`,
    which runs it on a sub-communicator with ``check_allocation=False``: SLURM_NTASKS is the world's).
    ``ignore_late_signals`` (the ``pel-hpc run`` process): once the run has completed or has
    stopped on a signal, further SIGTERM/SIGUSR1 are ignored instead of killing the process in
    its teardown, so a job warned just as it finished still ends COMPLETED (or requeues) rather
    than FAILED by the default action of the signal.

    Returns
    -------
    ReplicaGroup
        This rank's replicas at the end of the run (for tests).
    """
    lock = take_run_lock(cfg.output.file, world)
    try:
        return _run_locked(cfg, world, restart, stream, check_allocation, ignore_late_signals, overwrite)
    finally:
        runlock.release(lock)


def _run_locked(cfg, world, restart, stream, check_allocation, ignore_late_signals, overwrite):
    """:func:`run_deck`'s work, under the run lock."""
    from pel_hpc.parallel.launch import check_slurm_ntasks, use_threads

    if check_allocation:
        check_slurm_ntasks(world.size)
    use_threads(cfg.run.threads)
    layout, comm = replica_layout(cfg, world)
    if restart:
        check_restart(cfg)
    if cfg.preparation is not None:  # deck feature (pel_hpc.preparation): the start file, run or reused
        from pel_hpc.preparation import ensure_preparation

        ensure_preparation(cfg, world, (stream or sys.stdout) if world.rank == 0 else None)
    states = start_states(cfg, layout, world, restart, comm, (stream or sys.stdout) if world.rank == 0 else None)
    if world.rank != 0:  # rank 0 alone prints the thermo table and progress
        stream = open(os.devnull, "w")
    elif cfg.ensemble.replicas > 1 and cfg.output.thermo:  # one replica's table, not an average: say so
        print(f"# thermo table of replica 0 of {cfg.ensemble.replicas}; every replica's observables are in "
              f"{cfg.output.file} under {L.OBSERVABLES}/{L.replica_group(0)} ... "
              f"{L.replica_group(cfg.ensemble.replicas - 1)}", file=stream or sys.stdout, flush=True)
    group = build_group(cfg, layout, comm, states, stream)
    writer = H5MDWriter(cfg, world)  # transfers as the deck says (output.transfer)
    flag = StopFlag().install()
    completed = failed = alone = False
    try:
        if restart:
            writer.reopen(group.step)
            group.mark_acted(group.step)
        else:
            parts = {m.state.replica: (m.state.tag[:m.state.n_local], m.state.typ[:m.state.n_local])
                     for m in group.members}
            writer.create(group.members[0].state.box, parts, replace=overwrite)
        group.operations += output_operations(cfg, writer, _quench_op(group.members[0]), world, flag)
        group.operations.append(ProgressOp(cfg, (stream or sys.stdout) if world.rank == 0 else None))
        run_remaining(group, cfg)
        writer.flush()
        if cfg.checkpoint.file is not None:
            write_checkpoint(cfg.checkpoint.file, [m.state for m in group.members], world,
                             extra={"step": group.step})
        completed = True
    except UnstableDynamicsError as exc:
        # Every rank of this replica group sees the same reduced value; when the group is the
        # world, all close the file together (the rows before the divergence are written). A
        # group of an ensemble cannot: the file's close is collective over the world, whose other
        # groups run on, so it leaves the file as the last flush wrote it, and the process leaves
        # without HDF5's exit handlers (they would close it) once the failure is reported.
        alone = comm.size < world.size
        kept = ("rows up to its last checkpoint or stage end" if alone else "every row before the divergence")
        report = UnstableDynamicsError(f"{exc}; '{cfg.output.file}' holds {kept}, and no checkpoint was written "
                                       f"of the diverged state")
        report.hard_exit = alone  # the file stays open: see PelError.hard_exit
        raise report from None
    except (OSError, RuntimeError) as exc:  # HDF5 reports a refused write as either
        if not is_write_failure(exc):
            raise
        failed = True
        _quiet_handle_releases()
        raise write_failure(exc, group.step, cfg.checkpoint.file) from None
    finally:
        if failed:
            writer.abandon()
        elif not alone:
            writer.close()
        flag.restore(ignore=ignore_late_signals and (completed or flag.requested))
    return group


def _quiet_handle_releases() -> None:
    """After a refused write every h5py handle of the file fails to release (h5py's ``__dealloc__``
    prints a traceback through ``sys.excepthook``, then reports it through ``sys.unraisablehook``):
    keep those off stderr for the rest of the process, whose one line is the :class:`OutputWriteError`."""
    default_unraisable, default_except = sys.unraisablehook, sys.excepthook

    def unraisable(u):
        if not is_write_failure(u.exc_value):
            default_unraisable(u)

    def excepthook(kind, value, tb):
        if not is_write_failure(value):
            default_except(kind, value, tb)

    sys.unraisablehook, sys.excepthook = unraisable, excepthook


def is_write_failure(exc: Exception) -> bool:
    """Did the file system refuse a write (disk full, quota, I/O error), as opposed to a bug?"""
    return isinstance(exc, OSError) or "write failed" in str(exc) or "errno = " in str(exc)


def write_failure(exc: Exception, step: int, checkpoint) -> OutputWriteError:
    """One line for a failed write of the output or checkpoint at ``step``: the file, the system's reason
    (HDF5 puts it inside its message) and what is kept."""
    text = str(exc)
    reason = re.search(r"error message = '([^']+)'", text)
    reason = reason.group(1) if reason else (getattr(exc, "strerror", None) or text.splitlines()[0][:160])
    name = getattr(exc, "filename", None) or (re.search(r"filename = '([^']+)'", text) or [None, "a file of the run"])[1]
    last = checkpoint_step(checkpoint) if checkpoint is not None else None
    kept = (f"the checkpoint of step {last} is intact: free space, then --restart" if last is not None
            else "there is no checkpoint to continue from")
    return OutputWriteError(f"writing '{name}' failed at step {step}: {reason}; {kept}")


def _quench_op(sim):
    from pel_hpc.operations import QuenchOp

    return next((op for op in sim.operations if isinstance(op, QuenchOp)), None)
