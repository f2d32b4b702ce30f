"""THE pair kernel: forces, and on request potential energy and virial, over i < n_local and a full list.

One kernel for serial and decomposed runs.  Each entry of ``nlist[i]`` is the row ``j`` of a
partner in ``[local | ghost]`` (:mod:`pel_hpc.md.neighbors`): every periodic image is a ghost
at shifted coordinates, so the loop gathers x_j and nothing else.  Each pair is computed from
both sides (full list), so ``f[i]`` is the only write per particle and the pair loop
vectorises; energies and virials are halved.

.. math::

    \\mathbf F_i = \\sum_{j} f(r_{ij})/r_{ij}\\,\\mathbf r_{ij},\\quad
    E = \\tfrac12\\sum_i\\sum_j u(r_{ij}),\\quad
    W = \\tfrac12\\sum_i\\sum_j f(r_{ij})\\,r_{ij}

with r_ij = x_i − x_j.  Units: F [epsilon/sigma], E and W [epsilon].

E_pot and W are evaluated only when ``energy`` is true: they cost 40 % of a force call at
N = 8000.  The two flags ``force_shift`` and ``energy`` select one of four specialisations of
the same inlined loop, so no flag is tested inside a pair loop.  The specialisations may round
the force sums differently (LLVM vectorises each on its own), so MD takes its forces from the
force-only pass on every step and evaluates E_pot and W, on the steps that report them, in a
second pass (:func:`local_forces` with ``energy="separate"``): a trajectory never depends on
the output cadence or on where a run was restarted.  Minimisers, which need E_pot at every
evaluation, use the fused pass (``energy="fused"``).

Boxes too small for a list (serial N = 65: r_c + skin > L/2) use :func:`pair_forces_min_image`,
the same pair evaluator over all pairs at the minimum image, each pair once.

With ``domain.threads`` > 1 (deck ``run.threads``, :func:`pel_hpc.parallel.launch.use_threads`) the
list kernel runs on that many numba threads per rank, each on a block of rows
(:func:`pair_forces_threaded`); rows are independent (full list), so forces, energies and virials
are bitwise those of one thread.
"""
import numpy as np
from numba import njit, prange

from pel_hpc.physics.lj import lj_energy_force, lj_force, row

_ROWS_PER_THREAD = 64  # fewer rows than this per thread (a thin overlap part) are not worth a parallel region

# Fast-math only for these kernels (reassociation vectorises the reductions); numba's cache
# key ignores fastmath, so no function is ever compiled both ways.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def pair_forces(x, typ, first, last, nlist, count, count_a, coeff, force_shift, energy, f, ew):
    """Fill ``f[first:last]`` and, if ``energy``, each of these particles' share (½Σ_j u, ½Σ_j f r) of E_pot and W in ``ew``.

    Per-particle shares (not a running sum) let the domain choose the global reduction:
    a plain one, or the exact one of reproducible mode.

    Parameters
    ----------
    x : (n_total, 3) positions [sigma], ``[local | ghost]``
    typ : (n_total,) species (0 = A, 1 = B)
    first, last : the owned rows computed, ``first ≤ i < last ≤ n_local``; each row is summed whole,
        so computing the rows in parts (e.g. the interior while halo messages are in flight,
        :meth:`pel_hpc.parallel.domain.DecomposedDomain.refresh_overlapping`) gives bitwise the
        forces of one call
    nlist, count, count_a : (n_local, capacity) partner rows, A partners first; (n_local,) counts of
        all partners and of the A partners
    coeff : (4, 8) pair constants of :class:`~pel_hpc.physics.kob_andersen.PairTable`
    force_shift, energy : bool
    f : (capacity, 3) output forces [epsilon/sigma]
    ew : (2, n_local) output per-particle energy and virial shares [epsilon] (columns ``first:last``; untouched unless ``energy``)
    """
    if energy:
        if force_shift:
            _list_loop(x, typ, first, last, nlist, count, count_a, coeff, True, True, f, ew)
        else:
            _list_loop(x, typ, first, last, nlist, count, count_a, coeff, False, True, f, ew)
    elif force_shift:
        _list_loop(x, typ, first, last, nlist, count, count_a, coeff, True, False, f, ew)
    else:
        _list_loop(x, typ, first, last, nlist, count, count_a, coeff, False, False, f, ew)


