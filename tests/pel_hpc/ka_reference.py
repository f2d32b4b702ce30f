"""Independent brute-force reference for the KA pair sums (numpy, minimum image, no lists).

Written from the formula, not from pel_hpc.physics.lj, so tests cross-check the kernel.
"""
import numpy as np

EPS = np.array([[1.0, 1.5], [1.5, 0.5]])
SIG = np.array([[1.0, 0.8], [0.8, 0.88]])


def ka_brute_force(x, typ, box, cutoff, force_shift=False):
    """(E_pot, forces (N,3), virial W) by minimum image over all pairs [epsilon, epsilon/sigma]."""
    x = np.asarray(x, dtype=np.float64)
    d = x[:, None, :] - x[None, :, :]
    d -= box * np.round(d / box)
    r2 = (d**2).sum(-1)
    np.fill_diagonal(r2, 1e10)  # self pair: far beyond any cut-off
    eps, sig = EPS[typ[:, None], typ[None, :]], SIG[typ[:, None], typ[None, :]]
    rc = cutoff * sig
    inside = r2 < rc**2
    r = np.sqrt(r2)

    def u_lj(rr):
        s6 = (sig / rr) ** 6
        return 4 * eps * (s6 * s6 - s6)

    def f_lj(rr):  # -du/dr
        s6 = (sig / rr) ** 6
        return 24 * eps * (2 * s6 * s6 - s6) / rr

    u = u_lj(r) - u_lj(rc)
    fmag = f_lj(r)
    if force_shift:
        u += (r - rc) * f_lj(rc)
        fmag -= f_lj(rc)
    u, fmag = np.where(inside, u, 0.0), np.where(inside, fmag, 0.0)
    forces = (fmag / r)[:, :, None] * d
    return 0.5 * u.sum(), forces.sum(axis=1), 0.5 * (fmag * r).sum()
