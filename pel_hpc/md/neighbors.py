"""Verlet neighbour lists with a skin: exact all-pairs images for tiny boxes, cell lists otherwise.

Full lists (each pair appears for both partners, so the force kernel never scatters).
An entry of ``nlist[i, k]`` (int32) packs the partner, its periodic image and the pair type:

.. math::  \\mathrm{entry} = (j \\ll 7)\\,|\\,(s \\ll 2)\\,|\\,(2\\,t_i + t_j)

with ``s`` the index into the shift table of :mod:`pel_hpc.md.box`.  Buffers have a fixed
capacity; the builders never resize them and return the largest count they needed, so the
caller grows ``nlist`` and rebuilds when it exceeds the capacity (overflow flag).
A pair is listed within its own list radius r_c σ_αβ + skin [sigma] (:func:`pair_list_radii`,
as LAMMPS' per-type neighbour cut-offs); cells and halos use the largest, r_list = max r_c + skin.
The list is rebuilt when the largest displacement since the build exceeds skin/2.
"""
import numpy as np
from numba import njit

from pel_hpc.md.box import wrap
from pel_hpc.physics.kob_andersen import SIGMA

J_SHIFT = 7
S_MASK = 31
PT_MASK = 3


def unpack(entries: np.ndarray):
    """Split packed entries into (j, shift index, pair type) integer arrays."""
    e = np.asarray(entries, dtype=np.int64)
    return e >> J_SHIFT, (e >> 2) & S_MASK, e & PT_MASK


@njit(cache=True)
def max_displacement2(x, x_build, n):
    """Largest squared displacement of the first ``n`` particles since the build [sigma²]."""
    m = 0.0
    for i in range(n):
        d = (x[i, 0] - x_build[i, 0]) ** 2 + (x[i, 1] - x_build[i, 1]) ** 2 + (x[i, 2] - x_build[i, 2]) ** 2
        m = max(m, d)
    return m


