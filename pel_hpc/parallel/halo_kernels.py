"""Numba pack/unpack kernels of the halo: slab selection, shifted packing, row accumulation.

They never allocate: each writes into a caller-owned buffer of fixed capacity and returns
the count it needed, so Python grows the buffer and calls again on overflow (the
``did_buffer_overflow`` pattern of JAX-MD). Lengths in [sigma].
"""
import numpy as np
from numba import njit


@njit(cache=True)
def select_slab(x, n_last, d, bound, below, out_idx):
    """Indices ``i < n_last`` with ``x[i, d] < bound`` (``below``) or ``x[i, d] >= bound``.

    Returns the number of matches; only the first ``len(out_idx)`` are stored (overflow
    when the return value exceeds the capacity).
    """
    cap = out_idx.shape[0]
    c = 0
    for i in range(n_last):
        hit = x[i, d] < bound if below else x[i, d] >= bound
        if hit:
            if c < cap:
                out_idx[c] = i
            c += 1
    return c


@njit(cache=True)
def pack_positions(x, idx, n, d, shift, buf):
    """``buf[k] = x[idx[k]]`` with ``shift`` added to component ``d`` (a periodic crossing).

    The shift is one addition per component, the same arithmetic on any grid, so ghost
    coordinates are bitwise identical across decompositions.
    """
    for k in range(n):
        i = idx[k]
        buf[k, 0] = x[i, 0]
        buf[k, 1] = x[i, 1]
        buf[k, 2] = x[i, 2]
        if shift != 0.0:
            buf[k, d] = x[i, d] + shift


@njit(cache=True)
def replay_swaps(x, idx_all, idx_start, swap_dim, swap_shift, swap_first, s0, s1):
    """Forward swaps ``s0 … s1-1`` that are copies to oneself, in order: the particles
    ``idx_all[idx_start[s]:idx_start[s+1]]`` are copied, shifted as in :func:`pack_positions`,
    to the ghost rows from ``swap_first[s]`` on (a later swap may forward rows an earlier one wrote)."""
    for s in range(s0, s1):
        a, b = idx_start[s], idx_start[s + 1]
        pack_positions(x, idx_all[a:b], b - a, swap_dim[s], swap_shift[s], x[swap_first[s]:swap_first[s] + b - a])


@njit(cache=True)
def mark_near_faces(x, n, lo, hi, width, cell_of, ncell):
    """Add ``ncell`` to ``cell_of[i]`` of each of the first ``n`` particles within ``width`` of a face
    of the sub-box [lo, hi) (3,); returns how many remain unmarked (the interior).

    Every ghost lies outside the sub-box in some dimension (an image shifted by ±L, or a particle
    owned by another rank), so an unmarked particle with ``width`` = r_list has no ghost in its
    neighbour list."""
    inner = 0
    for i in range(n):
        near = False
        for d in range(3):
            if not (lo[d] + width < x[i, d] < hi[d] - width):
                near = True
        if near:
            cell_of[i] += ncell
        else:
            inner += 1
    return inner


@njit(cache=True)
def pack_ghost_rows(x, typ, tag, idx, n, d, shift, buf):
    """Border rows ``(x, y, z, typ, tag)`` of the selected particles, shifted as in :func:`pack_positions`."""
    pack_positions(x, idx, n, d, shift, buf)
    for k in range(n):
        buf[k, 3] = typ[idx[k]]
        buf[k, 4] = tag[idx[k]]


@njit(cache=True)
def unpack_ghost_rows(buf, n, first, x, typ, tag):
    """Store ``n`` border rows as particles ``first … first+n-1`` of ``[local | ghost]``."""
    for k in range(n):
        x[first + k, 0] = buf[k, 0]
        x[first + k, 1] = buf[k, 1]
        x[first + k, 2] = buf[k, 2]
        typ[first + k] = np.int32(buf[k, 3])
        tag[first + k] = np.int64(buf[k, 4])


@njit(cache=True)
def accumulate_rows(f, idx, n, buf):
    """Reverse communication: ``f[idx[k]] += buf[k]`` (ghost forces back to their owners)."""
    for k in range(n):
        i = idx[k]
        f[i, 0] += buf[k, 0]
        f[i, 1] += buf[k, 1]
        f[i, 2] += buf[k, 2]


@njit(inline="always", cache=True)
def _owner_coord(x_d, cuts_d):
    """Grid coordinate along one dimension of the slab owning a wrapped coordinate: the i with
    ``cuts_d[i] <= x_d < cuts_d[i + 1]``, clipped to the grid (as
    :func:`pel_hpc.parallel.grid.owner_coords`; bisection over the n_d + 1 planes)."""
    a, b = 0, len(cuts_d) - 1
    while b - a > 1:
        mid = (a + b) // 2
        if x_d >= cuts_d[mid]:
            a = mid
        else:
            b = mid
    return a


@njit(inline="always", cache=True)
def _hop(x_d, cuts_d, coord_d):
    """The hop (−1, 0, +1) towards the owner along one dimension by the shorter periodic way."""
    dims_d = len(cuts_d) - 1
    delta = (_owner_coord(x_d, cuts_d) - coord_d) % dims_d
    if delta == 0:
        return 0
    return 1 if delta <= dims_d // 2 else -1


