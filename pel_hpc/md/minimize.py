"""Inherent-structure minimiser: FIRE on a copy of the configuration (never the trajectory).

FIRE (Bitzek et al. 2006, with the half-step back-off of Guénolé et al. 2020) is chosen over
conjugate gradients because it needs only forces and one global reduction per iteration
(no line search with energy evaluations), so it runs unchanged in a decomposed domain and,
for N = 65, entirely in compiled code.  Per iteration, with P = F·v:

.. math::

    P > 0:\\ n_+ \\mathrel{+}= 1;\\ n_+ > N_{min} \\Rightarrow \\Delta t \\leftarrow
    \\min(f_{inc}\\Delta t, \\Delta t_{max}),\\ \\alpha \\leftarrow f_\\alpha\\alpha \\qquad
    P \\le 0:\\ x \\mathrel{-}= \\tfrac{\\Delta t}{2} v,\\ v = 0,\\ \\Delta t \\leftarrow f_{dec}\\Delta t,
    \\ \\alpha = \\alpha_0

    v \\leftarrow v + \\Delta t F,\\quad v \\leftarrow (1-\\alpha) v + \\alpha |v| \\hat F,
    \\quad x \\leftarrow x + \\Delta t\\, v \\ (|\\Delta x_i| \\le d_{max})

Stopping rule as LAMMPS ``minimize`` ftol: the 2-norm of the global 3N force vector
≤ ``tol`` [epsilon/sigma] (``norm="two"``), or, as LAMMPS ``min_modify norm max``, the largest
particle force max_i |F_i| ≤ ``tol`` (``norm="max"``; the start's soft push).  The IS energy is
reported per particle, e_IS [epsilon].
``method="lbfgs"`` (:mod:`pel_hpc.md.lbfgs`, the default here and in the deck) needs 3–7×
fewer force calls at that rule and is the faster choice; ``method="cg"`` (serial only) uses scipy's Polak–Ribière CG, for cross-checks.

References
----------
E. Bitzek et al., Phys. Rev. Lett. 97, 170201 (2006); J. Guénolé et al.,
Comput. Mater. Sci. 175, 109584 (2020); F. H. Stillinger and T. A. Weber, Phys. Rev. A 25, 978 (1982).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from pel_hpc.errors import DeckError
from pel_hpc.md.box import wrap
from pel_hpc.md.forces import compute_forces, pair_forces_min_image
from pel_hpc.md.lbfgs import LBFGS_PARAMS, lbfgs, lbfgs_min_image
from pel_hpc.md.neighbors import refresh_min_image

# dt0, dt_max, N_min, f_inc, f_dec, alpha0, f_alpha, d_max  (LJ time / length)
METHODS = ("lbfgs", "fire", "cg")
FIRE_PARAMS = np.array([0.005, 0.05, 5.0, 1.1, 0.5, 0.1, 0.99, 0.1])


@dataclass(frozen=True)
class QuenchResult:
    """Outcome of one quench: e_IS per particle [epsilon], IS positions by tag [sigma], diagnostics."""

    e_is: float
    x_is: np.ndarray
    n_iter: int
    fnorm: float
    converged: bool


@njit(cache=True)
def fire_terms(f, v, n):
    """Per-particle (F_i·F_i, F_i·v_i, v_i·v_i) of the first ``n`` particles, (n, 3)."""
    out = np.zeros((n, 3))
    for i in range(n):
        for d in range(3):
            out[i, 0] += f[i, d] * f[i, d]
            out[i, 1] += f[i, d] * v[i, d]
            out[i, 2] += v[i, d] * v[i, d]
    return out


@njit(cache=True)
def fire_sums(f, v, n):
    """Local sums (F·F, F·v, v·v) of the first ``n`` particles (the compiled serial FIRE)."""
    return fire_terms(f, v, n).sum(axis=0)


@njit(cache=True)
def fire_update(x, v, f, n, sums, ctl, params):
    """One FIRE move of the first ``n`` particles given the *global* ``sums``.

    ``ctl`` = [Δt, α, n_+] is updated in place; ``params`` is :data:`FIRE_PARAMS`.
    """
    dt, alpha = ctl[0], ctl[1]
    ff, fv, vv = sums[0], sums[1], sums[2]
    if fv > 0.0:
        ctl[2] += 1.0
        if ctl[2] > params[2]:
            dt = min(dt * params[3], params[1])
            alpha *= params[6]
    else:
        for i in range(n):
            for d in range(3):
                x[i, d] -= 0.5 * dt * v[i, d]
                v[i, d] = 0.0
        ctl[2] = 0.0
        dt *= params[4]
        alpha = params[5]
        fv, vv = 0.0, 0.0
    vnorm = np.sqrt(max(vv + 2.0 * dt * fv + dt * dt * ff, 0.0))
    mix = alpha * vnorm / np.sqrt(ff) if ff > 0.0 else 0.0
    dmax = params[7]
    for i in range(n):
        d2 = 0.0
        for d in range(3):
            v[i, d] = (1.0 - alpha) * (v[i, d] + dt * f[i, d]) + mix * f[i, d]
            d2 += (dt * v[i, d]) ** 2
        c = min(1.0, dmax / np.sqrt(d2)) if d2 > 0.0 else 1.0
        for d in range(3):
            v[i, d] *= c  # capping v (not only Δx) also bounds the back-off step
            x[i, d] += dt * v[i, d]
    ctl[0], ctl[1] = dt, alpha


@njit(cache=True)
def fire_min_image(x, v, f, image, x_build, typ, box, coeff, force_shift, skin, tol, max_iter, params, out):
    """Compiled FIRE for tiny serial boxes (list-free minimum-image forces); same moves as :func:`minimize`.

    ``out`` = [E_pot, n_iter, |F|] on return; returns 0.
    """
    n = x.shape[0]
    v[:, :] = 0.0
    ctl = np.array([params[0], params[5], 0.0])
    refresh_min_image(x, image, x_build, box, 0.0)  # wrap if moved since the set-up
    for it in range(max_iter + 1):
        epot, _ = pair_forces_min_image(x, n, typ, box, coeff, force_shift, True, f)
        sums = fire_sums(f, v, n)
        out[0], out[1], out[2] = epot, it, np.sqrt(sums[0])
        if out[2] <= tol or it == max_iter:
            return 0
        fire_update(x, v, f, n, sums, ctl, params)
        refresh_min_image(x, image, x_build, box, skin)
    return 0


NORMS = ("two", "max")


def minimize(state, domain, table, tol: float = 1e-8, max_iter: int = 100000, params=FIRE_PARAMS,
             norm: str = "two"):
    """FIRE-minimise ``state`` in place on a set-up ``domain``; returns (E_pot, n_iter, |F|, converged).

    ``|F|`` is the 2-norm of the global force vector, or with ``norm="max"`` max_i |F_i| (one more
    global reduction per iteration), the quantity compared with ``tol`` [epsilon/sigma].

    ``state.v`` serves as FIRE's velocity (zeroed first), so particles that the domain
    reorders or migrates carry it along.  The global sums are ``domain.sum_per_particle``
    (exact in reproducible mode, so the quench is then bitwise the same on any rank count).
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, not {norm!r}")
    state.v[:] = 0.0
    state.forget_ke2()
    ctl = np.array([params[0], params[5], 0.0])
    epot, _ = compute_forces(state, domain, table)
    for it in range(max_iter + 1):
        n = state.n_local
        sums = domain.sum_per_particle(fire_terms(state.f, state.v, n))
        fnorm = float(np.sqrt(sums[0] if norm == "two" else domain.comm.allreduce_max(_max_f2(state.f, n))))
        if fnorm <= tol or it == max_iter:
            return epot, it, fnorm, fnorm <= tol
        fire_update(state.x, state.v, state.f, n, sums, ctl, params)
        domain.refresh(state)
        epot, _ = compute_forces(state, domain, table)


