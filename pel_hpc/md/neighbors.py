"""Verlet neighbour lists with a skin: exact all-pairs images for tiny boxes, cell lists otherwise.

Full lists (each pair appears for both partners, so the force kernel never scatters).
An entry of ``nlist[i, k]`` (int32) packs the partner, its periodic image and the pair type:

.. math::  \\mathrm{entry} = (j \\ll 7)\\,|\\,(s \\ll 2)\\,|\\,(2\\,t_i + t_j)

with ``s`` the index into the shift table of :mod:`pel_hpc.md.box` (so j < 2^24 per rank,
:func:`check_rows`).  Every row lists its A partners (t_j = 0) before its B partners: the
force kernel evaluates each block with constant pair parameters.  Buffers have a fixed
capacity; the builders never resize them and return the largest count they needed, so the
caller grows ``nlist`` and rebuilds when it exceeds the capacity (overflow flag).
A pair is listed within its own list radius r_c σ_αβ + skin [sigma] (:func:`pair_list_radii`,
as LAMMPS' per-type neighbour cut-offs); cells and halos use the largest, r_list = max r_c + skin.
The list is rebuilt when the largest displacement since the build exceeds skin/2.
"""
import numpy as np
from numba import njit

from pel_hpc.errors import DecompositionError
from pel_hpc.md.box import wrap
from pel_hpc.physics.kob_andersen import SIGMA

J_SHIFT = 7
J_MASK = (1 << 25) - 1  # j after the shift, masked: provably non-negative for LLVM
S_MASK = 31
PT_MASK = 3
MAX_ROWS = 1 << 24  # j occupies 24 bits of a non-negative int32 entry