@njit(cache=True, parallel=True)
def pair_forces_threaded(x, typ, first, last, nlist, count, count_a, coeff, force_shift, energy, f, ew, parts):
    """:func:`pair_forces` on ``parts`` contiguous blocks of the rows ``first ≤ i < last`` at once, one
    per numba thread (``run.threads``).  Each row is summed whole by the same compiled kernel and rows
    are written once each, so the forces and shares are bitwise those of one serial call."""
    for b in prange(parts):
        lo = first + (last - first) * b // parts
        hi = first + (last - first) * (b + 1) // parts
        pair_forces(x, typ, lo, hi, nlist, count, count_a, coeff, force_shift, energy, f, ew)


@njit(inline="always", cache=True, fastmath=FASTMATH, error_model="numpy")
def _list_loop(x, typ, first, last, nlist, count, count_a, coeff, force_shift, energy, f, ew):
    """The loop of :func:`pair_forces` for constant flags: per particle an A block and a B block."""
    xf = x.reshape(-1)  # flat rows: x_j at 3j, 3j+1, 3j+2 (a constant stride, no multiply by a runtime one)
    for i in range(first, last):
        xi, yi, zi = x[i, 0], x[i, 1], x[i, 2]
        partners, m_a = nlist[i], count_a[i]
        t = 2 * typ[i]
        fx, fy, fz, e, w = _gathered(xf, partners, 0, m_a, xi, yi, zi, row(coeff, t), force_shift, energy)
        gx, gy, gz, g, v = _gathered(xf, partners, m_a, count[i], xi, yi, zi, row(coeff, t + 1), force_shift,
                                     energy)
        f[i, 0] = fx + gx
        f[i, 1] = fy + gy
        f[i, 2] = fz + gz
        if energy:
            ew[0, i] = 0.5 * (e + g)
            ew[1, i] = 0.5 * (w + v)


@njit(inline="always", cache=True, fastmath=FASTMATH, error_model="numpy")
def _gathered(xf, partners, k0, k1, xi, yi, zi, p, force_shift, energy):
    """Σ over the list entries k0 ≤ k < k1 (one pair type, constants ``p``) of force, energy, virial.

    Gather and evaluation in one loop: LLVM vectorises the arithmetic with the loads of x_j
    as scalar inserts (one pass; a separate gather pass into scratch rows measured 20 % slower).
    ``xf`` holds the positions flat; the mask on ``j`` lets LLVM prove the index non-negative
    (no wrap-around test per load).
    """
    fx = 0.0
    fy = 0.0
    fz = 0.0
    e = 0.0
    w = 0.0
    for k in range(k0, k1):
        j = 3 * (partners[k] & 0x7FFFFFFF)
        dx = xi - xf[j]
        dy = yi - xf[j + 1]
        dz = zi - xf[j + 2]
        f_over_r, u, fr2 = _evaluate(dx * dx + dy * dy + dz * dz, p, force_shift, energy)
        e += u
        w += fr2
        fx += f_over_r * dx
        fy += f_over_r * dy
        fz += f_over_r * dz
    return fx, fy, fz, e, w


