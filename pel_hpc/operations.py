"""Operations: things done every so many steps, each a ``trigger`` plus ``act(sim, step)``.

Here: :class:`QuenchOp` (inherent structures) and :class:`ThermoOp` (thermo table).  The
H5MD writer and checkpoint operations live in :mod:`pel_hpc.io`.  An operation with
``is_output = True`` is skipped in stages run with ``output: false`` (equilibration).
"""
from __future__ import annotations

import sys
from collections import deque

from pel_hpc.errors import UnstableDynamicsError
from pel_hpc.md.minimize import QuenchResult, quench
from pel_hpc.trigger import Periodic

THERMO_COLUMNS = ("step", "time", "T", "E_pot", "E_kin", "H", "P")
DRIFT_LIMIT = 1.0  # [epsilon per particle]: a larger change of H between two thermo rows is a diverged run


class QuenchOp:
    """Quench a copy of the configuration to its inherent structure (Sect. II of the paper).

    After each act, ``last`` holds ``(step, QuenchResult)`` with e_IS per particle
    [epsilon] and IS positions by tag [sigma]; ``e_is`` accumulates (step, e_IS) pairs
    until a consumer (the H5MD writer) clears it.

    Parameters
    ----------
    every : quench period in MD steps (0 = never)
    tolerance : 2-norm of the total force vector at convergence [epsilon/sigma]
    method : minimiser, ``"lbfgs"`` (the deck default, ``quench.method``), ``"fire"`` or ``"cg"``
    """

    is_output = True

    def __init__(self, every: int, tolerance: float = 1e-8, method: str = "lbfgs", max_iter: int = 100000):
        self.trigger = Periodic(every)
        self.tolerance, self.method, self.max_iter = tolerance, method, max_iter
        self.last: tuple[int, QuenchResult] | None = None
        self.e_is: list[tuple[int, float]] = []

    def act(self, sim, step: int) -> None:
        res = quench(sim.state, sim.domain, sim.table, self.tolerance, self.max_iter, self.method)
        self.last = (step, res)
        self.e_is.append((step, res.e_is))


class ThermoOp:
    """Print a thermo table row (rank 0) and keep the last ``keep`` rows in ``rows`` (None: all).

    The H5MD file holds every row; ``rows`` serves tests and the observables writer, and is
    bounded so that a run of 10^8 steps does not grow without limit.

    Columns: step, time [tau], T [epsilon/k_B], E_pot, E_kin, H (conserved quantity) per
    particle [epsilon], P [epsilon/sigma³].

    A row whose H differs by more than :data:`DRIFT_LIMIT` from the previous row stops the run
    (:class:`~pel_hpc.errors.UnstableDynamicsError`, after printing the row): at Δt = 0.005 H stays
    within 3·10⁻³ epsilon per particle over 4·10⁴ steps (N = 500, T = 0.6, NVT), so a jump of a whole
    epsilon between two rows means the integration broke down (in NVE as well, where no thermostat
    reports it).  Rows, not the run's start, are compared: a slow drift over 10⁸ steps is not a failure.
    """

    is_output = False

    def __init__(self, every: int, stream=None, keep: int | None = 10000):
        self.trigger = Periodic(every)
        self.stream = sys.stdout if stream is None else stream
        self.rows: deque[dict] = deque(maxlen=keep)  # the last ``keep`` rows: bounded in long runs
        self.printed_header = False
        self.h_last: float | None = None

    def act(self, sim, step: int) -> None:
        row = sim.thermo()
        if sim.domain.comm.rank == 0:
            if not self.printed_header:
                print("".join(f"{c:>14s}" for c in THERMO_COLUMNS), file=self.stream)
                self.printed_header = True
            print(f"{row['step']:>14d}" + "".join(_column(row[c]) for c in THERMO_COLUMNS[1:]),
                  file=self.stream, flush=True)
        self.rows.append(row)
        last, self.h_last = self.h_last, row["H"]
        if last is not None and not abs(row["H"] - last) <= DRIFT_LIMIT:  # every rank of the replica alike
            raise UnstableDynamicsError.at(
                [sim.state.replica], step,
                f"the conserved energy H jumped from {last:.6g} to {row['H']:.6g} per particle since the "
                f"previous thermo row (more than {DRIFT_LIMIT:g} epsilon)", sim.integrator.dt)


def _column(value: float) -> str:
    """One thermo-table cell: fixed point, or exponent form where that would overflow the column."""
    return f"{value:>14.6f}" if abs(value) < 1e6 else f"{value:>14.6e}"
