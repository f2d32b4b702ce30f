"""Replica batch: the small systems of one rank stacked on a replica axis, advanced in one compiled call.

The members of a :class:`~pel_hpc.parallel.group.ReplicaGroup` that run the compiled
single-rank loop (tiny boxes such as N = 65, ``Simulation.compiled``) keep their per-particle
arrays in stacked ``(R, N, 3)`` storage owned by the batch; each member's
:class:`~pel_hpc.state.State` holds *views* (``state.x is batch.x[r]``), so operations
(quench, thermo, H5MD output, checkpoints) read and write the member as usual, and nothing
is copied between events.  :meth:`ReplicaBatch.advance` is one call of
:func:`pel_hpc.md.loop.advance`: the whole velocity-Verlet(-NHC) step of every replica runs
in compiled code, Python runs once per event, never per replica per step.  A replica's
arithmetic does not depend on the batch (R, its position), so its trajectory is bitwise the
same on any rank count.

Layout: replica-major ``(R, N, 3)``, so each replica's force loop vectorises over its partners
(:func:`pel_hpc.md.forces.pair_forces_min_image`).  A replica-minor layout ``(3, N, R)`` with the
SIMD lanes across replicas (one pair of every replica per vector, exact IEEE per lane) was
measured on this machine (AVX2) at 6.0–6.1 M particle-force evaluations/s per core against
5.8–6.4 M for the replica-major kernel (R = 32, N = 65): no gain, so it was not adopted.

Units: LJ (x [sigma], v [sigma/tau], F [epsilon/sigma], E [epsilon]).
"""
from __future__ import annotations

import numpy as np

from pel_hpc.errors import DecompositionError, UnstableDynamicsError
from pel_hpc.md import loop, thermostat

STACKED = ("x", "v", "f", "image", "nhc_eta", "nhc_veta")  # State fields the batch owns (views in members)


class ReplicaBatch:
    """R compiled simulations of one deck (same N, table, integrator) stacked for :func:`loop.advance`.

    Parameters
    ----------
    sims : list of :class:`~pel_hpc.simulation.Simulation`
        Set up (forces computed), ``compiled``, all at the same step.
    """

    def __init__(self, sims):
        self.sims = list(sims)
        self.attach()

    def attach(self) -> "ReplicaBatch":
        """Stack the members' arrays and make the members' states and domains view them.

        :meth:`advance` calls it again when a member's arrays were rebound (a re-set-up after a
        checkpoint rebuilds the domain's ``x_build``).
        """
        states, n = [s.state for s in self.sims], self.sims[0].state.n_local
        if any(st.n_local != n or st.n_ghost for st in states):
            raise DecompositionError("a replica batch needs single-rank replicas of one system size")
        for name in STACKED:
            stacked = np.stack([getattr(st, name)[:n] for st in states])  # [:n] keeps a whole chain
            setattr(self, name, stacked)
            for r, st in enumerate(states):
                setattr(st, name, stacked[r])
        self.x_build = np.stack([s.domain.x_build[:n] for s in self.sims])
        for r, s in enumerate(self.sims):
            s.domain.x_build = self.x_build[r]
        self.typ = np.stack([st.typ[:n] for st in states])
        self.box = np.stack([st.box for st in states])
        self.info = np.zeros((len(self.sims), 4))
        return self

    def advance(self, steps: int) -> None:
        """Advance every member ``steps`` steps in one compiled call; step, E_pot, W and wrap counts updated."""
        if not self._attached():
            self.attach()
        t, integ = self.sims[0].table, self.sims[0].integrator
        self.info[:, 2] = 0.0
        ke2c = np.array([s.state.nhc_ke2 for s in self.sims])
        loop.advance(self.x, self.v, self.f, self.image, self.x_build, self.typ, self.box, t.coeff, t.force_shift,
                     self.sims[0].domain.skin, integ.dt, self.nhc_eta, self.nhc_veta, ke2c, integ.q, integ.ndof,
                     integ.temperature, int(steps), self.info)
        self._check_diverged(int(steps), integ.dt)
        for s, (epot, virial, wraps), carried in zip(self.sims, self.info[:, :3].tolist(), ke2c.tolist()):
            s.state.nhc_ke2 = carried
            s.state.step += int(steps)
            s.set_energy(epot, virial)
            s.domain.n_rebuilds += int(wraps)

    def _check_diverged(self, steps: int, dt: float) -> None:
        """Raise :class:`~pel_hpc.errors.UnstableDynamicsError` naming every replica that diverged: its
        last step's E_pot or virial not finite (NaN and inf reach them within a step), or in NVT its
        kinetic temperature beyond :func:`pel_hpc.md.thermostat.runaway`'s limit at some step."""
        bad = ~np.isfinite(self.info[:, :2]).all(axis=1)
        hot = np.array([s.integrator.chain > 0 and thermostat.runaway(t * s.integrator.ndof, s.integrator.ndof,
                                                                      s.integrator.t_reference)
                        for s, t in zip(self.sims, self.info[:, 3])])
        if (bad | hot).any():
            replicas = [s.state.replica for s, b in zip(self.sims, bad | hot) if b]
            reason = (f"the kinetic temperature exceeded {thermostat.RUNAWAY:g} times the larger of the target "
                      f"and the start's" if hot.any() else "the energy is not finite")
            raise UnstableDynamicsError.at(replicas, self.sims[0].state.step + steps, reason, dt)

    def _attached(self) -> bool:
        """True while every member's state and domain still view the stacked arrays."""
        return all(getattr(s.state, name).base is getattr(self, name) for s in self.sims for name in STACKED) \
            and all(s.domain.x_build.base is self.x_build for s in self.sims)
