"""Compiled whole MD loop for small systems, batched over R independent replicas.

For N ≈ 65 a Python step would cost more than the physics, so the complete step — NHC
half-step, kick, drift, displacement check (and wrap), forces, kick, NHC half-step — runs
here, and control returns to Python only at operation boundaries (the caller passes the
number of steps to the next thermo/quench/output event).  One call advances every replica
of a :class:`~pel_hpc.parallel.batch.ReplicaBatch` (a lone compiled
:class:`~pel_hpc.simulation.Simulation` is the batch R = 1): Python runs once per event,
never per replica per step.  Each replica's arithmetic does not depend on R or on its place
in the batch, so its trajectory is bitwise the same in any batch (any rank count).

Kernel signature (arrays carry a leading replica axis ``R``)::

    advance(x, v, f, image, x_build, typ, box, coeff, force_shift, skin, dt, eta, eta_v, ke2c, q, ndof,
            temp, steps, info) -> None

    x, v, f, x_build : (R, N, 3) float64 [sigma, sigma/tau, epsilon/sigma]
    image : (R, N, 3) int32;  typ : (R, N) int32;  box : (R, 3) [sigma]
    coeff, force_shift : the PairTable's constants and truncation;  skin : [sigma];  dt : [tau]
    eta, eta_v : (R, M) Nosé–Hoover chain state (M = 0 for NVE);  q : (M,) masses
    ke2c : (R,) in/out: the carried 2K of each replica (``State.nhc_ke2``, NaN: sum afresh)
    ndof : 3N − 3;  temp : target T [epsilon/k_B];  steps : steps for every replica
    info : (R, 4) float64 out: E_pot, virial W of the last step [epsilon] (the only step that
        evaluates them, in a second pass that leaves the forces alone), wraps (added), and the
        largest kinetic temperature 2K/N_f before a thermostat scale (NaN sticks; NVT only, else 0)

Tiny boxes use the list-free minimum-image forces (:func:`pel_hpc.md.forces.pair_forces_min_image`,
exact for r_c < L/2): no neighbour list, ``x_build``/``image``/``skin`` only time the wrapping.
Before the first call the caller must have computed the forces ``f`` of ``x``.
"""
import numpy as np
from numba import njit

from pel_hpc.md.forces import pair_forces_min_image
from pel_hpc.md.integrate import kick, scale, scale_kick_drift
from pel_hpc.md.neighbors import refresh_min_image
from pel_hpc.md.observables import sum_v2
from pel_hpc.md.thermostat import half_step


@njit(cache=True)
def advance(x, v, f, image, x_build, typ, box, coeff, force_shift, skin, dt, eta, eta_v, ke2c, q, ndof, temp,
            steps, info):
    """Advance each replica by ``steps`` velocity-Verlet(-NHC) steps (see the module docstring)."""
    n = x.shape[1]
    nhc = eta.shape[1] > 0
    scratch = np.empty((n, 3))
    for r in range(x.shape[0]):
        xr, vr, fr = x[r], v[r], f[r]
        ke2 = ke2c[r]  # carried: 2K·s² after the previous step's last NHC scale s (Integrator.first_half)
        if nhc and ke2 != ke2:
            ke2 = sum_v2(vr, n)
        t_max = 0.0
        for left in range(steps, 0, -1):
            s = half_step(eta[r], eta_v[r], q, ke2, ndof, temp, dt) if nhc else 1.0
            scale_kick_drift(xr, vr, fr, s, 0.5 * dt, dt, n)
            info[r, 2] += refresh_min_image(xr, image[r], x_build[r], box[r], skin)
            pair_forces_min_image(xr, n, typ[r], box[r], coeff, force_shift, False, fr)
            if left == 1:  # a second pass: the forces do not depend on it (local_forces "separate")
                info[r, 0], info[r, 1] = pair_forces_min_image(xr, n, typ[r], box[r], coeff, force_shift, True,
                                                               scratch)
            kick(vr, fr, 0.5 * dt, n)
            if nhc:
                ke2 = sum_v2(vr, n)
                if ke2 != ke2 or ke2 > t_max * ndof:
                    t_max = ke2 / ndof  # thermostat.runaway's temperature; a NaN stays
                s = half_step(eta[r], eta_v[r], q, ke2, ndof, temp, dt)
                scale(vr, s, n)
                ke2 *= s * s
        ke2c[r] = ke2 if nhc else np.nan
        info[r, 3] = t_max
