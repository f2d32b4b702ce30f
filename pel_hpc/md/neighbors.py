"""Verlet neighbour lists with a skin: exact all-pairs images for tiny boxes, cell lists otherwise.

Full lists (each pair appears for both partners, so the force kernel never scatters).
An entry of ``nlist[i, k]`` (int32) packs the partner, its periodic image and the pair type:

.. math::  \\mathrm{entry} = (j \\ll 7)\\,|\\,(s \\ll 2)\\,|\\,(2\\,t_i + t_j)

with ``s`` the index into the shift table of :mod:`pel_hpc.md.box`.  Buffers have a fixed
capacity; the builders never allocate and return the largest count they needed, so the
caller grows ``nlist`` and rebuilds when it exceeds the capacity (overflow flag).
The list radius is r_list = max r_c + skin [sigma]; it is rebuilt when the largest
displacement since the build exceeds skin/2.
"""
import numpy as np
from numba import njit

from pel_hpc.md.box import wrap

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
def build_all_pairs(x, typ, n_local, n_total, box, rlist, nlist, count):
    """All-pairs list over every periodic image within r_list (exact for any box with r_list < L).

    For tiny boxes (N = 65, L ≈ 3.78, r_c + skin > L/2) several images of one partner may
    lie within r_list; all are listed, and since r_c < L/2 at most one is ever inside r_c.
    Returns the largest per-particle count (> ``nlist.shape[1]`` means overflow).
    """
    cap = nlist.shape[1]
    rl2 = rlist * rlist
    worst = 0
    for i in range(n_local):
        c = 0
        ti = typ[i]
        for j in range(n_total):
            code = (j << 7) | (2 * ti + typ[j])
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
def build_cells(x, typ, n_local, cell_of, cell_start, cell_atoms, nc, m, box, periodic, rlist, nlist, count):
    """Cell-list build: stencil of (2m+1)³ cells of side ≥ r_list/m around each local particle.

    Loops over cell pairs, so the stencil arithmetic is paid per cell, not per particle.
    ``periodic``: neighbour cells wrap with an image shift (serial domain, needs nc ≥ 2m+1);
    otherwise cells beyond the grid are skipped and ghosts carry their own shift (halo).
    Returns the largest per-particle count (overflow when > capacity).
    """
    cap = nlist.shape[1]
    rl2 = rlist * rlist
    found = np.zeros(n_local, np.int64)
    for cell in range(nc[0] * nc[1] * nc[2]):
        if cell_start[cell] == cell_start[cell + 1]:
            continue
        cz = cell % nc[2]
        cy = (cell // nc[2]) % nc[1]
        cx = cell // (nc[2] * nc[1])
        for a in range(cx - m, cx + m + 1):
            sa, wa = _wrap_cell(a, nc[0], periodic)
            if wa < 0:
                continue
            for b in range(cy - m, cy + m + 1):
                sb, wb = _wrap_cell(b, nc[1], periodic)
                if wb < 0:
                    continue
                for g in range(cz - m, cz + m + 1):
                    sg, wg = _wrap_cell(g, nc[2], periodic)
                    if wg >= 0:
                        other = (wa * nc[1] + wb) * nc[2] + wg
                        _cell_pairs(x, typ, n_local, cell_start, cell_atoms, cell, other,
                                    9 * (sa + 1) + 3 * (sb + 1) + sg + 1, sa * box[0], sb * box[1], sg * box[2],
                                    rl2, nlist, found)
    worst = 0
    for i in range(n_local):
        count[i] = min(found[i], cap)
        worst = max(worst, found[i])
    return worst


@njit(inline="always", cache=True)
def _cell_pairs(x, typ, n_local, cell_start, cell_atoms, cell, other, s, sx, sy, sz, rl2, nlist, found):
    """Append to the rows of the local particles of ``cell`` their partners in ``other`` (image s)."""
    cap = nlist.shape[1]
    for p in range(cell_start[cell], cell_start[cell + 1]):
        i = cell_atoms[p]
        if i >= n_local:
            continue
        xi, yi, zi = x[i, 0] - sx, x[i, 1] - sy, x[i, 2] - sz
        code_i = (s << 2) | (2 * typ[i])
        c = found[i]
        for q in range(cell_start[other], cell_start[other + 1]):
            j = cell_atoms[q]
            dx = xi - x[j, 0]
            dy = yi - x[j, 1]
            dz = zi - x[j, 2]
            r2 = dx * dx + dy * dy + dz * dz
            # branch-free append (a quarter of the candidates are accepted, unpredictably):
            # always write the slot, advance only on acceptance
            nlist[i, min(c, cap - 1)] = (j << 7) | code_i | typ[j]
            c += (r2 < rl2) & (r2 > 0.0)
        found[i] = c


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
def refresh_all_pairs(x, image, x_build, typ, box, rlist, skin, nlist, count, force):
    """Compiled refresh for tiny serial boxes: rebuild the all-pairs list if needed.

    Returns 0 (list still valid), 1 (rebuilt) or −worst on overflow (grow ``nlist`` to at
    least ``worst`` columns and call again with ``force=True``).
    """
    n = x.shape[0]
    if not force and max_displacement2(x, x_build, n) <= 0.25 * skin * skin:
        return 0
    wrap(x, image, box, n)
    worst = build_all_pairs(x, typ, n, n, box, rlist, nlist, count)
    x_build[:, :] = x
    if worst > nlist.shape[1]:
        return -worst
    return 1


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
