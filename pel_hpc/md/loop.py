"""Compiled whole MD loop for small systems, batched over R independent replicas.

For N ≈ 65 a Python step would cost more than the physics, so the complete step — NHC
half-step, kick, drift, displacement check (and wrap), forces, kick, NHC half-step — runs here, and control returns to Python only at operation boundaries (the
caller passes the number of steps to the next thermo/quench/output event).

Kernel signature (for the ensemble code: arrays carry a leading replica axis ``R``)::

    advance(x, v, f, image, x_build, typ, box, shifts, nlist, count,
            eps4, sig2, rc2, ushift, fc, rc, force_shift, rlist, skin, dt,
            eta, eta_v, q, ndof, temp, remaining, resume, info) -> None

    x, v, f, x_build : (R, N, 3) float64 [sigma, sigma/tau, epsilon/sigma]
    image : (R, N, 3) int32;  typ : (R, N) int32
    box : (R, 3) [sigma];  shifts : (R, 27, 3) [sigma] (``box.shift_table`` per replica)
    nlist : (R, N, cap) int32;  count : (R, N) int32 — kept for compatibility, unused: tiny
             boxes use the list-free minimum-image forces (``forces.pair_forces_min_image``,
             exact for r_c < L/2, no rebuilds); x_build/image/skin only time the wrapping
    eps4 … rc, force_shift : the PairTable arrays;  rlist, skin : [sigma];  dt : [tau]
    eta, eta_v : (R, M) Nosé–Hoover chain state (M = 0 for NVE);  q : (M,) masses
    ndof : 3N − 3;  temp : target T [epsilon/k_B]
    remaining : (R,) int64 steps still to do, decremented in place (0 when done)
    resume : (R,) int8, 1 = the replica stopped right after its drift (list overflow in
             earlier versions; never set now): call again to finish the step
    info : (R, 4) float64 out: E_pot, virial W (of the last step) [epsilon], wrap count
           (accumulated), unused

Before the first call the caller must have built the lists (``resume = 1`` does that) and
computed forces; :class:`~pel_hpc.simulation.Simulation` does this for R = 1.
"""
import numpy as np
from numba import njit

from pel_hpc.md.forces import pair_forces_min_image
from pel_hpc.md.integrate import drift, kick, scale
from pel_hpc.md.neighbors import refresh_min_image
from pel_hpc.md.observables import sum_v2
from pel_hpc.md.thermostat import half_step


@njit(cache=True)
def advance(x, v, f, image, x_build, typ, box, shifts, nlist, count, eps4, sig2, rc2, ushift, fc, rc,
            force_shift, rlist, skin, dt, eta, eta_v, q, ndof, temp, remaining, resume, info):
    """Advance each replica by ``remaining[r]`` velocity-Verlet(-NHC) steps (see module docstring)."""
    n = x.shape[1]
    nhc = eta.shape[1] > 0
    for r in range(x.shape[0]):
        xr, vr, fr = x[r], v[r], f[r]
        while remaining[r] > 0:
            if resume[r] == 0:
                if nhc:
                    scale(vr, half_step(eta[r], eta_v[r], q, sum_v2(vr, n), ndof, temp, dt), n)
                kick(vr, fr, 0.5 * dt, n)
                drift(xr, vr, dt, n)
            resume[r] = 0
            info[r, 2] += refresh_min_image(xr, image[r], x_build[r], box[r], skin)
            info[r, 0], info[r, 1] = pair_forces_min_image(xr, n, typ[r], box[r], eps4, sig2, rc2, ushift, fc, rc,
                                                           force_shift, fr)
            kick(vr, fr, 0.5 * dt, n)
            if nhc:
                scale(vr, half_step(eta[r], eta_v[r], q, sum_v2(vr, n), ndof, temp, dt), n)
            remaining[r] -= 1


def grow_lists(nlist: np.ndarray, need: int) -> np.ndarray:
    """A larger (R, N, cap) list buffer with at least ``need`` columns (20 % headroom)."""
    cap = max(int(need * 1.2) + 8, nlist.shape[2])
    return np.zeros(nlist.shape[:2] + (cap,), dtype=np.int32)