@njit(inline="always", cache=True, fastmath=FASTMATH, error_model="numpy")
def _evaluate(r2, p, force_shift, energy):
    """(f/r, u, f·r) of one pair at squared distance ``r2``; with ``energy`` false only f/r is
    evaluated and the other two are 0.0, which fast-math (no signed zeros) drops from the sums."""
    if energy:
        f_over_r, u = lj_energy_force(r2, p, force_shift)
        return f_over_r, u, f_over_r * r2
    return lj_force(r2, p, force_shift), 0.0, 0.0


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def pair_forces_min_image(x, n, typ, box, coeff, force_shift, energy, f):
    """Tiny-box variant of :func:`pair_forces`: all pairs, minimum image, no list.

    Exact when r_c < L/2 (then at most one image of a partner lies within r_c).  Positions
    are copied to structure-of-arrays rows; for each i the partners j > i are a contiguous
    range, so the minimum-image separations, the evaluation and the Newton's-third-law update
    of the partners' forces run in one contiguous loop that LLVM vectorises (indices counted
    from 0 and one scratch array: LLVM needs both to prove the rows do not overlap) — each
    pair is evaluated once.  Pair constants are interpolated in the partner's species,
    p = p(t_i, A) + t_j [p(t_i, B) − p(t_i, A)], exact for t_j ∈ {0, 1}.
    Returns (E_pot, W) [epsilon] if ``energy``, else (0, 0), and fills ``f[:n]`` [epsilon/sigma].
    """
    if energy:
        if force_shift:
            return _min_image_loop(x, n, typ, box, coeff, True, True, f)
        return _min_image_loop(x, n, typ, box, coeff, False, True, f)
    if force_shift:
        return _min_image_loop(x, n, typ, box, coeff, True, False, f)
    return _min_image_loop(x, n, typ, box, coeff, False, False, f)


@njit(inline="always", cache=True, fastmath=FASTMATH, error_model="numpy")
def _min_image_loop(x, n, typ, box, coeff, force_shift, energy, f):
    """The loop of :func:`pair_forces_min_image` for constant flags."""
    work = np.zeros((7, n))  # rows 0-2 positions, 3 species (float), 4-6 forces
    for i in range(n):
        for d in range(3):
            work[d, i] = x[i, d]
        work[3, i] = typ[i]
    fpart = work[4:]
    epot = 0.0
    vir = 0.0
    for i in range(n - 1):
        t = 2 * typ[i]
        fx, fy, fz, e, w = _min_image_partners(work, i, n - 1 - i, box, row(coeff, t), row(coeff, t + 1),
                                               force_shift, energy, fpart)
        work[4, i] += fx
        work[5, i] += fy
        work[6, i] += fz
        epot += e
        vir += w
    for i in range(n):
        for d in range(3):
            f[i, d] = work[4 + d, i]
    return epot, vir


@njit(inline="always", cache=True, fastmath=FASTMATH, error_model="numpy")
def _min_image_partners(work, i, m, box, pa, pb, force_shift, energy, fpart):
    """Σ over partners j = i + 1 + k, k < m, of force, energy and virial on i; −force added to ``fpart[:, j]``."""
    lx, ly, lz = box[0], box[1], box[2]
    ix, iy, iz = 1.0 / lx, 1.0 / ly, 1.0 / lz
    xi, yi, zi = work[0, i], work[1, i], work[2, i]
    fx = 0.0
    fy = 0.0
    fz = 0.0
    e = 0.0
    w = 0.0
    for k in range(m):
        j = i + 1 + k
        dx = xi - work[0, j]
        dy = yi - work[1, j]
        dz = zi - work[2, j]
        dx -= lx * np.rint(dx * ix)
        dy -= ly * np.rint(dy * iy)
        dz -= lz * np.rint(dz * iz)
        f_over_r, u, fr2 = _evaluate(dx * dx + dy * dy + dz * dz, _interpolate(pa, pb, work[3, j]), force_shift,
                                     energy)
        e += u
        w += fr2
        fx += f_over_r * dx
        fy += f_over_r * dy
        fz += f_over_r * dz
        fpart[0, j] -= f_over_r * dx
        fpart[1, j] -= f_over_r * dy
        fpart[2, j] -= f_over_r * dz
    return fx, fy, fz, e, w


