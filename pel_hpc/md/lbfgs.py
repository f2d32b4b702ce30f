"""Inherent-structure minimiser: limited-memory BFGS with a capped step and energy check.

The quasi-Newton direction comes from Nocedal's two-loop recursion over the last M pairs
(s_k = Δx, y_k = Δ∇E) with H_0 = s·y / y·y; instead of a line search the step is capped
so that no particle moves more than ``max_step`` and halved while the energy rises by
more than ``max_rise``·|E| (the scheme of the pele/GMIN landscape codes, built for exactly
this kind of IS quench).
Near the minimum it converges superlinearly where FIRE converges linearly, so at the
tight stopping rule |F|₂ ≤ 1e-8 [epsilon/sigma] it needs several times fewer force calls.

The vectors are 3N-long in tag order (generic driver: any domain, via ``gather_by_tag``)
or in local order (compiled driver for tiny serial boxes, where particles never move
between slots).  Units: x [sigma], E [epsilon], ∇E [epsilon/sigma].

References
----------
J. Nocedal, Math. Comp. 35, 773 (1980); D. C. Liu and J. Nocedal, Math. Prog. 45, 503 (1989);
D. J. Wales, GMIN / pele (https://github.com/pele-python/pele), ``LBFGS``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from pel_hpc.md.forces import compute_forces, pair_forces_min_image
from pel_hpc.md.neighbors import refresh_min_image

# memory M, max step of one particle [sigma], relative energy rise allowed, initial H0, max halvings
LBFGS_PARAMS = np.array([5.0, 0.1, 1e-4, 0.1, 10.0])


@njit(cache=True, fastmath={"reassoc"})
def _dot(a, b):
    """Plain-loop dot product: BLAS ``ddot`` threads contend badly with MPI ranks on shared cores.

    Reassociation lets LLVM keep several partial sums in SIMD lanes (a sequential sum waits
    for each add: 4x slower at 3N = 24 000); the order is fixed by the compiled code, so the
    result depends on the vector only, not on the run or the rank count.
    """
    s = 0.0
    for i in range(len(a)):
        s += a[i] * b[i]
    return s


@njit(cache=True)
def direction(g, s_hist, y_hist, rho, order, k, h0, max_step, d):
    """d = −H·g (two-loop recursion over the k stored pairs, oldest first in ``order``), turned downhill
    and capped.  Plain loops: no temporary vectors."""
    n3 = len(g)
    for t in range(n3):
        d[t] = g[t]
    alpha = np.zeros(k)
    for i in range(k - 1, -1, -1):
        s_i, y_i = s_hist[order[i]], y_hist[order[i]]
        a = rho[order[i]] * _dot(s_i, d)
        alpha[i] = a
        for t in range(n3):
            d[t] -= a * y_i[t]
    for t in range(n3):
        d[t] *= h0
    for i in range(k):
        s_i, y_i = s_hist[order[i]], y_hist[order[i]]
        c = alpha[i] - rho[order[i]] * _dot(y_i, d)
        for t in range(n3):
            d[t] += c * s_i[t]
    sign = 1.0 if _dot(d, g) < 0.0 else -1.0  # d = -q, flipped if that is not downhill
    largest = 0.0  # the cap is per particle (as LAMMPS dmax), so it does not shrink with N
    for i in range(0, n3, 3):
        largest = max(largest, d[i] * d[i] + d[i + 1] * d[i + 1] + d[i + 2] * d[i + 2])
    scale = 1.0 if largest <= max_step * max_step else max_step / np.sqrt(largest)
    for t in range(n3):
        d[t] = sign * d[t] * scale


@njit(cache=True)
def remember(s_hist, y_hist, rho, order, k, s, y, h0):
    """Store the pair (s, y) if s·y > 0, overwriting the oldest slot when all M are used (``order``
    lists the slots oldest first); return (k, H0)."""
    sy = _dot(s, y)
    if sy <= 0.0:
        return k, h0
    m = s_hist.shape[0]
    if k == m:
        slot = order[0]
        for i in range(m - 1):
            order[i] = order[i + 1]
        order[m - 1] = slot
        k -= 1
    else:
        slot = order[k]
    s_hist[slot] = s
    y_hist[slot] = y
    rho[slot] = 1.0 / sy
    return k + 1, sy / _dot(y, y)


@njit(cache=True)
def lbfgs_min_image(x, v, f, image, x_build, typ, box, coeff, force_shift, skin, tol, max_iter, params,
                     out):
    """Compiled L-BFGS for tiny serial boxes (list-free minimum-image forces).  ``out`` = [E_pot, n_iter, |F|].

    Same signature as :func:`pel_hpc.md.minimize.fire_min_image` (``v`` is unused); returns 0.
    """
    n3 = 3 * x.shape[0]
    xf, ff = x.reshape(n3), f.reshape(n3)
    m, max_step, max_rise, h0 = int(params[0]), params[1], params[2], params[3]
    s_hist, y_hist, rho, k = np.zeros((m, n3)), np.zeros((m, n3)), np.zeros(m), 0
    order = np.arange(m)
    d = np.empty(n3)
    refresh_min_image(x, image, x_build, box, 0.0)  # wrap if moved since the set-up
    e, _ = pair_forces_min_image(x, x.shape[0], typ, box, coeff, force_shift, True, f)
    for it in range(max_iter + 1):
        out[0], out[1], out[2] = e, it, np.sqrt(_dot(ff, ff))
        if out[2] <= tol or it == max_iter:
            return 0
        g = -ff
        direction(g, s_hist, y_hist, rho, order, k, h0, max_step, d)
        for trial in range(int(params[4]) + 1):
            xf += d
            refresh_min_image(x, image, x_build, box, skin)
            e_new, _ = pair_forces_min_image(x, x.shape[0], typ, box, coeff, force_shift, True, f)
            if e_new - e <= max_rise * abs(e_new) or trial == int(params[4]):
                break
            xf -= d
            d *= 0.5
        k, h0 = remember(s_hist, y_hist, rho, order, k, d, -ff - g, h0)
        e = e_new
    return 0


def lbfgs(state, domain, table, tol: float = 1e-8, max_iter: int = 100000, params=LBFGS_PARAMS):
    """L-BFGS-minimise ``state`` in place on a set-up ``domain`` (any domain; vectors in tag order).

    Returns (E_pot [epsilon], n_iter, |F|₂ [epsilon/sigma], converged).
    """
    m, n_glob = int(params[0]), state.n_global
    s_hist, y_hist, rho, k, h0 = np.zeros((m, 3 * n_glob)), np.zeros((m, 3 * n_glob)), np.zeros(m), 0, params[3]
    order = np.arange(m)
    d = np.empty(3 * n_glob)
    e, _ = compute_forces(state, domain, table)
    grad = -domain.gather_by_tag(state, state.f).reshape(-1)
    for it in range(max_iter + 1):
        fnorm = float(np.sqrt(_dot(grad, grad)))
        if fnorm <= tol or it == max_iter:
            return e, it, fnorm, fnorm <= tol
        direction(grad, s_hist, y_hist, rho, order, k, h0, params[1], d)
        for trial in range(int(params[4]) + 1):
            _move(state, d, 1.0)
            domain.refresh(state)
            e_new, _ = compute_forces(state, domain, table)
            if e_new - e <= params[2] * abs(e_new) or trial == int(params[4]):
                break
            _move(state, d, -1.0)
            d *= 0.5
        new_grad = -domain.gather_by_tag(state, state.f).reshape(-1)
        k, h0 = remember(s_hist, y_hist, rho, order, k, d, new_grad - grad, h0)
        e, grad = e_new, new_grad


def _move(state, d, sign: float) -> None:
    """x_i += sign·d[tag_i] for the owned particles."""
    move_by_tag(state.x, state.tag, state.n_local, d, sign)


@njit(cache=True)
def move_by_tag(x, tag, n, d, sign):
    """x[i] += sign·d[3 tag_i : 3 tag_i + 3] for the first ``n`` rows (no temporary arrays)."""
    for i in range(n):
        base = 3 * tag[i]
        for k in range(3):
            x[i, k] += sign * d[base + k]
