"""THE pair kernel: forces, potential energy and virial over i < n_local and a full list.

One kernel for serial and decomposed runs.  Each entry of ``nlist[i]`` packs the partner
``j`` (owned or ghost), its image shift index and the pair type (see
:mod:`pel_hpc.md.neighbors`); ghosts made by a halo sit at pre-shifted coordinates and use
the zero shift.  Each pair is computed from both sides (full list), so ``f[i]`` is the only
write per particle and the inner loop vectorises; energies and virials are halved.

.. math::

    \\mathbf F_i = \\sum_{j} f(r_{ij})/r_{ij}\\,\\mathbf r_{ij},\\quad
    E = \\tfrac12\\sum_i\\sum_j u(r_{ij}),\\quad
    W = \\tfrac12\\sum_i\\sum_j f(r_{ij})\\,r_{ij}

with r_ij = x_i − x_j − shift.  Units: F [epsilon/sigma], E and W [epsilon].
"""
import numpy as np
from numba import njit

from pel_hpc.md.neighbors import J_MASK, J_SHIFT, S_MASK
from pel_hpc.physics.lj import lj_energy_force

# Fast-math only for this kernel (reassociation vectorises the reductions); numba's cache
# key ignores fastmath, so no function is ever compiled both ways.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def pair_forces(x, n_local, nlist, count, shifts, eps4, sig2, rc2, ushift, fc, rc, force_shift, f, ew):
    """Fill ``f[:n_local]`` and each particle's share (½Σ_j u, ½Σ_j f r) of E_pot and W in ``ew``.

    Per-particle shares (not a running sum) let the domain choose the global reduction:
    a plain one, or the exact one of reproducible mode.

    Per particle, a scalar pass gathers the separations of its list entries into
    contiguous scratch rows; a second, gather-free pass evaluates the LJ formula and
    accumulates — that pass is what LLVM vectorises (fast-math reductions and
    ``error_model="numpy"``, without which a division carries a zero check that blocks SIMD).

    Parameters
    ----------
    x : (n_total, 3) positions [sigma], ``[local | ghost]``
    n_local : owned particles, the only rows of ``f`` written
    nlist, count : (n_local, capacity) packed entries and (n_local,) counts
    shifts : (27, 3) periodic image shifts [sigma]
    eps4, sig2, rc2, ushift, fc, rc : (4,) pair tables of :class:`~pel_hpc.physics.kob_andersen.PairTable`
    force_shift : bool
    f : (capacity, 3) output forces [epsilon/sigma]
    ew : (2, n_local) output per-particle energy and virial shares [epsilon] (rows contiguous: no
        slowdown against a running sum)
    """
    cap = nlist.shape[1]
    buf = np.empty((3, cap))
    for i in range(n_local):
        m = count[i]
        n_a = _gather(x, i, nlist[i], m, shifts, buf)
        t0 = 2 * ((nlist[i, 0] & 3) >> 1) if m > 0 else 0  # 2·t_i: pair types t0 (j is A), t0 + 1 (j is B)
        fx, fy, fz, e, w = _accumulate(buf, 0, n_a, eps4[t0], sig2[t0], rc2[t0], ushift[t0], fc[t0], rc[t0],
                                       force_shift)
        gx, gy, gz, g, v = _accumulate(buf, n_a, m, eps4[t0 + 1], sig2[t0 + 1], rc2[t0 + 1], ushift[t0 + 1],
                                       fc[t0 + 1], rc[t0 + 1], force_shift)
        f[i, 0] = fx + gx
        f[i, 1] = fy + gy
        f[i, 2] = fz + gz
        ew[0, i] = 0.5 * (e + g)
        ew[1, i] = 0.5 * (w + v)


@njit(inline="always", cache=True)
def _gather(x, i, row, m, shifts, buf):
    """Scratch rows: separation dx, dy, dz [sigma] of i's entries; returns the number of A partners.

    Rows list A partners first (:mod:`pel_hpc.md.neighbors`), so they are ``buf[:, :n_A]``.
    The mask on ``j`` lets LLVM prove the index non-negative (no wrap-around test per load).
    """
    xi, yi, zi = x[i, 0], x[i, 1], x[i, 2]
    n_b = 0
    for k in range(m):
        code = row[k]
        j = (code >> J_SHIFT) & J_MASK
        s = (code >> 2) & S_MASK
        n_b += code & 1
        buf[0, k] = xi - x[j, 0] - shifts[s, 0]
        buf[1, k] = yi - x[j, 1] - shifts[s, 1]
        buf[2, k] = zi - x[j, 2] - shifts[s, 2]
    return m - n_b


