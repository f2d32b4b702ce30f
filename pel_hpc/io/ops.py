"""Output operations (trigger + ``act(sim, step)``): H5MD frames, observables, checkpoints, signals.

Each deck cadence maps to exactly one trigger: ``output.positions`` → :class:`ParticleWriterOp`
(position + image), ``output.velocities`` → velocity, ``output.is_positions`` → IS positions,
``output.thermo`` → :class:`ObservableWriterOp`, ``quench.every`` → :class:`ISEnergyWriterOp`,
``checkpoint.every`` → :class:`CheckpointOp`; the end of each output stage →
:class:`StageEndFlushOp` (buffered rows written).  :class:`SignalOp` checks the SIGTERM/SIGUSR1
flag at chunk boundaries.  Register them after the engine's QuenchOp, in the order of
:func:`output_operations`, so that the checkpoint of a step follows that step's frames.

They act on a :class:`~pel_hpc.parallel.group.ReplicaGroup` (all replicas of this rank's
group in one collective writer call) or on a single :class:`~pel_hpc.simulation.Simulation`.
"""
from __future__ import annotations

import time

from pel_hpc.errors import CheckpointExit
from pel_hpc.io import layout as L
from pel_hpc.io.checkpoint import write_checkpoint
from pel_hpc.operations import ThermoOp
from pel_hpc.trigger import AtSteps, Periodic

THERMO_KEYS = {L.POTENTIAL_ENERGY: "E_pot", L.KINETIC_ENERGY: "E_kin", L.CONSERVED_ENERGY: "H",
               L.TEMPERATURE: "T", L.PRESSURE: "P"}
SIGNAL_CHECK_EVERY = 100  # MD steps between checks of the signal flag (one reduction each)


def _members(sim) -> list:
    """The simulations an operation acts on: a group's members, or the simulation itself."""
    return list(getattr(sim, "members", [sim]))


def _local(sim, field: str) -> dict:
    """This rank's rows of state ``field`` for each replica: ``{replica: (tags, values)}``."""
    return {m.state.replica: (m.state.tag[:m.state.n_local], getattr(m.state, field)[:m.state.n_local])
            for m in _members(sim)}


def _leader(sim, values_of) -> dict:
    """``{replica: values_of(member)}`` on each replica's first rank (``values_of`` runs on all ranks)."""
    out = {}
    for m in _members(sim):
        values = values_of(m)
        if m.domain.comm.rank == 0:
            out[m.state.replica] = values
    return out


class ParticleWriterOp:
    """Append one frame of per-particle elements (rows by tag, written by their owners)."""

    is_output = True

    def __init__(self, writer, every: int, elements):
        self.trigger = Periodic(every)
        self.writer, self.elements = writer, tuple(elements)

    def act(self, sim, step: int) -> None:
        fields = {L.POSITION: "x", L.IMAGE: "image", L.VELOCITY: "v"}
        for element in self.elements:
            self.writer.append_particles(element, step, _local(sim, fields[element]))


class ObservableWriterOp:
    """Append the thermo observables (per particle energies, T, P) of :meth:`Simulation.thermo`.

    Reuses the row the member's ThermoOp computed at the same step (it acts first), so the
    observables cost no second collective reduction.
    """

    is_output = True

    def __init__(self, writer, every: int):
        self.trigger = Periodic(every)
        self.writer = writer

    def act(self, sim, step: int) -> None:
        def values(member):
            row = _thermo_row(member, step)
            return {name: row[key] for name, key in THERMO_KEYS.items()}

        self.writer.append_observables(step, _leader(sim, values), tuple(THERMO_KEYS))


def _thermo_row(member, step: int) -> dict:
    """The member's thermo row at ``step``: its ThermoOp's last row if taken at ``step``, else computed."""
    rows = next((op.rows for op in member.operations if isinstance(op, ThermoOp)), None)
    if rows and rows[-1]["step"] == step:
        return rows[-1]
    return member.thermo()  # collective over the replica's ranks


class ISEnergyWriterOp:
    """Append e_IS per particle at every quench and IS positions at ``is_every`` (Sect. II)."""

    is_output = True

    def __init__(self, writer, quench_op, is_every: int):
        self.trigger = quench_op.trigger
        self.writer, self.quench_op = writer, quench_op
        self.positions = Periodic(is_every)

    def _result(self, member, step: int):
        """The quench result of ``member`` at ``step`` (from its own op of the quench op's type)."""
        op = next(op for op in member.operations if isinstance(op, type(self.quench_op)))
        done_at, res = op.last
        if done_at != step:
            raise RuntimeError(f"ISEnergyWriterOp at step {step} found the quench of step {done_at}")
        return res

    def act(self, sim, step: int) -> None:
        results = {m.state.replica: (m, self._result(m, step)) for m in _members(sim)}
        self.writer.append_observables(step, _leader(sim, lambda m: {L.IS_ENERGY: results[m.state.replica][1].e_is}),
                                       (L.IS_ENERGY,))
        if self.positions(step):
            parts = {}
            for k, (m, res) in results.items():
                tags = m.state.tag[: m.state.n_local]
                parts[k] = (tags, res.x_is[tags])
            self.writer.append_particles(L.INHERENT_STRUCTURE, step, parts)


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
        states = [m.state for m in _members(sim)]
        write_checkpoint(self.path, states, self.comm or _members(sim)[0].domain.comm, extra={"step": step})
        sim.setup()


class StageEndFlushOp:
    """Write the writer's buffered rows at the last step of every output stage."""

    is_output = True

    def __init__(self, cfg, writer):
        self.trigger = AtSteps(cfg.stage_start(i) + s.steps for i, s in enumerate(cfg.stages) if s.output and s.steps)
        self.writer = writer

    def act(self, sim, step: int) -> None:
        self.writer.flush()


class SignalOp:
    """At chunk boundaries: if SIGTERM/SIGUSR1 arrived on any rank, checkpoint and exit (code 75)."""

    is_output = False

    def __init__(self, flag, checkpoint_op, every: int = SIGNAL_CHECK_EVERY, comm=None):
        self.trigger = Periodic(every)
        self.flag, self.checkpoint_op, self.comm = flag, checkpoint_op, comm

    def act(self, sim, step: int) -> None:
        comm = self.comm or _members(sim)[0].domain.comm
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
    ops.append(StageEndFlushOp(cfg, writer))
    chk = None
    if cfg.checkpoint.file is not None:
        chk = CheckpointOp(cfg.checkpoint.file, cfg.checkpoint.every, writer, comm)
        ops.append(chk)
    if flag is not None:
        ops.append(SignalOp(flag, chk, SIGNAL_CHECK_EVERY, comm))
    return ops