def check_rows(n_total: int) -> None:
    """Refuse more owned + ghost particles on one rank than an entry can index."""
    if n_total >= MAX_ROWS:
        raise DecompositionError(f"{n_total} particles (owned + ghost) on one rank exceed the neighbour-list "
                                 f"index range 2^24 = {MAX_ROWS}: run on more ranks")


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
    and since r_c < L/2 at most one is ever inside r_c.  A partners are listed first, then B.
    Returns the largest per-particle count (> ``nlist.shape[1]`` means overflow).
    """
    cap = nlist.shape[1]
    rlist = rlist_pair.max()
    worst = 0
    for i in range(n_local):
        c = 0
        ti = typ[i]
        for jj in range(2 * n_total):  # A partners first, then B (the force kernel relies on it)
            j = jj % n_total
            if typ[j] != jj // n_total:
                continue
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
    """Cell-list build: stencil of (2m+1)³ cells of side ≥ max r_list/m around each cell.

    A pair of type pt = 2 t_i + t_j is listed when closer than ``rlist_pair[pt]`` (4,) [sigma]
    (:func:`pair_list_radii`: r_c σ_αβ + skin, as LAMMPS; one radius for all types is also exact).
    Each row lists its A partners first, then its B partners (the force kernel relies on it).

    Work is done per block of g = 2 cells along z, not per particle: the candidates of the
    block's stencil ((2m+1)² × (2m+g) cells) are copied once, at their image-shifted positions,
    into contiguous structure-of-arrays rows (A candidates, then B), and every local particle
    of the block is then tested against them by one long vectorised distance loop and a
    branch-free append (g = 2 halves the copying for 20 % more distance tests).  For this the
    particles are re-tabulated by (species, cell) with cells numbered z fastest, so one
    stencil row along z is one contiguous run per species (three where a periodic row wraps).
    ``cell_start``/``cell_atoms`` (CSR by cell) give the local particles of each cell.
    ``periodic``: neighbour cells wrap with an image shift (serial domain, needs nc ≥ 2m+1;
    g = 1 unless nc_z ≥ 2m+2);
    otherwise cells beyond the grid are skipped and ghosts carry their own shift (halo).
    Returns the largest per-particle count (overflow when > capacity).
    """
    n_total, ncell = len(cell_atoms), nc[0] * nc[1] * nc[2]
    key = np.empty(n_total, np.int64)
    for j in range(n_total):
        key[j] = typ[j] * ncell + cell_of[j]
    start, atoms = np.empty(2 * ncell + 1, np.int64), np.empty(n_total, np.int64)
    counting_sort(key, n_total, 2 * ncell, start, atoms)
    xs, codes = _cell_ordered(x, typ, atoms)
    g = 2 if nc[2] >= 2 * m + 2 or not periodic else 1  # cells per block along z (wraps stay distinct)
    most = (2 * m + 1) ** 2 * (2 * m + g) * np.max(cell_start[1:ncell + 1] - cell_start[:ncell])
    cand, ccode = np.empty((3, most)), np.empty(most, np.int32)
    d2, row = np.empty(most), np.empty(most + 1, np.int32)
    cap = nlist.shape[1]
    worst = 0
    for cxy in range(nc[0] * nc[1]):
        cx, cy = cxy // nc[1], cxy % nc[1]
        for cz0 in range(0, nc[2], g):
            cz1 = min(cz0 + g, nc[2])  # the block's cells cz0 ≤ cz < cz1 are contiguous (z fastest)
            q0, q1 = cell_start[cxy * nc[2] + cz0], cell_start[cxy * nc[2] + cz1]
            if not _holds_local(cell_atoms, q0, q1, n_local):
                continue
            n_a = _stencil(xs, codes, start, 0, cx, cy, cz0 - m, cz1 - 1 + m, nc, m, box, periodic, cand, ccode, 0)
            n_t = _stencil(xs, codes, start, ncell, cx, cy, cz0 - m, cz1 - 1 + m, nc, m, box, periodic, cand,
                           ccode, n_a)
            for q in range(q0, q1):
                i = cell_atoms[q]
                if i >= n_local:
                    continue
                t2 = 2 * typ[i]
                found = _select(x[i, 0], x[i, 1], x[i, 2], cand, ccode, n_a, n_t, rlist_pair[t2] ** 2,
                                rlist_pair[t2 + 1] ** 2, t2, d2, row)
                count[i] = min(found, cap)
                nlist[i, :count[i]] = row[:count[i]]
                worst = max(worst, found)
    return worst


@njit(inline="always", cache=True)
def _holds_local(cell_atoms, q0, q1, n_local):
    """True when cell_atoms[q0:q1] holds an owned particle (index < n_local)."""
    for q in range(q0, q1):
        if cell_atoms[q] < n_local:
            return True
    return False


@njit(cache=True)
def _cell_ordered(x, typ, atoms):
    """Positions (3, n) and partial entries ``(j << 7) | t_j`` of the particles in ``atoms`` order."""
    n = len(atoms)
    xs = np.empty((3, n))
    codes = np.empty(n, np.int32)
    for q in range(n):
        j = atoms[q]
        xs[0, q], xs[1, q], xs[2, q] = x[j, 0], x[j, 1], x[j, 2]
        codes[q] = (j << 7) | typ[j]
    return xs, codes


@njit(inline="always", cache=True)
def _stencil(xs, codes, start, base, cx, cy, zlo, zhi, nc, m, box, periodic, cand, ccode, k):
    """Append the cells (cx ± m, cy ± m, zlo … zhi) from the species table at key offset ``base``.

    Candidates go to ``cand``/``ccode`` from slot ``k`` on, at image-shifted positions
    x_j + s and with entries ``(j << 7) | (s << 2) | t_j``; returns the new slot count.
    """
    lo, hi = max(zlo, 0), min(zhi, nc[2] - 1)
    for a in range(cx - m, cx + m + 1):
        sa, wa = _wrap_cell(a, nc[0], periodic)
        for b in range(cy - m, cy + m + 1):
            sb, wb = _wrap_cell(b, nc[1], periodic)
            if wa < 0 or wb < 0:
                continue
            row = base + (wa * nc[1] + wb) * nc[2]
            s = 9 * (sa + 1) + 3 * (sb + 1)
            ox, oy = sa * box[0], sb * box[1]
            k = _copy_run(xs, codes, start[row + lo], start[row + hi + 1], ox, oy, 0.0, s + 1, cand, ccode, k)
            if periodic and zlo < 0:
                k = _copy_run(xs, codes, start[row + zlo + nc[2]], start[row + nc[2]], ox, oy, -box[2], s,
                              cand, ccode, k)
            if periodic and zhi >= nc[2]:
                k = _copy_run(xs, codes, start[row], start[row + zhi - nc[2] + 1], ox, oy, box[2], s + 2,
                              cand, ccode, k)
    return k


@njit(inline="always", cache=True)
def _copy_run(xs, codes, q0, q1, ox, oy, oz, s, cand, ccode, k):
    """Copy table slots q0 ≤ q < q1 shifted by (ox, oy, oz) with image index ``s``; return the new count."""
    for q in range(q0, q1):
        cand[0, k] = xs[0, q] + ox
        cand[1, k] = xs[1, q] + oy
        cand[2, k] = xs[2, q] + oz
        ccode[k] = codes[q] | (s << 2)
        k += 1
    return k


@njit(inline="always", cache=True)
def _select(xi, yi, zi, cand, ccode, n_a, n_t, lim_a, lim_b, t2, d2, row):
    """Entries of the candidates within the list radius of a particle at (xi, yi, zi); returns their count.

    Candidates k < n_a are A (squared radius ``lim_a``), n_a ≤ k < n_t are B (``lim_b``).  A
    vectorised pass computes every r², then a branch-free append keeps 0 < r² < lim (r = 0 is
    the particle itself): every slot is written, the count advances only on acceptance.  About
    a fifth are accepted, unpredictably; a branching append measured 3× slower in the build.
    ``t2`` = 2 t_i completes the pair type.
    """
    for k in range(n_t):
        dx, dy, dz = xi - cand[0, k], yi - cand[1, k], zi - cand[2, k]
        d2[k] = dx * dx + dy * dy + dz * dz
    c = _append(d2, ccode, 0, n_a, lim_a, t2, row, 0)
    return _append(d2, ccode, n_a, n_t, lim_b, t2, row, c)


@njit(inline="always", cache=True)
def _append(d2, ccode, k0, k1, lim, t2, row, c):
    """Append the candidates k0 ≤ k < k1 with 0 < r² < ``lim`` to ``row`` from slot ``c``; return the count."""
    for k in range(k0, k1):
        row[c] = ccode[k] | t2
        c += (d2[k] < lim) & (d2[k] > 0.0)
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