@njit(inline="always", cache=True, fastmath=FASTMATH, error_model="numpy")
def _accumulate(buf, k0, k1, eps4, sig2, rc2, ushift, fc, rc, force_shift):
    """Σ over scratch rows k0 ≤ k < k1 (one pair type) of force, energy and virial (the vectorised loop)."""
    fx = 0.0
    fy = 0.0
    fz = 0.0
    e = 0.0
    w = 0.0
    for k in range(k0, k1):
        dx, dy, dz = buf[0, k], buf[1, k], buf[2, k]
        r2 = dx * dx + dy * dy + dz * dz
        f_over_r, u = lj_energy_force(r2, eps4, sig2, rc2, ushift, fc, rc, force_shift)
        fx += f_over_r * dx
        fy += f_over_r * dy
        fz += f_over_r * dz
        e += u
        w += f_over_r * r2
    return fx, fy, fz, e, w


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def pair_forces_min_image(x, n, typ, box, eps4, sig2, rc2, ushift, fc, rc, force_shift, f):
    """Tiny-box variant of :func:`pair_forces`: all pairs, minimum image, no list.

    Exact when r_c < L/2 (then at most one image of a partner lies within r_c).  Positions
    are copied to structure-of-arrays order; for each i the partners j > i are a contiguous
    range, so the separation pass, the evaluation and the Newton's-third-law update of the
    partners' forces are all contiguous and vectorise — each pair is evaluated once.
    Returns (E_pot, W) [epsilon] and fills ``f[:n]`` [epsilon/sigma].
    """
    xt = np.empty((3, n))
    ft = np.zeros((3, n))
    for i in range(n):
        for d in range(3):
            xt[d, i] = x[i, d]
    buf = np.empty((3, n))
    epot = 0.0
    vir = 0.0
    for i in range(n - 1):
        m = n - 1 - i
        _separations_min_image(xt, i, m, box, buf)
        t0 = 2 * typ[i]
        fx, fy, fz, e, w = _accumulate_pairs(buf, typ[i + 1:], m, eps4[t0], eps4[t0 + 1], sig2[t0], sig2[t0 + 1],
                                             rc2[t0], rc2[t0 + 1], ushift[t0], ushift[t0 + 1], fc[t0], fc[t0 + 1],
                                             rc[t0], rc[t0 + 1], force_shift, ft[:, i + 1:])
        ft[0, i] += fx
        ft[1, i] += fy
        ft[2, i] += fz
        epot += e
        vir += w
    for i in range(n):
        for d in range(3):
            f[i, d] = ft[d, i]
    return epot, vir


@njit(inline="always", cache=True, fastmath=FASTMATH, error_model="numpy")
def _separations_min_image(xt, i, m, box, buf):
    """Scratch rows k < m: minimum-image separation of i from j = i + 1 + k [sigma]."""
    for d in range(3):
        xi, length, inv = xt[d, i], box[d], 1.0 / box[d]
        for k in range(m):
            dx = xi - xt[d, i + 1 + k]
            buf[d, k] = dx - length * np.rint(dx * inv)


@njit(inline="always", cache=True, fastmath=FASTMATH, error_model="numpy")
def _accumulate_pairs(buf, species, m, e0, e1, s0, s1, c0, c1, u0, u1, f0, f1, r0, r1, force_shift, fpart):
    """Σ over the scratch rows of force, energy and virial, also subtracting each pair force from the
    partner rows ``fpart`` (3, m).

    ``species[k]`` is the partner's species t_j; pair parameters are p = (1 − t_j) p_A + t_j p_B
    (exact for t_j ∈ {0, 1}), branch- and gather-free.
    """
    fx = 0.0
    fy = 0.0
    fz = 0.0
    e = 0.0
    w = 0.0
    for k in range(m):
        dx, dy, dz = buf[0, k], buf[1, k], buf[2, k]
        tj = float(species[k] & 1)
        ta = 1.0 - tj
        r2 = dx * dx + dy * dy + dz * dz
        f_over_r, u = lj_energy_force(r2, ta * e0 + tj * e1, ta * s0 + tj * s1, ta * c0 + tj * c1,
                                      ta * u0 + tj * u1, ta * f0 + tj * f1, ta * r0 + tj * r1, force_shift)
        fx += f_over_r * dx
        fy += f_over_r * dy
        fz += f_over_r * dz
        fpart[0, k] -= f_over_r * dx
        fpart[1, k] -= f_over_r * dy
        fpart[2, k] -= f_over_r * dz
        e += u
        w += f_over_r * r2
    return fx, fy, fz, e, w


def compute_forces(state, domain, table):
    """Forces into ``state.f`` and the global (E_pot, W) [epsilon] (``domain.sum_per_particle``)."""
    tot = domain.sum_per_particle(local_forces(state, domain, table).T)
    return float(tot[0]), float(tot[1])


def local_forces(state, domain, table) -> np.ndarray:
    """Forces into ``state.f``; returns the owned particles' (2, n_local) shares of E_pot and W [epsilon].

    No global reduction: an MD step needs the forces only, and the caller sums the shares
    (``domain.sum_per_particle``) when E_pot or W is asked for.
    """
    ew = np.empty((2, state.n_local))
    pair_forces(state.x, state.n_local, domain.nlist, domain.count, domain.shifts, table.eps4, table.sig2,
                table.rc2, table.ushift, table.fc, table.rc, table.force_shift, state.f, ew)
    domain.reverse_forces(state)
    return ew
