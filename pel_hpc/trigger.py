"""Triggers: when an operation fires, as a function of the MD step only."""
from __future__ import annotations


class Periodic:
    """Fires at every step that is a multiple of ``period`` (never when ``period`` is 0)."""

    def __init__(self, period: int, phase: int = 0):
        if period < 0:
            raise ValueError(f"trigger period must be >= 0 (got {period})")
        self.period, self.phase = int(period), int(phase)

    def __call__(self, step: int) -> bool:
        return self.period > 0 and step >= self.phase and (step - self.phase) % self.period == 0

    def next_after(self, step: int) -> int | None:
        """The first firing step strictly after ``step`` (None if it never fires)."""
        if self.period == 0:
            return None
        if step < self.phase:
            return self.phase
        return step + self.period - (step - self.phase) % self.period


class AtSteps:
    """Fires at each of the given steps."""

    def __init__(self, steps):
        self.steps = sorted(int(s) for s in steps)

    def __call__(self, step: int) -> bool:
        return step in self.steps

    def next_after(self, step: int) -> int | None:
        """The first listed step strictly after ``step`` (None if none is left)."""
        return next((s for s in self.steps if s > step), None)


class Or:
    """Fires when any of its triggers fires."""

    def __init__(self, *triggers):
        self.triggers = triggers

    def __call__(self, step: int) -> bool:
        return any(t(step) for t in self.triggers)

    def next_after(self, step: int) -> int | None:
        nxt = [n for n in (t.next_after(step) for t in self.triggers) if n is not None]
        return min(nxt) if nxt else None


def active(operations, output: bool) -> list:
    """The operations that act in a stage: all of them, or, when ``output`` is off (equilibration),
    all but those flagged ``is_output``."""
    return [op for op in operations if output or not getattr(op, "is_output", False)]


def next_stop(step: int, end: int, operations) -> int:
    """The first step after ``step`` at which one of ``operations`` fires, or ``end`` if earlier."""
    nxt = [s for s in (op.trigger.next_after(step) for op in operations) if s is not None]
    return min([end] + nxt)