@njit(inline="always", cache=True)
def _interpolate(pa, pb, tj):
    """Pair constants for a partner of species ``tj`` (0.0 or 1.0) from those of the A and B partner."""
    return (pa[0] + tj * (pb[0] - pa[0]), pa[1] + tj * (pb[1] - pa[1]), pa[2] + tj * (pb[2] - pa[2]),
            pa[3] + tj * (pb[3] - pa[3]), pa[4] + tj * (pb[4] - pa[4]), pa[5] + tj * (pb[5] - pa[5]),
            pa[6] + tj * (pb[6] - pa[6]), pa[7] + tj * (pb[7] - pa[7]))


def compute_forces(state, domain, table):
    """Forces into ``state.f`` and the global (E_pot, W) [epsilon] (``domain.sum_per_particle``)."""
    tot = domain.sum_per_particle(local_forces(state, domain, table).T)
    return float(tot[0]), float(tot[1])


ENERGY_MODES = ("none", "fused", "separate")


def local_forces(state, domain, table, energy: str = "fused"):
    """Forces into ``state.f``; returns shares of (E_pot, W) [epsilon] whose column sums are the totals.

    ``energy``: ``"none"`` computes the forces only and returns ``None``; ``"fused"`` takes forces,
    E_pot and W from one pass (minimisers); ``"separate"`` takes the forces from the force-only
    pass (:func:`force_rows`), bitwise those of ``"none"``, and E_pot and W from a second pass
    (:func:`energy_shares`; MD steps that report them).  No global reduction: the caller sums the
    shares (``domain.sum_per_particle``) when E_pot or W is asked for.
    """
    if energy not in ENERGY_MODES:
        raise ValueError(f"energy must be one of {ENERGY_MODES}, not {energy!r}")
    if energy == "fused":
        shares = _pass(state, domain, table, 0, state.n_local, True, state.f)
    else:
        force_rows(state, domain, table, 0, state.n_local)
        shares = energy_shares(state, domain, table) if energy == "separate" else None
    domain.reverse_forces(state)
    return shares


def force_rows(state, domain, table, first: int, last: int) -> None:
    """The force-only pass over the owned rows ``first ≤ i < last`` into ``state.f`` (a serial
    tiny box, ``domain.min_image``, computes all rows at once: ``first = 0, last = n_local``)."""
    _pass(state, domain, table, first, last, False, state.f)


def energy_shares(state, domain, table):
    """Per-particle shares (2, n_local) of (E_pot, W) [epsilon] from the energy pass (its forces are
    discarded: MD keeps those of the force-only pass); a serial tiny box gives one column of totals."""
    return _pass(state, domain, table, 0, state.n_local, True, np.empty_like(state.f[:state.n_local]))


def _pass(state, domain, table, first, last, energy, f):
    """One call of the list kernel (or of the minimum-image kernel) on rows [first, last) into ``f``;
    the energy and virial shares if ``energy``, else None."""
    n = state.n_local
    if domain.min_image:
        if (first, last) != (0, n):
            raise ValueError("the minimum-image kernel computes all rows at once")
        e, w = pair_forces_min_image(state.x, n, state.typ, state.box, table.coeff, table.force_shift, energy, f)
        return np.array([[e], [w]]) if energy else None
    ew = np.empty((2, n)) if energy else np.empty((2, 0))
    threads = domain.threads
    if threads > 1 and last - first >= _ROWS_PER_THREAD * threads:
        pair_forces_threaded(state.x, state.typ, first, last, domain.nlist, domain.count, domain.count_a,
                             table.coeff, table.force_shift, energy, f, ew, threads)
    else:
        pair_forces(state.x, state.typ, first, last, domain.nlist, domain.count, domain.count_a, table.coeff,
                    table.force_shift, energy, f, ew)
    return ew if energy else None
