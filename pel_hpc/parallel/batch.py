"""Replica batches: many small systems on one rank advanced together in one compiled call.

The replicas of a group that fit in one box without a halo (N = 65: the exact all-pairs
multi-image list) are stacked along a leading replica axis and advanced by
:func:`pel_hpc.md.loop.advance`: the whole velocity-Verlet(-NHC) step, list refresh and forces
of every replica run in compiled code, so Python runs once per batch and segment, never per
replica per step. Each replica's arithmetic is the one of a lone run, so its trajectory does
not depend on the batch it is part of, nor on the rank count of the ensemble.

Units: LJ (x [sigma], v [sigma/tau], E [epsilon]).
"""
from __future__ import annotations

import numpy as np

from pel_hpc.md import loop
from pel_hpc.md.domain import SerialDomain
from pel_hpc.md.forces import compute_forces
from pel_hpc.parallel.comm import SerialComm
from pel_hpc.state import State


class ReplicaBatch:
    """R replicas of one system size and integrator, stacked for :func:`pel_hpc.md.loop.advance`.

    Parameters
    ----------
    states : list of :class:`~pel_hpc.state.State`
        Serial states (all particles owned), same N; replica ``k`` is ``states[k].replica``.
    table : :class:`~pel_hpc.physics.kob_andersen.PairTable`
    integrator : :class:`~pel_hpc.simulation.Integrator`
        Its ``setup`` is called here (sizes the chain of every state).
    skin : float
        Verlet skin [sigma].
    """

    def __init__(self, states, table, integrator, skin: float):
        self.table, self.integrator, self.skin = table, integrator, float(skin)
        self.replicas = [s.replica for s in states]
        self.seeds = [s.seed for s in states]
        self.steps = np.array([s.step for s in states], np.int64)
        self.rlist = table.rc_max + self.skin
        domains = [self._prepare(s) for s in states]
        cap = max(d.nlist.shape[1] for d in domains)
        n = states[0].n_local
        self.typ = np.stack([s.typ[:n] for s in states])
        self.tag = np.stack([s.tag[:n] for s in states])
        self.x, self.v, self.f = (np.stack([getattr(s, k)[:n] for s in states]) for k in ("x", "v", "f"))
        self.image = np.stack([s.image[:n] for s in states])
        self.box = np.stack([s.box for s in states])
        self.shifts = np.stack([d.shifts for d in domains])
        self.x_build = np.stack([d.x_build for d in domains])
        self.nlist = np.zeros((len(states), n, cap), np.int32)
        for r, d in enumerate(domains):
            self.nlist[r, :, :d.nlist.shape[1]] = d.nlist[:n]
        self.count = np.stack([d.count[:n] for d in domains])
        self.eta = np.stack([s.nhc_eta for s in states]).reshape(len(states), -1)
        self.eta_v = np.stack([s.nhc_veta for s in states]).reshape(len(states), -1)
        self.info = np.zeros((len(states), 4))
        self.info[:, 0] = [d.epot for d in domains]
        self.info[:, 1] = [d.virial for d in domains]

    def _prepare(self, state):
        """All-pairs list and initial forces of one replica (once, in Python)."""
        domain = SerialDomain(self.table.rc_max, self.skin, SerialComm())
        domain.setup(state)
        if not domain.uses_all_pairs:
            raise ValueError("ReplicaBatch is for boxes that use the all-pairs list (e.g. N = 65)")
        self.integrator.setup(state)
        domain.epot, domain.virial = compute_forces(state, domain, self.table)
        return domain

    def advance(self, steps: int) -> None:
        """Advance every replica by ``steps`` steps in compiled code (lists grown on overflow)."""
        t, integ = self.table, self.integrator
        remaining = np.full(len(self.replicas), int(steps), np.int64)
        resume = np.zeros(len(self.replicas), np.int8)
        while np.any(remaining > 0):
            loop.advance(self.x, self.v, self.f, self.image, self.x_build, self.typ, self.box, self.shifts,
                         self.nlist, self.count, t.eps4, t.sig2, t.rc2, t.ushift, t.fc, t.rc, t.force_shift,
                         self.rlist, self.skin, integ.dt, self.eta, self.eta_v, integ.q, integ.ndof,
                         integ.temperature, remaining, resume, self.info)
            if np.any(resume):  # keep the other replicas' valid lists in the wider buffer
                wider = loop.grow_lists(self.nlist, int(self.info[:, 3].max()))
                wider[:, :, :self.nlist.shape[2]] = self.nlist
                self.nlist = wider
        self.steps += int(steps)

    @property
    def epot(self) -> np.ndarray:
        """Potential energy of each replica at its last step (R,) [epsilon]."""
        return self.info[:, 0].copy()

    @property
    def n_rebuilds(self) -> np.ndarray:
        """List rebuilds of each replica since the batch was made (R,)."""
        return self.info[:, 2].astype(np.int64)

    def state(self, r: int) -> State:
        """Replica ``r`` (batch position) as a serial :class:`State` (copies)."""
        n = self.x.shape[1]
        s = State.from_arrays(self.x[r], self.typ[r], self.box[r], v=self.v[r], tag=self.tag[r],
                              image=self.image[r], seed=self.seeds[r], replica=self.replicas[r])
        s.f[:n] = self.f[r]
        s.step, s.nhc_eta, s.nhc_veta = int(self.steps[r]), self.eta[r].copy(), self.eta_v[r].copy()
        return s

    def unwrapped_by_tag(self, r: int) -> np.ndarray:
        """Unwrapped positions x + image·L of replica ``r`` ordered by tag (N, 3) [sigma]."""
        out = np.empty_like(self.x[r])
        out[self.tag[r]] = self.x[r] + self.image[r] * self.box[r]
        return out

    def kinetic_energy(self) -> np.ndarray:
        """Kinetic energy of each replica (R,) [epsilon] (masses 1)."""
        return 0.5 * np.einsum("rnd,rnd->r", self.v, self.v)


