"""Simulation: a State, a Domain, one integrator and a list of triggered operations."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pel_hpc.errors import UnstableDynamicsError
from pel_hpc.md import integrate, thermostat
from pel_hpc.md.forces import energy_shares, force_rows, local_forces
from pel_hpc.md.observables import kinetic_energy, n_dof, pressure, squared_speeds, temperature
from pel_hpc.trigger import active, next_stop


@dataclass
class Integrator:
    """Velocity Verlet, with a Nosé–Hoover chain when ``chain`` > 0 (NVT) or plain NVE.

    dt [tau], temperature [epsilon/k_B] (NHC target), tau [tau] (NHC time constant).
    """

    dt: float = 0.005
    temperature: float = 1.0
    tau: float = 0.5
    chain: int = 3
    # reference of the runaway test (thermostat.runaway): set once, by the first setup of the process
    t_reference: float | None = field(default=None, init=False, compare=False)

    def setup(self, state, start_temperature: float = 0.0) -> None:
        """Size the chain state in ``state`` (kept if it already has the right length); the first call
        sets :attr:`t_reference` to the larger of the target and ``start_temperature``, the kinetic
        temperature of the velocities this process starts with (a re-set-up after a checkpoint keeps it)."""
        self.ndof = n_dof(state.n_global)
        if self.t_reference is None:
            self.t_reference = max(self.temperature, start_temperature)  # a NaN start: the target
        self.q = thermostat.masses(self.chain, self.ndof, self.temperature, self.tau)
        if len(state.nhc_eta) != self.chain:
            state.nhc_eta, state.nhc_veta = np.zeros(self.chain), np.zeros(self.chain)

    def first_half(self, state, domain) -> None:
        """Steps 1–3 of :meth:`Simulation.run`: NHC half-step, then kick and drift in one fused pass.

        Between two steps only the NHC scale s touches the velocities, so the previous step's
        2K·s² (``state.nhc_ke2``) is this half-step's 2K: one global reduction per NVT step
        instead of two.  It is summed afresh only when unknown (NaN: a new state, velocities
        just assigned, after an NVE step).  Being part of the state (and of checkpoints), the
        carry does not depend on where operations split a run, so neither does the trajectory.
        """
        n = state.n_local
        s = 1.0
        if self.chain:
            ke2 = state.nhc_ke2
            if ke2 != ke2:  # NaN: unknown
                ke2 = float(domain.sum_per_particle(squared_speeds(state.v, n)))
            s = self._chain_scale(state, ke2)
        state.forget_ke2()
        integrate.scale_kick_drift(state.x, state.v, state.f, s, 0.5 * self.dt, self.dt, n)

    def second_half(self, state, domain) -> bool:
        """Steps 6–7: kick fused with the squared speeds, then the NHC half-step (scales v).

        Returns whether the next step's displacement check is provably false (a *forecast*):
        the reduction of 2K also carries bounds on this rank's reach of the next drift
        (:func:`pel_hpc.md.neighbors.reach_after_drift`); once the scales s (this half-step)
        and s' (the next one, from the carried 2K·s²) are known, every displacement from the build
        after the next drift is at most max|a + b| + |s·s' − 1|·max|b|.  Only a bound below skin/2
        skips the check, so the rebuild decisions, hence the trajectory, are those of checking
        at every step: one global reduction per NVT step instead of two."""
        n = state.n_local
        if not self.chain:
            integrate.kick(state.v, state.f, 0.5 * self.dt, n)
            return False
        sq = integrate.kick_squared_speeds(state.v, state.f, 0.5 * self.dt, n)
        reach = domain.reach(state, self.dt)
        if reach is None:
            ke2, bound = float(domain.sum_per_particle(sq)), None
        else:
            ke2, bound = domain.sum_and_reach(sq, reach)
        if thermostat.runaway(ke2, self.ndof, self.t_reference):  # reduced: every rank of the domain alike
            raise UnstableDynamicsError(f"the kinetic temperature reached {ke2 / self.ndof:.3g}, more than "
                                        f"{thermostat.RUNAWAY:g} times {self.t_reference:g} (the larger of the "
                                        f"target and the start's)")
        s = self._chain_scale(state, ke2)
        integrate.scale(state.v, s, n)
        state.nhc_ke2 = ke2 * s * s
        if bound is None:
            return False
        s_next = thermostat.half_step(state.nhc_eta.copy(), state.nhc_veta.copy(), self.q, state.nhc_ke2,
                                      self.ndof, self.temperature, self.dt)   # first_half's s', on copies
        return domain.clear_of_rebuild(bound[0] + abs(s * s_next - 1.0) * bound[1])

    def _chain_scale(self, state, ke2: float) -> float:
        """NHC half-step given the global 2K = ``ke2`` (summed by ``domain.sum_per_particle``, exact
        in reproducible mode, or carried).  Returns the velocity scale."""
        return thermostat.half_step(state.nhc_eta, state.nhc_veta, self.q, ke2, self.ndof, self.temperature, self.dt)

    def chain_energy(self, state) -> float:
        """Thermostat contribution to the conserved quantity [epsilon] (0 for NVE)."""
        return float(thermostat.chain_energy(state.nhc_eta, state.nhc_veta, self.q, self.ndof, self.temperature))


class Simulation:
    """Orchestrates MD; all physics is in the kernels of :mod:`pel_hpc.md`.

    Parameters
    ----------
    state : :class:`~pel_hpc.state.State`
    domain : a Domain (see :mod:`pel_hpc.md.domain`)
    table : :class:`~pel_hpc.physics.kob_andersen.PairTable`
    integrator : :class:`Integrator`
    operations : objects with ``trigger`` and ``act(sim, step)``, acted on in list order
    compiled : run the step loop in compiled code (:mod:`pel_hpc.md.loop`); default: when the
        domain is serial with the list-free minimum-image kernels (tiny boxes)
    """

    def __init__(self, state, domain, table, integrator, operations=(), compiled=None):
        self.state, self.domain, self.table, self.integrator = state, domain, table, integrator
        self.operations = list(operations)
        self.compiled = compiled
        self._batch = None  # ReplicaBatch of this simulation alone, made at the first compiled advance
        self._energy = (0.0, 0.0)  # (E_pot, W) [epsilon], or the per-particle shares not yet summed
        self._acted_at = None

    @property
    def epot(self) -> float:
        """Potential energy of the current configuration [epsilon] (collective in decomposed runs)."""
        return self._energy_virial()[0]

    @property
    def virial(self) -> float:
        """Virial W = ½ Σ_ij f(r_ij) r_ij of the current configuration [epsilon] (collective)."""
        return self._energy_virial()[1]

    def set_energy(self, epot: float, virial: float) -> None:
        """Store E_pot and W [epsilon] computed elsewhere (the compiled loop)."""
        self._energy = (float(epot), float(virial))

    def _energy_virial(self) -> tuple:
        """(E_pot, W), summing the last force call's per-particle shares on first use: an MD
        step makes no global reduction for them, only steps that report them do."""
        if self._energy is None:
            raise RuntimeError("E_pot and W were not evaluated at this step (Simulation.step(energy=False))")
        if not isinstance(self._energy, tuple):
            tot = self.domain.sum_per_particle(self._energy.T)
            self._energy = (float(tot[0]), float(tot[1]))
        return self._energy

    def setup(self) -> "Simulation":
        """Domain set-up, thermostat sizing and the initial forces."""
        self.domain.setup(self.state)
        start = (temperature(kinetic_energy(self.state, self.domain), self.state.n_global)
                 if self.integrator.t_reference is None else 0.0)  # one reduction, at the process's first setup
        self.integrator.setup(self.state, start)
        if self.compiled is None:
            self.compiled = bool(self.domain.min_image) and self.domain.comm.size == 1
        self._energy = local_forces(self.state, self.domain, self.table, "separate")  # the MD steps' forces
        return self

    def run(self, steps: int, output: bool = True) -> None:
        """Advance ``steps`` MD steps, acting operations when their triggers fire.

        One step is, in this order:

        1. Nosé–Hoover chain half-step (scales v; NVT only)
        2. kick: v += F·Δt/2
        3. drift: x += v·Δt
        4. ``domain.refresh``: displacement check (skipped when the previous step's forecast proved
           it false); rebuild (wrap, migrate, lists) or ghost update
        5. forces (``domain.reverse_forces``); E_pot and W are evaluated (in a second pass, so
           the forces do not depend on it) only on the last step before operations act, and
           summed (``domain.sum_per_particle``) only when a step that reports them asks
           (:attr:`epot`, :attr:`virial`)
        6. kick: v += F·Δt/2
        7. Nosé–Hoover chain half-step
        8. step += 1; every operation whose trigger fires at the new step acts, in list order

        Operations also act at the first step of a run if they fire there and no operation
        has acted at that step yet; each step is acted at most once, so the step where an
        output-free stage (equilibration) ended is not written by the next stage.  With ``output=False`` operations flagged ``is_output`` are skipped.
        """
        end = self.state.step + int(steps)
        self._act(output)
        while self.state.step < end:
            self._advance(next_stop(self.state.step, end, active(self.operations, output)) - self.state.step)
            self._act(output)

    def mark_acted(self, step: int) -> None:
        """Treat ``step`` as already acted (workflow hook: a restart resumes after that step's output)."""
        self._acted_at = int(step)

    def _act(self, output: bool) -> None:
        step = self.state.step
        if self._acted_at == step:
            return
        self._acted_at = step
        for op in active(self.operations, output):
            if op.trigger(step):
                op.act(self, step)

    def _advance(self, k: int) -> None:
        """``k`` steps; only the last evaluates E_pot and W (operations act after it)."""
        if self.compiled:
            self._advance_compiled(k)
            return
        clear = False  # a forecast holds only between steps with nothing acting in between
        try:
            for left in range(k, 0, -1):
                clear = self.step(energy=left == 1, check=not clear)
        except UnstableDynamicsError as err:
            # the step under way, st.step + 1, is the one that diverged
            raise UnstableDynamicsError.at([self.state.replica], self.state.step + 1, str(err), self.integrator.dt) \
                from None

    def step(self, energy: bool = True, check: bool = True) -> bool:
        """One MD step in Python-orchestrated kernels (any domain), steps 1–7 of :meth:`run`.

        Fused passes: besides the displacement check and the forces, an NVT step makes six
        numba calls and one global reduction: the sum of |v|², which also carries the forecast
        that lets most steps skip the displacement check's own reduction
        (:meth:`Integrator.second_half`; the first half-step's 2K is carried, see
        :meth:`Integrator.first_half`); serial and decomposed domains take one path.  Between
        rebuilds a decomposed domain computes the interior particles' forces while the ghost
        positions travel (:meth:`~pel_hpc.parallel.domain.DecomposedDomain.refresh_overlapping`).
        ``energy=False`` skips E_pot and W (then :attr:`epot` is unavailable until the next step
        that evaluates them); the forces, hence the trajectory, are bitwise the same either way.
        ``check=False`` skips the
        displacement check, allowed only right after a step that returned True (its forecast,
        :meth:`Integrator.second_half`, proved the check false) with nothing done in between.
        """
        st, integ, dom, table = self.state, self.integrator, self.domain, self.table
        integ.first_half(st, dom)
        dom.refresh_overlapping(st, lambda first, last: force_rows(st, dom, table, first, last), check)
        self._energy = energy_shares(st, dom, table) if energy else None
        dom.reverse_forces(st)
        clear = integ.second_half(st, dom)
        st.step += 1
        return clear

    def _advance_compiled(self, k: int) -> None:
        """``k`` steps in :func:`pel_hpc.md.loop.advance` as a batch of one replica (list-free minimum image)."""
        from pel_hpc.parallel.batch import ReplicaBatch  # the one caller of the compiled loop

        if self._batch is None:
            self._batch = ReplicaBatch([self])
        self._batch.advance(k)

    def thermo(self) -> dict:
        """Current observables: step, time [tau], T, E_pot, E_kin, H (per particle) [epsilon], P."""
        st = self.state
        ke = kinetic_energy(st, self.domain)
        n = st.n_global
        return {"step": st.step, "time": st.step * self.integrator.dt, "T": temperature(ke, n),
                "E_pot": self.epot / n, "E_kin": ke / n,
                "H": (self.epot + ke + self.integrator.chain_energy(st)) / n,
                "P": pressure(ke, self.virial, st.volume)}
