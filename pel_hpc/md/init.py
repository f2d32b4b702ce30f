"""Initial configurations: random placement with a soft push, replication, a frame from our files.

Random placement draws positions uniformly in a cubic box of edge L = (N/ρ)^{1/3} from the
counter-based generator of :mod:`pel_hpc.md.velocities` (a function of seed and tag only),
then removes overlaps with a displacement-capped FIRE push (|Δx_i| ≤ 0.1 per iteration) on
the KA potential itself, continued until no particle feels a force above
:data:`PUSH_MAX_FORCE` (thermal forces in the liquid at T = 0.5 are ~20 ε/σ per particle, RMS),
so MD starts from a finite, moderate energy (E_pot/N ≈ −7.4 at ρ = 1.2).  The push stops
well before a minimum: at N = 8000 it takes ~450 FIRE iterations (a minimum to |F| ≤ 10⁻³√N
took ~10⁴).

:func:`pushed_random_state` pushes on the run's ranks, decomposed, in reproducible mode
(:mod:`pel_hpc.parallel.domain`): the start is bitwise the same on any rank count, so a
trajectory's start does not depend on how many ranks made it.  Units: L [sigma], ρ [sigma⁻³].
"""
from __future__ import annotations

from time import perf_counter

import numpy as np
from numba import njit

from pel_hpc.md.minimize import minimize
from pel_hpc.md.velocities import STREAM_POSITION, uniform
from pel_hpc.physics.kob_andersen import types_for
from pel_hpc.state import State

PUSH_MAX_FORCE = 3.0  # [epsilon/sigma], max_i |F_i| ≤ this ends the push


@njit(cache=True)
def uniform_positions(seed, replica, tags, box, x):
    """x[k] uniform in the box as a function of (seed, replica, tags[k]) only."""
    for k in range(tags.size):
        for d in range(3):
            x[k, d] = uniform(seed, STREAM_POSITION, replica, tags[k], d) * box[d]


def box_edge(n: int, density: float) -> float:
    """Cubic box edge L = (N/ρ)^{1/3} [sigma]."""
    return float((n / density) ** (1.0 / 3.0))


def random_state(n: int, density: float = 1.2, fraction_a: float = 0.8, seed: int = 12345,
                 replica: int = 0, keep=None) -> State:
    """Uniformly random KA configuration (overlapping: follow with :func:`soft_push`).

    ``keep(x) -> mask`` (e.g. "owned by this rank") selects the particles this process holds; the
    positions are drawn a chunk of tags at a time, so no process holds all N of them.
    """
    from pel_hpc.parallel.grid import kept_rows

    box = np.full(3, box_edge(n, density))

    def draw(lo, hi):
        x = np.empty((hi - lo, 3))
        uniform_positions(seed, replica, np.arange(lo, hi), box, x)
        return {"x": x}

    tags, rows = kept_rows(n, draw, keep)
    state = State.from_arrays(rows["x"], types_for(n, fraction_a)[tags], box, tag=tags, seed=seed, replica=replica)
    state.n_global = n
    return state


def soft_push(state, domain, table, max_iter: int = 20000):
    """Remove overlaps in place by capped FIRE on the KA potential; velocities are zeroed.

    ``domain`` is set up here; on a decomposed one the state ends distributed over its ranks.
    Returns :func:`~pel_hpc.md.minimize.minimize`'s (E_pot, iterations, max_i |F_i|, converged)."""
    domain.setup(state)
    return minimize(state, domain, table, tol=PUSH_MAX_FORCE, max_iter=max_iter, norm="max")


