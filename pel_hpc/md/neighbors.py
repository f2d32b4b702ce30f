"""Verlet neighbour lists with a skin, built from cell lists over owned particles and ghosts.

Full lists (each pair appears for both partners, so the force kernel never scatters).  Every
periodic image a particle sees is a ghost row of the state (the halo of
:mod:`pel_hpc.parallel.halo`, on any rank grid including 1×1×1), so an entry of
``nlist[i, k]`` (int32) is just the row ``j`` of the partner in ``[local | ghost]``: no image
shift and no pair type to decode in the force loop.  Every row lists its A partners first,
``count_a[i]`` of them, then its B partners, up to ``count[i]``: the force kernel evaluates
each block with constant pair parameters.  Buffers have a fixed capacity; the builder never
resizes them and returns the largest count it needed, so the caller grows ``nlist`` and
rebuilds when it exceeds the capacity (overflow flag).
A pair is listed within its own list radius r_c σ_αβ + skin [sigma] (:func:`pair_list_radii`,
as LAMMPS' per-type neighbour cut-offs); cells and halos use the largest, r_list = max r_c + skin.
The list is rebuilt when the largest displacement since the build exceeds skin/2
(:func:`list_is_stale`).  Boxes with an edge below 2.5 list radii (N = 65) use no list at all in
serial runs: the minimum-image kernels of :mod:`pel_hpc.md.forces` (:func:`fits_min_image`).
"""
import math

import numpy as np
from numba import njit, prange

from pel_hpc.errors import DecompositionError, UnstableDynamicsError
from pel_hpc.md.box import wrap
from pel_hpc.physics.kob_andersen import SIGMA

MAX_ROWS = (1 << 31) - 1  # an entry is a non-negative int32 row index


def check_rows(n_total: int) -> None:
    """Refuse more owned + ghost particles on one rank than an int32 entry can index."""
    if n_total >= MAX_ROWS:
        raise DecompositionError(f"{n_total} particles (owned + ghost) on one rank exceed the neighbour-list "
                                 f"index range 2^31 - 1 = {MAX_ROWS}: run on more ranks")


@njit(cache=True)
def max_displacement2(x, x_build, n):
    """Largest squared displacement of the first ``n`` particles since the build [sigma²]; inf if
    any is not finite (a NaN would lose every comparison and hide a diverged particle)."""
    m = 0.0
    for i in range(n):
        d = (x[i, 0] - x_build[i, 0]) ** 2 + (x[i, 1] - x_build[i, 1]) ** 2 + (x[i, 2] - x_build[i, 2]) ** 2
        if d != d:
            return np.inf
        m = max(m, d)
    return m


@njit(cache=True)
def reach_after_drift(x, x_build, v, f, h, dt, n):
    """(max_i |a_i + b_i|, max_i |b_i|) [sigma] over the first ``n`` particles, with
    a_i = x_i − x_build,i + Δt·h·F_i and b_i = Δt·v_i: the next drift moves particle i to
    x_build,i + a_i + S·b_i, S the product of the thermostat scales before it (velocity Verlet:
    v ← S·v + h·F, x ← x + Δt·v), so its displacement from the build is at most
    |a_i + b_i| + |S − 1|·|b_i| (the forecast of :meth:`pel_hpc.simulation.Integrator.second_half`)."""
    m1 = 0.0
    m2 = 0.0
    for i in range(n):
        ab = 0.0
        bb = 0.0
        for d in range(3):
            b = dt * v[i, d]
            a = x[i, d] - x_build[i, d] + dt * (h * f[i, d])
            ab += (a + b) ** 2
            bb += b * b
        m1 = max(m1, ab)
        m2 = max(m2, bb)
    return np.sqrt(m1), np.sqrt(m2)


def list_is_stale(state, x_build, skin: float, comm) -> bool:
    """Verlet criterion, globally reduced: has any particle moved more than skin/2 since the build?

    Raises :class:`~pel_hpc.errors.UnstableDynamicsError` when a displacement is not finite (on every
    rank of the domain alike: the maximum is reduced first), before a cell list is built from it."""
    d2 = comm.allreduce_max(max_displacement2(state.x, x_build, state.n_local))
    if not math.isfinite(d2):
        raise UnstableDynamicsError("a particle's displacement since the last list build is not finite")
    return d2 > 0.25 * skin**2


