"""Output operations (trigger + ``act(sim, step)``): H5MD frames, observables, checkpoints, signals.

Each deck cadence maps to exactly one trigger: ``output.positions`` → :class:`ParticleWriterOp`
(position + image), ``output.velocities`` → velocity, ``output.is_positions`` → IS positions,
``output.thermo`` → :class:`ObservableWriterOp`, ``quench.every`` → :class:`ISEnergyWriterOp`,
``checkpoint.every`` → :class:`CheckpointOp`.  :class:`SignalOp` checks the SIGTERM/SIGUSR1
flag at chunk boundaries.  Register them after the engine's QuenchOp, in the order of
:func:`output_operations`, so that the checkpoint of a step follows that step's frames.
"""
from __future__ import annotations

import time

from pel_hpc.errors import CheckpointExit
from pel_hpc.io import layout as L
from pel_hpc.io.checkpoint import write_checkpoint
from pel_hpc.trigger import Periodic

THERMO_KEYS = {L.POTENTIAL_ENERGY: "E_pot", L.KINETIC_ENERGY: "E_kin", L.CONSERVED_ENERGY: "H",
               L.TEMPERATURE: "T", L.PRESSURE: "P"}
SIGNAL_CHECK_EVERY = 100  # MD steps between checks of the signal flag (one reduction each)


def _local(sim, array) -> dict:
    """This rank's rows of ``array`` for its replica: ``{replica: (tags, values)}``."""
    n = sim.state.n_local
    return {sim.state.replica: (sim.state.tag[:n], array[:n])}


def _leader(sim, values: dict) -> dict:
    """``{replica: values}`` on the replica's first rank, ``{}`` elsewhere."""
    return {sim.state.replica: values} if sim.domain.comm.rank == 0 else {}


class ParticleWriterOp:
    """Append one frame of per-particle elements (rows by tag, written by their owners)."""

    is_output = True

    def __init__(self, writer, every: int, elements):
        self.trigger = Periodic(every)
        self.writer, self.elements = writer, tuple(elements)

    def act(self, sim, step: int) -> None:
        arrays = {L.POSITION: sim.state.x, L.IMAGE: sim.state.image, L.VELOCITY: sim.state.v}
        for element in self.elements:
            self.writer.append_particles(element, step, _local(sim, arrays[element]))


class ObservableWriterOp:
    """Append the thermo observables (per particle energies, T, P) of :meth:`Simulation.thermo`."""

    is_output = True

    def __init__(self, writer, every: int):
        self.trigger = Periodic(every)
        self.writer = writer

    def act(self, sim, step: int) -> None:
        row = sim.thermo()
        self.writer.append_observables(step, _leader(sim, {name: row[key] for name, key in THERMO_KEYS.items()}))


class ISEnergyWriterOp:
    """Append e_IS per particle at every quench and IS positions at ``is_every`` (Sect. II)."""

    is_output = True

    def __init__(self, writer, quench_op, is_every: int):
        self.trigger = quench_op.trigger
        self.writer, self.quench_op = writer, quench_op
        self.positions = Periodic(is_every)

    def act(self, sim, step: int) -> None:
        done_at, res = self.quench_op.last
        if done_at != step:
            raise RuntimeError(f"ISEnergyWriterOp at step {step} found the quench of step {done_at}")
        self.writer.append_observables(step, _leader(sim, {L.IS_ENERGY: res.e_is}))
        if self.positions(step):
            tags = sim.state.tag[: sim.state.n_local]
            self.writer.append_particles(L.INHERENT_STRUCTURE, step, {sim.state.replica: (tags, res.x_is[tags])})


class CheckpointOp:
    """Flush the output, write the checkpoint, then re-set-up the simulation as a restart would.

    The re-set-up (``sim.setup()``: wrap, list rebuild, forces) makes the uninterrupted run
    take exactly the path of a run restarted from this checkpoint, so both stay bitwise equal.
    """

    is_output = False

    def __init__(self, path, every: int, writer=None, comm=None):
        self.trigger = Periodic(every)
        self.path, self.writer, self.comm = path, writer, comm

    def act(self, sim, step: int) -> None:
        if self.writer is not None and self.writer.file is not None:
            self.writer.flush()
        write_checkpoint(self.path, sim.state, self.comm or sim.domain.comm, extra={"step": step})
        sim.setup()


class SignalOp:
    """At chunk boundaries: if SIGTERM/SIGUSR1 arrived on any rank, checkpoint and exit (code 75)."""

    is_output = False

    def __init__(self, flag, checkpoint_op, every: int = SIGNAL_CHECK_EVERY, comm=None):
        self.trigger = Periodic(every)
        self.flag, self.checkpoint_op, self.comm = flag, checkpoint_op, comm

    def act(self, sim, step: int) -> None:
        comm = self.comm or sim.domain.comm
        if comm.allreduce_max(int(self.flag.signum or 0)) == 0:
            return
        if self.checkpoint_op is not None:
            self.checkpoint_op.act(sim, step)
        where = f"; checkpoint {self.checkpoint_op.path}" if self.checkpoint_op is not None else ""
        raise CheckpointExit(f"stopped by signal at step {step}{where}; continue with --restart")


class ProgressOp:
    """Rank 0 prints the stage, the step and an ETA from the wall-clock rate of the run so far."""

    is_output = False

    def __init__(self, cfg, stream=None, reports: int = 20):
        self.cfg, self.stream = cfg, stream
        self.trigger = Periodic(max(1, cfg.total_steps // reports))
        self._t0 = self._s0 = None

    def act(self, sim, step: int) -> None:
        now = time.perf_counter()
        if self._t0 is None:
            self._t0, self._s0 = now, step
            return
        if self.stream is None or step == self._s0:
            return
        rate = (step - self._s0) / (now - self._t0)
        left = (self.cfg.total_steps - step) / rate
        stage = next(s.name for i, s in enumerate(self.cfg.stages)
                     if step <= self.cfg.stage_start(i) + s.steps)
        print(f"# {stage}: step {step}/{self.cfg.total_steps}, {rate:.0f} steps/s, ETA {left:.0f} s",
              file=self.stream, flush=True)


def output_operations(cfg, writer, quench_op=None, comm=None, flag=None) -> list:
    """The workflow operations of a deck, in the order they must follow the engine's QuenchOp."""
    ops = []
    if cfg.output.positions > 0:
        ops.append(ParticleWriterOp(writer, cfg.output.positions, (L.POSITION, L.IMAGE)))
    if cfg.output.velocities > 0:
        ops.append(ParticleWriterOp(writer, cfg.output.velocities, (L.VELOCITY,)))
    if cfg.output.thermo > 0:
        ops.append(ObservableWriterOp(writer, cfg.output.thermo))
    if quench_op is not None and cfg.quench.every > 0:
        ops.append(ISEnergyWriterOp(writer, quench_op, cfg.output.is_positions))
    chk = None
    if cfg.checkpoint.file is not None:
        chk = CheckpointOp(cfg.checkpoint.file, cfg.checkpoint.every, writer, comm)
        ops.append(chk)
    if flag is not None:
        ops.append(SignalOp(flag, chk, SIGNAL_CHECK_EVERY, comm))
    return ops