@njit(cache=True)
def build_all_pairs(x, typ, n_local, n_total, box, rlist_pair, nlist, count):
    """All-pairs list over every periodic image within the pair's list radius (exact if r_list < L).

    ``rlist_pair`` (4,) [sigma] as in :func:`build_cells`.  For tiny boxes (N = 65, L ≈ 3.78,
    r_c + skin > L/2) several images of one partner may lie within r_list; all are listed,
    and since r_c < L/2 at most one is ever inside r_c.
    Returns the largest per-particle count (> ``nlist.shape[1]`` means overflow).
    """
    cap = nlist.shape[1]
    rlist = rlist_pair.max()
    worst = 0
    for i in range(n_local):
        c = 0
        ti = typ[i]
        for j in range(n_total):
            code = (j << 7) | (2 * ti + typ[j])
            rl2 = rlist_pair[2 * ti + typ[j]] ** 2
            for a in range(-1, 2):
                dx = x[i, 0] - x[j, 0] - a * box[0]
                if abs(dx) >= rlist:
                    continue
                for b in range(-1, 2):
                    dy = x[i, 1] - x[j, 1] - b * box[1]
                    if abs(dy) >= rlist:
                        continue
                    for g in range(-1, 2):
                        dz = x[i, 2] - x[j, 2] - g * box[2]
                        r2 = dx * dx + dy * dy + dz * dz
                        if r2 < rl2 and r2 > 0.0:
                            if c < cap:
                                nlist[i, c] = code | ((9 * (a + 1) + 3 * (b + 1) + g + 1) << 2)
                            c += 1
        count[i] = min(c, cap)
        worst = max(worst, c)
    return worst


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
def build_cells(x, typ, n_local, cell_of, cell_start, cell_atoms, nc, m, box, periodic, rlist_pair, nlist, count):
    """Cell-list build: stencil of (2m+1)³ cells of side ≥ max r_list/m around each local particle.

    A pair of type pt = 2 t_i + t_j is listed when closer than ``rlist_pair[pt]`` (4,) [sigma]
    (:func:`pair_list_radii`: r_c σ_αβ + skin, as LAMMPS; one radius for all types is also exact).

    Cells are numbered with z fastest, so the 2m+1 cells of one stencil row along z hold one
    contiguous run of ``cell_atoms`` (at most three runs where a periodic row wraps).  The
    positions are first copied in ``cell_atoms`` order to structure-of-arrays rows, so each
    run is tested by a vectorised distance loop followed by a branch-free append.
    ``periodic``: neighbour cells wrap with an image shift (serial domain, needs nc ≥ 2m+1);
    otherwise cells beyond the grid are skipped and ghosts carry their own shift (halo).
    Returns the largest per-particle count (overflow when > capacity).
    """
    xs, codes = _cell_ordered(x, typ, cell_atoms)
    r2 = np.empty(len(cell_atoms))
    found_row = np.empty(len(cell_atoms) + 1, np.int32)  # one particle's accepted entries (never overflows)
    cap = nlist.shape[1]
    worst = 0
    for i in range(n_local):
        c = cell_of[i]
        cz, cy, cx = c % nc[2], (c // nc[2]) % nc[1], c // (nc[2] * nc[1])
        lo, hi = max(cz - m, 0), min(cz + m, nc[2] - 1)
        lim = rlist_pair[2 * typ[i]:2 * typ[i] + 2] ** 2
        found = 0
        for a in range(cx - m, cx + m + 1):
            sa, wa = _wrap_cell(a, nc[0], periodic)
            for b in range(cy - m, cy + m + 1):
                sb, wb = _wrap_cell(b, nc[1], periodic)
                if wa < 0 or wb < 0:
                    continue
                row = (wa * nc[1] + wb) * nc[2]
                s = 9 * (sa + 1) + 3 * (sb + 1)
                xi, yi = x[i, 0] - sa * box[0], x[i, 1] - sb * box[1]
                found = _run(xs, codes, xi, yi, x[i, 2], cell_start[row + lo], cell_start[row + hi + 1],
                             (s + 1) << 2 | 2 * typ[i], lim, r2, found_row, found)
                if periodic and cz - m < 0:
                    found = _run(xs, codes, xi, yi, x[i, 2] + box[2], cell_start[row + cz - m + nc[2]],
                                 cell_start[row + nc[2]], s << 2 | 2 * typ[i], lim, r2, found_row, found)
                if periodic and cz + m >= nc[2]:
                    found = _run(xs, codes, xi, yi, x[i, 2] - box[2], cell_start[row],
                                 cell_start[row + cz + m - nc[2] + 1], (s + 2) << 2 | 2 * typ[i], lim, r2,
                                 found_row, found)
        count[i] = min(found, cap)
        nlist[i, :count[i]] = found_row[:count[i]]
        worst = max(worst, found)
    return worst


@njit(cache=True)
def _cell_ordered(x, typ, cell_atoms):
    """Positions (3, n) and partial entries ``(j << 7) | t_j`` of the particles in ``cell_atoms`` order."""
    n = len(cell_atoms)
    xs = np.empty((3, n))
    codes = np.empty(n, np.int32)
    for q in range(n):
        j = cell_atoms[q]
        xs[0, q], xs[1, q], xs[2, q] = x[j, 0], x[j, 1], x[j, 2]
        codes[q] = (j << 7) | typ[j]
    return xs, codes


@njit(inline="always", cache=True)
def _run(xs, codes, xi, yi, zi, q0, q1, code_i, lim, r2, row, found):
    """Append to ``row`` the candidates q0 ≤ q < q1 near (xi, yi, zi); return the new count.

    ``code_i`` carries the image shift index and 2 t_i; ``lim`` (2,) the squared list radii
    for t_j = 0, 1.  First a vectorised pass of r² − lim (+inf for r = 0, the particle itself),
    then a branch-free append (a quarter of the candidates are accepted, unpredictably):
    every slot is written, the count advances only on acceptance.
    """
    k = q1 - q0
    x0, x1, x2, cd, d2 = xs[0, q0:q1], xs[1, q0:q1], xs[2, q0:q1], codes[q0:q1], r2[:k]
    la, dl = lim[0], lim[1] - lim[0]
    for t in range(k):
        dx, dy, dz = xi - x0[t], yi - x1[t], zi - x2[t]
        rr = dx * dx + dy * dy + dz * dz
        d2[t] = rr - (la + (cd[t] & 1) * dl) if rr > 0.0 else np.inf
    c = found
    for t in range(k):
        row[c] = cd[t] | code_i
        c += d2[t] < 0.0
    return c


@njit(inline="always", cache=True)
def _wrap_cell(a, n, periodic):
    """(image offset, wrapped cell) of cell coordinate ``a``; wrapped = −1 if outside and not periodic."""
    if 0 <= a < n:
        return 0, a
    if not periodic:
        return 0, -1
    if a < 0:
        return -1, a + n
    return 1, a - n


def pair_list_radii(rc_max: float, skin: float) -> np.ndarray:
    """List radius per pair type (4,) [sigma]: r_c σ_αβ/σ_max + skin, i.e. the pair's cut-off plus the skin.

    Every :class:`~pel_hpc.physics.kob_andersen.PairTable` has r_c,αβ = r_c σ_αβ, so the
    radii follow from its largest cut-off; B–A pairs (σ_AB = 0.8) get a list 45 % smaller in
    volume than a single radius r_c,max + skin would give.
    """
    return float(rc_max) * SIGMA.reshape(4) / SIGMA.max() + float(skin)


def cell_grid(extent: np.ndarray, rlist: float, periodic: bool):
    """Choose (nc (3,), m) with cells of side ≥ r_list/m; m = 2 when the grid allows, else 1.

    Returns ``None`` when a periodic grid would have fewer than 3 cells per side (use
    :func:`build_all_pairs` then).
    """
    for m in (2, 1):
        nc = np.floor(np.asarray(extent) * m / rlist).astype(np.int64)
        if not periodic or np.all(nc >= 2 * m + 1):
            return np.maximum(nc, 1), m
    return None


@njit(cache=True)
def refresh_min_image(x, image, x_build, box, skin):
    """Compiled refresh for the list-free minimum-image path: wrap once moved > skin/2.

    Minimum-image forces need no list; wrapping only keeps coordinates small (and the image
    counters right).  Returns 1 if wrapped, else 0.
    """
    n = x.shape[0]
    if max_displacement2(x, x_build, n) <= 0.25 * skin * skin:
        return 0
    wrap(x, image, box, n)
    x_build[:, :] = x
    return 1
