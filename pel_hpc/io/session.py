"""One production run of a validated deck: replicas, output file, checkpoints, signals, restart.

:func:`run_deck` is what ``pel-hpc run DECK [--restart]`` calls.  In order:

1. launch checks (``SLURM_NTASKS`` equals the world size) and the replica split;
2. the simulation of this rank's replica — from the deck's start, or from the last
   complete checkpoint with ``--restart`` (same rank count; bitwise continuation);
3. the H5MD file — created, or re-opened with every frame after the checkpoint step
   dropped, so the output holds every frame exactly once;
4. the stages from the current step to the end; SIGTERM/SIGUSR1 make a checkpoint and
   exit 75 (:class:`~pel_hpc.errors.CheckpointExit`); a final checkpoint marks completion.

The deck was validated before this function is called, so a bad deck never creates a file.
"""
from __future__ import annotations

import os
import sys

from pel_hpc.deck.checks import check_world_size
from pel_hpc.errors import InputFileError
from pel_hpc.io.checkpoint import read_checkpoint, write_checkpoint
from pel_hpc.io.ops import ProgressOp, output_operations
from pel_hpc.io.signals import StopFlag
from pel_hpc.io.writer import H5MDWriter


def replica_of_rank(cfg, world):
    """(replica index, replica communicator) of this rank; one replica per rank group.

    Raises
    ------
    LaunchError
        When the world size differs from ``ensemble.replicas × ensemble.ranks_per_replica``.
    """
    from pel_hpc.parallel.ensemble import split_world

    check_world_size(cfg, world.size)
    layout, group = split_world(world, cfg.ensemble.replicas, cfg.ensemble.ranks_per_replica)
    return layout.replicas[0], group


def run_remaining(sim, cfg) -> None:
    """Run every stage from the simulation's current step to the end of the deck."""
    for i, stage in enumerate(cfg.stages):
        left = cfg.stage_start(i) + stage.steps - sim.state.step
        if left > 0:
            sim.run(left, output=stage.output)


def run_deck(cfg, world, restart: bool = False, stream=None):
    """Run ``cfg`` on ``world`` with output, checkpoints, signal handling and optional restart.

    Returns
    -------
    Simulation
        This rank's simulation at the end of the run (for tests).
    """
    from pel_hpc.build import build_simulation
    from pel_hpc.parallel.launch import check_slurm_ntasks

    check_slurm_ntasks(world.size)
    replica, group = replica_of_rank(cfg, world)
    state = None
    if restart:
        if not os.path.isfile(cfg.output.file):
            raise InputFileError(f"--restart: no output file '{cfg.output.file}' to append to")
        state, _ = read_checkpoint(cfg.checkpoint.file, world)
    if world.rank != 0:  # rank 0 alone prints the thermo table and progress
        stream = open(os.devnull, "w")
    sim = build_simulation(cfg, group, replica, stream, state=state)
    writer = H5MDWriter(cfg, world)
    flag = StopFlag().install()
    try:
        if restart:
            writer.reopen(sim.state.step)
            sim.mark_acted(sim.state.step)
        else:
            n = sim.state.n_local
            writer.create(sim.state.box, {replica: (sim.state.tag[:n], sim.state.typ[:n])})
        sim.operations += output_operations(cfg, writer, _quench_op(sim), world, flag)
        sim.operations.append(ProgressOp(cfg, (stream or sys.stdout) if world.rank == 0 else None))
        run_remaining(sim, cfg)
        writer.flush()
        if cfg.checkpoint.file is not None:
            write_checkpoint(cfg.checkpoint.file, sim.state, world, extra={"step": sim.state.step})
    finally:
        writer.close()
        flag.restore()
    return sim


def _quench_op(sim):
    from pel_hpc.operations import QuenchOp

    return next((op for op in sim.operations if isinstance(op, QuenchOp)), None)
