"""Replica ensembles: split the world into groups, give each group its replicas, seed each replica.

``ensemble.replicas`` systems run on ``world.size`` ranks in groups of
``ensemble.ranks_per_replica`` ranks; group :math:`g` of :math:`G` runs the contiguous block
of replicas :math:`[\\lfloor gR/G \\rfloor, \\lfloor (g+1)R/G \\rfloor)`, so more replicas than
groups run several per group (batched into one compiled loop for small systems). A replica's
random numbers depend only on ``(run.seed, replica)`` — never on the rank count or the
group that runs it. In an iso-configurational ensemble every replica starts from the same
positions with fresh Maxwell–Boltzmann velocities drawn from its own seed.

References
----------
A. Widmer-Cooper, P. Harrowell and H. Fynewever, Phys. Rev. Lett. 93, 135701 (2004)
(iso-configurational ensemble).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pel_hpc.errors import DecompositionError


@dataclass(frozen=True)
class ReplicaLayout:
    """Where the replicas run.

    Attributes
    ----------
    n_replicas, ranks_per_replica, n_groups : int
    group : int
        This rank's group.
    table : tuple of tuple of int
        ``table[g]`` the replicas of group ``g`` (replica → group is the inverse).
    """

    n_replicas: int
    ranks_per_replica: int
    n_groups: int
    group: int
    table: tuple

    @property
    def replicas(self) -> tuple:
        """The replicas this rank's group runs."""
        return self.table[self.group]

    def group_of(self, replica: int) -> int:
        """The group that runs ``replica``."""
        return next(g for g, reps in enumerate(self.table) if replica in reps)


def replica_table(n_replicas: int, ranks_per_replica: int, world_size: int) -> tuple:
    """Contiguous blocks of replicas per group; refuses layouts that leave ranks idle.

    Raises
    ------
    DecompositionError
        When ``world_size`` is not a multiple of ``ranks_per_replica`` or there are more
        groups than replicas.
    """
    if world_size % ranks_per_replica:
        raise DecompositionError(
            f"{world_size} MPI ranks cannot form groups of ensemble.ranks_per_replica = {ranks_per_replica}; "
            f"use a multiple of {ranks_per_replica} ranks")
    n_groups = world_size // ranks_per_replica
    if n_groups > n_replicas:
        raise DecompositionError(
            f"{world_size} MPI ranks make {n_groups} replica groups but ensemble.replicas = {n_replicas}; "
            f"use at most {n_replicas * ranks_per_replica} ranks")
    bounds = [g * n_replicas // n_groups for g in range(n_groups + 1)]
    return tuple(tuple(range(bounds[g], bounds[g + 1])) for g in range(n_groups))


def split_world(world, n_replicas: int, ranks_per_replica: int):
    """Split ``world`` (MPIComm or SerialComm) into replica groups.

    Returns
    -------
    (ReplicaLayout, group communicator)
        Ranks ``g·r … g·r + r − 1`` form group ``g`` (neighbouring ranks, usually one node).
    """
    table = replica_table(n_replicas, ranks_per_replica, world.size)
    group = world.rank // ranks_per_replica
    layout = ReplicaLayout(n_replicas, ranks_per_replica, len(table), group, table)
    return layout, world.split(group, world.rank)


def replica_seed(seed: int, replica: int) -> int:
    """A 63-bit seed for replica ``replica`` as a pure function of ``(seed, replica)``.

    SplitMix64 of the pair (Steele, Lea and Flood 2014): distinct replicas get unrelated
    streams, and the value does not depend on which rank or group runs the replica.
    """
    mask = (1 << 64) - 1

    def mix(z: int) -> int:
        z = (z + 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    return mix(mix(int(seed)) ^ int(replica)) >> 1


def gather_replica_results(world, layout: ReplicaLayout, results: dict) -> dict:
    """All replicas' results on every rank: ``{replica: value}`` merged over groups.

    ``results`` maps this group's replicas to picklable values (only the group's first rank
    needs to hold them; other ranks may pass an empty dict).
    """
    merged = {}
    for part in world.allgather(dict(results)):
        merged.update(part)
    missing = set(range(layout.n_replicas)) - set(merged)
    if missing:
        raise DecompositionError(f"replicas {sorted(missing)} produced no result")
    return {k: merged[k] for k in sorted(merged)}


def stack_replicas(values: dict) -> np.ndarray:
    """Results of :func:`gather_replica_results` as one array ordered by replica."""
    return np.stack([np.asarray(values[k]) for k in sorted(values)])


def replica_states(cfg, replicas, table, comm=None, stream=None) -> list:
    """Start states of ``replicas`` per ``ensemble.mode`` (:func:`pel_hpc.build.initial_state`: every
    particle on one rank, each rank's own share on a group of several).

    ``independent``: each replica its own start (random placement seeded by the replica);
    ``iso_configurational``: replica 0's positions for all, fresh Maxwell–Boltzmann
    velocities at ``integrator.temperature`` from each replica's own counter-based stream.
    A random start is pushed apart on the ranks of ``comm`` (the replica group; the same start on
    any rank count); the first start's report goes to ``stream``.
    """
    from pel_hpc.build import initial_state, start_velocities

    if cfg.ensemble.mode != "iso_configurational":
        return [initial_state(cfg, comm, table, k, stream if i == 0 else None) for i, k in enumerate(replicas)]
    base = initial_state(cfg, comm, table, 0, stream)
    states = []
    for k in replicas:
        s = base.copy()
        s.replica = k
        start_velocities(s, comm, cfg.integrator.temperature)
        states.append(s)
    return states