def advance_simulations(sims, steps: int) -> None:
    """Advance several single-rank compiled simulations ``steps`` steps in one compiled call.

    The members (same N, table and integrator; ``sim.compiled``) are stacked along the replica
    axis of :func:`pel_hpc.md.loop.advance`, advanced together, and their arrays copied back:
    Python runs once per call, never per replica per step.  Each replica's arithmetic is the
    one of :meth:`Simulation._advance_compiled`, so its trajectory is bitwise the same.
    """
    n, t, integ = sims[0].state.n_local, sims[0].table, sims[0].integrator
    states, domains = [s.state for s in sims], [s.domain for s in sims]
    x, v, f, image = (np.stack([getattr(st, k)[:n] for st in states]) for k in ("x", "v", "f", "image"))
    x_build = np.stack([d.x_build[:n] for d in domains])
    cap = max(d.nlist.shape[1] for d in domains)
    nlist = np.zeros((len(sims), n, cap), np.int32)
    for r, d in enumerate(domains):
        nlist[r, :, :d.nlist.shape[1]] = d.nlist[:n]
    eta = np.stack([st.nhc_eta for st in states]).reshape(len(sims), -1)
    eta_v = np.stack([st.nhc_veta for st in states]).reshape(len(sims), -1)
    r_count = len(sims)
    remaining, resume, info = np.full(r_count, int(steps), np.int64), np.zeros(r_count, np.int8), np.zeros((r_count, 4))
    loop.advance(x, v, f, image, x_build, np.stack([st.typ[:n] for st in states]), np.stack([st.box for st in states]),
                 np.stack([d.shifts for d in domains]), nlist, np.stack([d.count[:n] for d in domains]),
                 t.eps4, t.sig2, t.rc2, t.ushift, t.fc, t.rc, t.force_shift, domains[0].rlist, domains[0].skin,
                 integ.dt, eta, eta_v, integ.q, integ.ndof, integ.temperature, remaining, resume, info)
    for r, (sim, st, d) in enumerate(zip(sims, states, domains)):
        st.x[:n], st.v[:n], st.f[:n], st.image[:n], d.x_build[:n] = x[r], v[r], f[r], image[r], x_build[r]
        st.nhc_eta[:], st.nhc_veta[:] = eta[r], eta_v[r]
        st.step += int(steps)
        d.n_rebuilds += int(info[r, 2])
        sim.epot, sim.virial = info[r, 0], info[r, 1]
