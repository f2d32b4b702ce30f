"""Factories shared by the decomposition tests: a KA configuration, a group communicator, an NVE loop.

The loop is the plain velocity-Verlet step (kick, drift, domain refresh, forces, kick) on
the engine's kernels, so a trajectory depends only on the forces and the domain.
"""
import numpy as np

from pel_hpc.md.forces import compute_forces
from pel_hpc.md.integrate import drift, kick
from pel_hpc.md.velocities import gaussian_velocities
from pel_hpc.parallel.comm import MPIComm
from pel_hpc.physics.kob_andersen import pair_table, types_for
from pel_hpc.state import State

TABLE = pair_table(2.5)
SKIN = 0.3


def lattice_state(side: int, density: float = 1.2, noise: float = 0.05, temperature: float = 0.0,
                  seed: int = 3) -> State:
    """KA mixture on a simple-cubic lattice jittered by up to ``noise`` per component (N = side³,
    species shuffled), all particles on this rank; velocities at ``temperature`` if > 0."""
    n = side**3
    edge = (n / density) ** (1.0 / 3.0)
    rng = np.random.default_rng(seed)
    x = (np.indices((side,) * 3).reshape(3, -1).T + 0.5) * (edge / side)
    x += rng.uniform(-noise, noise, size=x.shape)
    state = State.from_arrays(x % edge, rng.permutation(types_for(n)), [edge] * 3, seed=seed)
    if temperature > 0.0:
        gaussian_velocities(seed, 0, state.tag, state.v)
        state.v -= state.v.mean(axis=0)
        state.v *= np.sqrt(temperature / np.mean(state.v**2))
    return state


def group(world, size: int) -> MPIComm:
    """Consecutive ranks in groups of ``size`` (the world when it equals the world size)."""
    return MPIComm(world).split(world.rank // size, world.rank)


def nve(state, domain, steps: int, dt: float = 0.005, setup: bool = True):
    """Run ``steps`` velocity-Verlet steps; returns the final (E_pot, W) [epsilon]."""
    if setup:
        domain.setup(state)
    epot, vir = compute_forces(state, domain, TABLE)
    for _ in range(steps):
        kick(state.v, state.f, 0.5 * dt, state.n_local)
        drift(state.x, state.v, dt, state.n_local)
        domain.refresh(state)
        epot, vir = compute_forces(state, domain, TABLE)
        kick(state.v, state.f, 0.5 * dt, state.n_local)
    return epot, vir


def unwrapped_by_tag(state, domain) -> np.ndarray:
    """Unwrapped positions of all particles, ordered by tag [sigma]."""
    x = domain.gather_by_tag(state, state.x)
    image = domain.gather_by_tag(state, state.image)
    return x + image * state.box