@njit(cache=True)
def _max_f2(f, n):
    """max_i |F_i|² over the first ``n`` rows (0 for none)."""
    out = 0.0
    for i in range(n):
        out = max(out, f[i, 0] * f[i, 0] + f[i, 1] * f[i, 1] + f[i, 2] * f[i, 2])
    return out


def quench(state, domain, table, tol: float = 1e-8, max_iter: int = 100000, method: str = "lbfgs") -> QuenchResult:
    """Quench a copy of ``state`` to its inherent structure; the trajectory is untouched.

    Parameters
    ----------
    state, domain : the running simulation's state and domain (only read)
    table : :class:`~pel_hpc.physics.kob_andersen.PairTable`
    tol : 2-norm of the global force vector at convergence [epsilon/sigma]
    """
    copy, dom = state.copy(), domain.copy()
    dom.setup(copy)
    small = dom.min_image and dom.comm.size == 1
    if method == "fire":
        found = _minimize_small(copy, dom, table, tol, max_iter, fire_min_image, FIRE_PARAMS) if small \
            else minimize(copy, dom, table, tol, max_iter)
    elif method == "lbfgs":
        found = _minimize_small(copy, dom, table, tol, max_iter, lbfgs_min_image, LBFGS_PARAMS) if small \
            else lbfgs(copy, dom, table, tol, max_iter)
    elif method == "cg":
        found = _minimize_cg(copy, dom, table, tol, max_iter)
    else:
        raise DeckError(f"quench.method must be one of {METHODS} (got {method!r})")
    epot, it, fnorm, ok = found
    wrap(copy.x, copy.image, copy.box, copy.n_local)
    x_is = dom.gather_by_tag(copy, copy.x)
    return QuenchResult(epot / state.n_global, x_is, it, fnorm, ok)


def _minimize_small(state, domain, table, tol, max_iter, kernel, params):
    """Run a compiled minimum-image minimiser (FIRE or L-BFGS) on a tiny serial box."""
    n, out = state.n_local, np.zeros(3)
    kernel(state.x[:n], state.v[:n], state.f[:n], state.image[:n], domain.x_build, state.typ[:n], state.box,
           table.coeff, table.force_shift, domain.skin, tol, max_iter, params, out)
    return out[0], int(out[1]), out[2], out[2] <= tol


def _minimize_cg(state, domain, table, tol, max_iter):
    """Serial Polak–Ribière CG (scipy) with the 2-norm force rule; for cross-checks."""
    from scipy.optimize import minimize as sp_minimize

    if domain.comm.size != 1:
        raise DeckError("quench.method: 'cg' runs serially only; use 'lbfgs' or 'fire' with several ranks")
    n = state.n_local

    def energy_grad(flat):
        state.x[:n] = flat.reshape(-1, 3)[state.tag[:n]]
        domain.refresh(state)
        epot, _ = compute_forces(state, domain, table)
        return epot, -domain.gather_by_tag(state, state.f).reshape(-1)

    x0 = domain.gather_by_tag(state, state.x).reshape(-1)
    res = sp_minimize(energy_grad, x0, jac=True, method="CG",
                      options={"gtol": tol, "norm": 2, "maxiter": max_iter})
    epot, fnorm = energy_grad(res.x)[0], float(np.linalg.norm(state.f[:n]))
    return epot, int(res.nit), fnorm, fnorm <= tol