@njit(cache=True)
def bin_particles(x, n, lo, cell_size, nc, cell_of):
    """Cell index of each of the first ``n`` particles (clamped to the grid), in ``cell_of``."""
    for i in range(n):
        c = 0
        for d in range(3):
            k = int(np.floor((x[i, d] - lo[d]) / cell_size[d]))
            k = min(max(k, 0), nc[d] - 1)
            c = c * nc[d] + k
        cell_of[i] = c
    return cell_of


@njit(cache=True)
def counting_sort(cell_of, n, ncell, cell_start, cell_atoms):
    """CSR cell table: atoms of cell c are ``cell_atoms[cell_start[c]:cell_start[c+1]]``."""
    cell_start[:] = 0
    for i in range(n):
        cell_start[cell_of[i] + 1] += 1
    for c in range(ncell):
        cell_start[c + 1] += cell_start[c]
    fill = cell_start[:ncell].copy()
    for i in range(n):
        c = cell_of[i]
        cell_atoms[fill[c]] = i
        fill[c] += 1


@njit(cache=True)
def build_cells(x, typ, n_local, cell_of, cell_start, cell_atoms, nc, m, rlist_pair, nlist, count, count_a):
    """Cell-list build over a non-periodic grid covering owned particles and their ghosts.

    Stencil of (2m+1)³ cells of side ≥ max r_list/m around each cell.  A pair of type
    pt = 2 t_i + t_j is listed when closer than ``rlist_pair[pt]`` (4,) [sigma]
    (:func:`pair_list_radii`: r_c σ_αβ + skin, as LAMMPS; one radius for all types is also exact).
    Each row lists its A partners first (``count_a``), then its B partners (up to ``count``).

    Work is done per cell, not per particle: the stencil's particles within the list radius of
    the bounding box of the cell's owned particles (:func:`_stencil`; about half of the stencil)
    are copied once into contiguous structure-of-arrays rows (A candidates, then B), and every
    owned particle of the cell is then tested against them by one long vectorised distance loop
    and a branch-free append.  For this the particles are re-tabulated by (species, cell) with
    cells numbered z fastest, so one stencil row along z is one contiguous run per species.
    ``cell_start``/``cell_atoms`` (CSR by cell) give the particles of each cell; cells without
    owned particles (ghost-only) are skipped.  Returns the largest per-particle count (overflow
    when > capacity).
    """
    start, xs, rows = _species_cells(x, typ, cell_of, cell_atoms, nc)
    return _build_slabs(x, typ, n_local, cell_start, cell_atoms, nc, m, rlist_pair, start, xs, rows, 0, 1,
                        nlist, count, count_a)


@njit(cache=True, parallel=True)
def build_cells_threaded(x, typ, n_local, cell_of, cell_start, cell_atoms, nc, m, rlist_pair, nlist, count, count_a,
                         parts):
    """:func:`build_cells` on ``parts`` numba threads: thread b lists the owned particles of the x-slabs
    of cells b, b + parts, ... (interleaved, so the ghost-only slabs at both ends are shared).  Each row
    is built by the same code from its cell's stencil, so the list is bitwise that of one thread."""
    start, xs, rows = _species_cells(x, typ, cell_of, cell_atoms, nc)
    worst = np.zeros(parts, np.int64)
    for b in prange(parts):
        worst[b] = _build_slabs(x, typ, n_local, cell_start, cell_atoms, nc, m, rlist_pair, start, xs, rows, b,
                                parts, nlist, count, count_a)
    return worst.max()


@njit(cache=True)
def _species_cells(x, typ, cell_of, cell_atoms, nc):
    """The particles re-tabulated by (species, cell), cells numbered z fastest: CSR ``start`` (2 ncell + 1,)
    and their positions (3, n) and rows in that order (:func:`build_cells`)."""
    n_total, ncell = len(cell_atoms), nc[0] * nc[1] * nc[2]
    key = np.empty(n_total, np.int64)
    for j in range(n_total):
        key[j] = typ[j] * ncell + cell_of[j]
    start, atoms = np.empty(2 * ncell + 1, np.int64), np.empty(n_total, np.int64)
    counting_sort(key, n_total, 2 * ncell, start, atoms)
    xs, rows = _cell_ordered(x, atoms)
    return start, xs, rows


