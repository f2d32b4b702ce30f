"""Initial configurations: random placement with a soft push, replication, a frame from our files.

Random placement draws positions uniformly in a cubic box of edge L = (N/ρ)^{1/3} from the
counter-based generator of :mod:`pel_hpc.md.velocities` (a function of seed and tag only),
then removes overlaps with a displacement-capped FIRE push (|Δx_i| ≤ 0.1 per iteration) on
the KA potential itself, continued until the configuration is a local minimum to a loose
tolerance, so MD starts from a finite, moderate energy.  Units: L [sigma], ρ [sigma⁻³].
"""
from __future__ import annotations

import numpy as np
from numba import njit

from pel_hpc.md.minimize import minimize
from pel_hpc.md.velocities import STREAM_POSITION, uniform
from pel_hpc.physics.kob_andersen import types_for
from pel_hpc.state import State

PUSH_TOL_PER_PARTICLE = 1e-3  # [epsilon/sigma], |F| ≤ tol·sqrt(N) ends the push


@njit(cache=True)
def uniform_positions(seed, replica, n, box, x):
    """x[i] uniform in the box as a function of (seed, replica, i) only."""
    for i in range(n):
        for d in range(3):
            x[i, d] = uniform(seed, STREAM_POSITION, replica, i, d) * box[d]


def box_edge(n: int, density: float) -> float:
    """Cubic box edge L = (N/ρ)^{1/3} [sigma]."""
    return float((n / density) ** (1.0 / 3.0))


def random_state(n: int, density: float = 1.2, fraction_a: float = 0.8, seed: int = 12345,
                 replica: int = 0) -> State:
    """Uniformly random KA configuration (overlapping: follow with :func:`soft_push`)."""
    box = np.full(3, box_edge(n, density))
    x = np.empty((n, 3))
    uniform_positions(seed, replica, n, box, x)
    return State.from_arrays(x, types_for(n, fraction_a), box, seed=seed, replica=replica)


def soft_push(state, domain, table, max_iter: int = 20000) -> None:
    """Remove overlaps in place by capped FIRE on the KA potential; velocities are zeroed."""
    domain.setup(state)
    tol = PUSH_TOL_PER_PARTICLE * np.sqrt(state.n_global)
    minimize(state, domain, table, tol=tol, max_iter=max_iter)


def replicate(state: State, reps, domain=None) -> State:
    """Copy a serial configuration n_x×n_y×n_z times: N·n_x n_y n_z particles, box scaled.

    Tags of copy c are ``c·N + tag``; velocities and species are copied along.
    """
    reps = np.asarray(reps, dtype=np.int64).reshape(3)
    x = _by_tag(state, state.x, domain)
    v, typ = _by_tag(state, state.v, domain), _by_tag(state, state.typ, domain)
    offsets = np.array([[a, b, c] for a in range(reps[0]) for b in range(reps[1]) for c in range(reps[2])])
    xs = (x[None, :, :] + (offsets * state.box)[:, None, :]).reshape(-1, 3)
    m = len(offsets)
    return State.from_arrays(xs, np.tile(typ, m), state.box * reps, v=np.tile(v, (m, 1)),
                             seed=state.seed, replica=state.replica, step=state.step)


def _by_tag(state, array, domain):
    if domain is not None:
        return domain.gather_by_tag(state, array)
    out = np.empty((state.n_global,) + array.shape[1:], dtype=array.dtype)
    out[state.tag[: state.n_local]] = array[: state.n_local]
    return out
