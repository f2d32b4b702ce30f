"""The replicas of one rank group, advanced in lockstep from one operation event to the next.

A group runs the replicas :func:`pel_hpc.parallel.ensemble.replica_table` gives it, one
:class:`~pel_hpc.simulation.Simulation` each (same deck, so the same triggers).  Between two
events (thermo, quench, output, checkpoint, signal check) every member advances the same
number of steps:

* members that run the compiled single-rank loop (``ranks_per_replica`` = 1, tiny box, N = 65)
  live in one :class:`~pel_hpc.parallel.batch.ReplicaBatch` (their states are views of its
  stacked arrays) and advance together in one compiled call — Python runs once per event,
  not per replica per step;
* otherwise (decomposed replicas) the members advance one after the other per chunk.

At an event each member's own operations act first (its QuenchOp, ThermoOp), then the
group's operations (H5MD writer, checkpoint, signals), which act on all members at once and
are collective over the world: every rank calls them at the same steps whatever the number
of replicas its group runs.
"""
from __future__ import annotations

from pel_hpc.parallel.batch import ReplicaBatch
from pel_hpc.trigger import active, next_stop


class ReplicaGroup:
    """Several replicas of one deck run in lockstep by one rank group.

    Parameters
    ----------
    members : list of :class:`~pel_hpc.simulation.Simulation`
        Set up, all at the same step, in replica order.
    operations : objects with ``trigger`` and ``act(group, step)``
        Group-level operations, acted after the members' own at each step.
    """

    def __init__(self, members, operations=()):
        self.members = list(members)
        self.operations = list(operations)
        self.batched = all(m.compiled for m in self.members)
        self.batch = None
        self._acted_at = None

    @property
    def step(self) -> int:
        """The members' common MD step."""
        return self.members[0].state.step

    def setup(self) -> "ReplicaGroup":
        """Re-set-up every member (after a checkpoint, as a restart would)."""
        for m in self.members:
            m.setup()
        return self

    def mark_acted(self, step: int) -> None:
        """Treat ``step`` as already acted by members and group (restart hook)."""
        self._acted_at = int(step)
        for m in self.members:
            m.mark_acted(step)

    def run(self, steps: int, output: bool = True) -> None:
        """Advance every member ``steps`` steps, acting operations as :meth:`Simulation.run` does."""
        end = self.step + int(steps)
        self._act(output)
        while self.step < end:
            ops = active(self.members[0].operations + self.operations, output)
            self._advance(next_stop(self.step, end, ops) - self.step)
            self._act(output)

    def _act(self, output: bool) -> None:
        step = self.step
        if self._acted_at == step:
            return
        self._acted_at = step
        for m in self.members:
            m._act(output)
        for op in active(self.operations, output):
            if op.trigger(step):
                op.act(self, step)

    def _advance(self, k: int) -> None:
        if self.batched:
            if self.batch is None:
                self.batch = ReplicaBatch(self.members)
            self.batch.advance(k)
        else:
            for m in self.members:
                m._advance(k)