def pushed_random_state(n: int, density: float, fraction_a: float, seed: int, replica: int, table, skin: float,
                        comm=None, grid="auto", stream=None) -> State:
    """:func:`random_state` pushed apart on the ranks of ``comm`` (default: this process alone); one line
    on ``stream`` (if given) says how the push went.

    A tiny box (:func:`pel_hpc.md.neighbors.fits_min_image`: N ≲ 400 at r_c = 2.5) is pushed by the
    list-free serial path on every rank alike, and every rank returns all particles.  Any other is
    drawn and pushed owned, on the decomposed domain of ``grid`` in reproducible mode: each rank
    returns the particles it owns on that grid (all of them on one rank), in tag order, and no rank
    ever holds all N.  Either way the positions by tag are bitwise the same for any rank count.
    """
    from pel_hpc.md.domain import SerialDomain
    from pel_hpc.md.neighbors import fits_min_image
    from pel_hpc.parallel.comm import SerialComm
    from pel_hpc.parallel.domain import DecomposedDomain
    from pel_hpc.parallel.grid import owned_by

    comm = SerialComm() if comm is None else comm
    box = np.full(3, box_edge(n, density))
    tiny = fits_min_image(box, table.rc_max + skin)
    if tiny:
        state, domain = random_state(n, density, fraction_a, seed, replica), SerialDomain(table.rc_max, skin)
    else:
        keep = None if comm.size == 1 else owned_by(comm, box, table.rc_max + skin, grid)
        state = random_state(n, density, fraction_a, seed, replica, keep)
        domain = DecomposedDomain(table.rc_max, skin, comm, grid, reproducible=True)
    t0 = perf_counter()
    epot, iterations, fmax, converged = soft_push(state, domain, table)
    if stream is not None:
        ranks = "each rank" if tiny and comm.size > 1 else f"{comm.size} rank{'s' if comm.size > 1 else ''}"
        print(f"# random start: {n} particles pushed apart on {ranks} in {iterations} FIRE iterations, "
              f"{perf_counter() - t0:.1f} s: E_pot/N = {epot / n:.4f}, max |F_i| = {fmax:.3g} eps/sigma"
              + ("" if converged else f" (above {PUSH_MAX_FORCE}: the push stopped at its iteration limit)"),
              file=stream, flush=True)
    order = np.argsort(state.tag[:state.n_local])  # this rank's particles (all of them on one), by tag
    out = State.from_arrays(state.x[order], state.typ[order], state.box, tag=state.tag[order],
                            image=state.image[order], seed=seed, replica=replica)
    out.n_global = n
    return out


def replicate(state: State, reps, domain=None, keep=None) -> State:
    """Copy a serial configuration n_x×n_y×n_z times: N·n_x n_y n_z particles, box scaled.

    Tags of copy c are ``c·N + tag``; velocities and species are copied along.  ``keep(x) -> mask``
    (e.g. "owned by this rank", :func:`pel_hpc.parallel.grid.owned_by`) selects the particles this
    process holds, copy by copy, so that no rank ever holds all N·n_x n_y n_z of a large system;
    ``n_global`` counts them all.  Without it every particle is kept.
    """
    reps = np.asarray(reps, dtype=np.int64).reshape(3)
    x = _by_tag(state, state.x, domain)
    v, typ = _by_tag(state, state.v, domain), _by_tag(state, state.typ, domain)
    offsets = np.array([[a, b, c] for a in range(reps[0]) for b in range(reps[1]) for c in range(reps[2])])
    n, box = len(x), state.box * reps
    parts = []
    for c, offset in enumerate(offsets):
        xc = x + offset * state.box
        rows = np.arange(n) if keep is None else np.flatnonzero(keep(xc))
        parts.append((xc[rows], rows, c * n + rows))
    xs, rows, tags = (np.concatenate(p) for p in zip(*parts))
    out = State.from_arrays(xs, typ[rows], box, v=v[rows], tag=tags, seed=state.seed, replica=state.replica,
                            step=state.step)
    out.n_global = n * len(offsets)
    return out


def _by_tag(state, array, domain):
    if domain is not None:
        return domain.gather_by_tag(state, array)
    out = np.empty((state.n_global,) + array.shape[1:], dtype=array.dtype)
    out[state.tag[: state.n_local]] = array[: state.n_local]
    return out