@njit(cache=True)
def _build_slabs(x, typ, n_local, cell_start, cell_atoms, nc, m, rlist_pair, start, xs, rows, first, stride,
                 nlist, count, count_a):
    """The rows of the owned particles in the x-slabs of cells ``first``, ``first + stride``, ... (the
    cell loop of :func:`build_cells`, with its own scratch); returns their largest count."""
    ncell = nc[0] * nc[1] * nc[2]
    most = (2 * m + 1) ** 3 * np.max(cell_start[1:ncell + 1] - cell_start[:ncell])
    cand, cj = np.empty((3, most)), np.empty(most, np.int32)
    d2, row = np.empty(most), np.empty(most + 1, np.int32)
    cap = nlist.shape[1]
    worst = 0
    bounds = np.empty(6)
    reach2 = np.empty(2)  # squared list radius of an A (B) candidate for either partner type
    reach2[0] = max(rlist_pair[0], rlist_pair[2]) ** 2
    reach2[1] = max(rlist_pair[1], rlist_pair[3]) ** 2
    slab = nc[1] * nc[2]
    for cx in range(first, nc[0], stride):
        for c in range(cx * slab, (cx + 1) * slab):
            cy, cz = (c // nc[2]) % nc[1], c % nc[2]
            q0, q1 = cell_start[c], cell_start[c + 1]
            if not _owned_bounds(x, cell_atoms, q0, q1, n_local, bounds):
                continue
            n_a = _stencil(xs, rows, start, 0, cx, cy, cz, nc, m, bounds, reach2[0], cand, cj, 0)
            n_t = _stencil(xs, rows, start, ncell, cx, cy, cz, nc, m, bounds, reach2[1], cand, cj, n_a)
            for q in range(q0, q1):
                i = cell_atoms[q]
                if i >= n_local:
                    continue
                t2 = 2 * typ[i]
                found_a, found = _select(x[i, 0], x[i, 1], x[i, 2], cand, cj, n_a, n_t, rlist_pair[t2] ** 2,
                                         rlist_pair[t2 + 1] ** 2, d2, row)
                count[i] = min(found, cap)
                count_a[i] = min(found_a, cap)
                nlist[i, :count[i]] = row[:count[i]]
                worst = max(worst, found)
    return worst


@njit(cache=True)
def _cell_ordered(x, atoms):
    """Positions (3, n) and rows j of the particles in ``atoms`` order."""
    n = len(atoms)
    xs = np.empty((3, n))
    rows = np.empty(n, np.int32)
    for q in range(n):
        j = atoms[q]
        xs[0, q], xs[1, q], xs[2, q] = x[j, 0], x[j, 1], x[j, 2]
        rows[q] = j
    return xs, rows


@njit(inline="always", cache=True)
def _owned_bounds(x, cell_atoms, q0, q1, n_local, bounds):
    """Bounding box of the owned particles among cell_atoms[q0:q1] in ``bounds`` (lo x, y, z, hi x, y, z);
    False when there is none (a ghost-only cell)."""
    for d in range(3):
        bounds[d], bounds[3 + d] = np.inf, -np.inf
    owned = False
    for q in range(q0, q1):
        i = cell_atoms[q]
        if i < n_local:
            owned = True
            for d in range(3):
                bounds[d] = min(bounds[d], x[i, d])
                bounds[3 + d] = max(bounds[3 + d], x[i, d])
    return owned


@njit(inline="always", cache=True)
def _stencil(xs, rows, start, base, cx, cy, cz, nc, m, bounds, reach2, cand, cj, k):
    """Append the particles of the cells (cx ± m, cy ± m, cz ± m) inside the grid from the
    species table at key offset ``base`` to ``cand``/``cj`` from slot ``k`` on, except those at
    a squared distance ≥ ``reach2`` from the box ``bounds`` of the cell's owned particles;
    returns the new slot count.

    That box filter keeps about half of the cube stencil (the cell widened by r_list is a
    rounded box), and it drops only candidates :func:`_select` would reject: with round-to-nearest
    arithmetic fl(lo − c) ≤ fl(x_i − c) for lo ≤ x_i (rounding is monotone), so the box distance
    computed here never exceeds the particle distance computed there, and the lists are bitwise
    those of the unfiltered stencil.  Every slot is written; the count advances when kept."""
    lo, hi = max(cz - m, 0), min(cz + m, nc[2] - 1)
    for a in range(max(cx - m, 0), min(cx + m + 1, nc[0])):
        for b in range(max(cy - m, 0), min(cy + m + 1, nc[1])):
            r = base + (a * nc[1] + b) * nc[2]
            for q in range(start[r + lo], start[r + hi + 1]):
                px, py, pz = xs[0, q], xs[1, q], xs[2, q]
                dx = max(bounds[0] - px, px - bounds[3], 0.0)
                dy = max(bounds[1] - py, py - bounds[4], 0.0)
                dz = max(bounds[2] - pz, pz - bounds[5], 0.0)
                cand[0, k], cand[1, k], cand[2, k] = px, py, pz
                cj[k] = rows[q]
                k += (dx * dx + dy * dy + dz * dz) < reach2
    return k


@njit(inline="always", cache=True)
def _select(xi, yi, zi, cand, cj, n_a, n_t, lim_a, lim_b, d2, row):
    """Rows of the candidates within the list radius of a particle at (xi, yi, zi): (A count, total).

    Candidates k < n_a are A (squared radius ``lim_a``), n_a ≤ k < n_t are B (``lim_b``).  A
    vectorised pass computes every r², then a branch-free append keeps 0 < r² < lim (r = 0 is
    the particle itself): every slot is written, the count advances only on acceptance.  About
    a fifth are accepted, unpredictably; a branching append measured 3× slower in the build.
    """
    for k in range(n_t):
        dx, dy, dz = xi - cand[0, k], yi - cand[1, k], zi - cand[2, k]
        d2[k] = dx * dx + dy * dy + dz * dz
    c = _append(d2, cj, 0, n_a, lim_a, row, 0)
    return c, _append(d2, cj, n_a, n_t, lim_b, row, c)


@njit(inline="always", cache=True)
def _append(d2, cj, k0, k1, lim, row, c):
    """Append the candidates k0 ≤ k < k1 with 0 < r² < ``lim`` to ``row`` from slot ``c``; return the count."""
    for k in range(k0, k1):
        row[c] = cj[k]
        c += (d2[k] < lim) & (d2[k] > 0.0)
    return c


def pair_list_radii(rc_max: float, skin: float) -> np.ndarray:
    """List radius per pair type (4,) [sigma]: r_c σ_αβ/σ_max + skin, i.e. the pair's cut-off plus the skin.

    Every :class:`~pel_hpc.physics.kob_andersen.PairTable` has r_c,αβ = r_c σ_αβ, so the
    radii follow from its largest cut-off; B–A pairs (σ_AB = 0.8) get a list 45 % smaller in
    volume than a single radius r_c,max + skin would give.
    """
    return float(rc_max) * SIGMA.reshape(4) / SIGMA.max() + float(skin)


def cell_grid(extent: np.ndarray, rlist: float):
    """(nc (3,), cell side, m) of a non-periodic grid of cubic cells of side r_list/m, m = 1, covering ``extent`` [sigma].

    The cells have the smallest side the (2m+1)³ stencil allows (r_list/m, widened by 1e-10
    relative so that rounding in the binning cannot shrink it); the grid may overhang the
    extent by less than one cell, which costs nothing (no particle lies there).  m = 1: the
    box filter of :func:`_stencil` makes the distance tests per particle depend little on the
    cell size, while the copying per particle falls as cells grow; at N = 8000 a build takes
    6.3 ms with m = 1 against 7.7 ms with m = 2 (unfiltered, cells paired along z).
    """
    m = 1
    side = rlist / m * (1.0 + 1e-10)
    nc = np.ceil(np.asarray(extent, dtype=float) / side).astype(np.int64)
    return np.maximum(nc, 1), side, m


def fits_min_image(box: np.ndarray, rlist: float) -> bool:
    """True for boxes with an edge below 2.5 r_list (N = 65 with r_c = 1.8; about N < 170 at r_c = 1.8 and
    N < 410 at r_c = 2.5 for ρ = 1.2): serial runs of such boxes use the list-free minimum-image kernels,
    exact because r_c < L/2 (:func:`pel_hpc.md.box.check_cutoff`), and there cheaper than a list (all
    N²/2 pairs vectorised against about N·ρ(4π/3)r_list³ gathered entries and the ghosts)."""
    return bool(np.any(np.asarray(box) < 2.5 * rlist))


@njit(cache=True)
def refresh_min_image(x, image, x_build, box, skin):
    """Refresh of the list-free minimum-image path: wrap once moved > skin/2.

    Minimum-image forces need no list; wrapping only keeps coordinates small (and the image
    counters right).  Returns 1 if wrapped, else 0.
    """
    n = x.shape[0]
    if max_displacement2(x, x_build, n) <= 0.25 * skin * skin:
        return 0
    wrap(x, image, box, n)
    x_build[:, :] = x
    return 1