@njit(cache=True)
def leaving_rows(x, n, d, cuts_d, coord_d, minus, plus):
    """Rows ``i < n`` whose owner lies along dimension ``d`` one hop towards minus or plus (by
    the shorter periodic way), in ascending order into ``minus`` and ``plus``; returns both counts."""
    b = c = 0
    for i in range(n):
        h = _hop(x[i, d], cuts_d, coord_d)
        if h < 0:
            minus[b] = i
            b += 1
        elif h > 0:
            plus[c] = i
            c += 1
    return b, c


@njit(cache=True)
def count_misplaced(x, n, cuts_x, cuts_y, cuts_z, coords):
    """Rows ``i < n`` whose owning sub-box (of the wrapped position) is not ``coords``."""
    k = 0
    for i in range(n):
        if (_owner_coord(x[i, 0], cuts_x) != coords[0] or _owner_coord(x[i, 1], cuts_y) != coords[1]
                or _owner_coord(x[i, 2], cuts_z) != coords[2]):
            k += 1
    return k


@njit(cache=True)
def sort_rows_by_tag(nlist, count, typ, tag, x, n_local, n_total):
    """Sort each neighbour row by partner species, then global tag (ties: by its coordinates).

    With a full list this fixes the order of every particle's force sum independently of the
    decomposition (reproducible mode); A partners stay first, as every list has them.

    No row is sorted on its own: the rows ``[local | ghost]`` are ranked once by (species, tag, x),
    the list is transposed (for each partner j, the rows i that hold it), and the rows are refilled
    by visiting the partners in rank order, so every row comes out sorted: O(pairs + n log n).
    """
    n_tot = n_total  # rows [local | ghost]
    keys = np.empty(n_tot, np.int64)
    for j in range(n_tot):
        keys[j] = (np.int64(typ[j]) << 62) | tag[j]
    order = np.argsort(keys, kind="mergesort")
    a = 0
    while a < n_tot:  # images of one particle (a small box) tie on species and tag: order them by x
        z = a + 1
        while z < n_tot and keys[order[z]] == keys[order[a]]:
            z += 1
        for c in range(a + 1, z):
            e = order[c]
            b = c - 1
            while b >= a and _after(order[b], e, typ, tag, x):
                order[b + 1] = order[b]
                b -= 1
            order[b + 1] = e
        a = z
    start = np.zeros(n_tot + 1, np.int64)  # transpose: holders of partner j at held[start[j]:start[j + 1]]
    for i in range(n_local):
        for k in range(count[i]):
            start[nlist[i, k] + 1] += 1
    for j in range(n_tot):
        start[j + 1] += start[j]
    fill = start[:-1].copy()
    held = np.empty(start[n_tot], np.int32)
    for i in range(n_local):
        for k in range(count[i]):
            j = nlist[i, k]
            held[fill[j]] = i
            fill[j] += 1
    row_fill = np.zeros(n_local, np.int64)
    for r in range(n_tot):
        j = order[r]
        for q in range(start[j], start[j + 1]):
            i = held[q]
            nlist[i, row_fill[i]] = j
            row_fill[i] += 1


@njit(inline="always", cache=True)
def _after(j1, j2, typ, tag, x):
    """True when partner row ``j1`` sorts after ``j2``: by species (A first, as every list), then by
    tag, then by its x, y, z."""
    if typ[j1] != typ[j2]:
        return typ[j1] > typ[j2]
    if tag[j1] != tag[j2]:
        return tag[j1] > tag[j2]
    for d in range(3):
        if x[j1, d] != x[j2, d]:
            return x[j1, d] > x[j2, d]
    return False


# ---- migration (exchange): rows of every per-particle array, each viewed as (rows, width) -------
@njit(cache=True)
def gather_columns(a, rows, out, c0):
    """``out[k, c0:c0+w] = a[rows[k]]`` for every k (``a`` (capacity, w), any numeric dtype;
    float64 holds the ints exactly below 2**53)."""
    for k in range(rows.size):
        i = rows[k]
        for c in range(a.shape[1]):
            out[k, c0 + c] = a[i, c]


@njit(cache=True)
def scatter_columns(mat, a, first, c0):
    """Inverse of :func:`gather_columns`: ``a[first + k] = mat[k, c0:c0+w]`` for every row k of ``mat``."""
    for k in range(mat.shape[0]):
        for c in range(a.shape[1]):
            a[first + k, c] = mat[k, c0 + c]


@njit(cache=True)
def hole_plan(leave, n):
    """Removing the rows ``leave`` (ascending, all < n) from the first n rows by moving the last
    staying rows into the holes: (holes, sources), both ascending, O(leavers) work."""
    n_keep = n - leave.size
    m = 0
    while m < leave.size and leave[m] < n_keep:  # the first m leavers are holes below n_keep
        m += 1
    holes, sources = leave[:m].copy(), np.empty(m, np.int64)
    q, s = m, n_keep  # leave[q:] leave from the tail [n_keep, n); its other m rows fill the holes
    for k in range(m):
        while q < leave.size and leave[q] == s:
            q += 1
            s += 1
        sources[k] = s
        s += 1
    return holes, sources


@njit(cache=True)
def move_rows(a, holes, sources):
    """``a[holes[k]] = a[sources[k]]`` for every k (``a`` (capacity, w))."""
    for k in range(holes.size):
        for c in range(a.shape[1]):
            a[holes[k], c] = a[sources[k], c]
