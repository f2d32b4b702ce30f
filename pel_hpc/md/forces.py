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

from pel_hpc.physics.lj import lj_energy_force

# Fast-math only for this kernel (reassociation vectorises the reductions); numba's cache
# key ignores fastmath, so no function is ever compiled both ways.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, fastmath=FASTMATH)
def pair_forces(x, n_local, nlist, count, shifts, eps4, sig2, rc2, ushift, fc, rc, force_shift, f):
    """Fill ``f[:n_local]`` and return this rank's (E_pot, W) partial sums [epsilon].

    Parameters
    ----------
    x : (n_total, 3) positions [sigma], ``[local | ghost]``
    n_local : owned particles, the only rows of ``f`` written
    nlist, count : (n_local, capacity) packed entries and (n_local,) counts
    shifts : (27, 3) periodic image shifts [sigma]
    eps4, sig2, rc2, ushift, fc, rc : (4,) pair tables of :class:`~pel_hpc.physics.kob_andersen.PairTable`
    force_shift : bool
    f : (capacity, 3) output forces [epsilon/sigma]
    """
    epot = 0.0
    vir = 0.0
    for i in range(n_local):
        xi, yi, zi = x[i, 0], x[i, 1], x[i, 2]
        fx = 0.0
        fy = 0.0
        fz = 0.0
        e = 0.0
        w = 0.0
        for k in range(count[i]):
            code = nlist[i, k]
            j = code >> 7
            s = (code >> 2) & 31
            t = code & 3
            dx = xi - x[j, 0] - shifts[s, 0]
            dy = yi - x[j, 1] - shifts[s, 1]
            dz = zi - x[j, 2] - shifts[s, 2]
            r2 = dx * dx + dy * dy + dz * dz
            f_over_r, u = lj_energy_force(r2, eps4[t], sig2[t], rc2[t], ushift[t], fc[t], rc[t], force_shift)
            fx += f_over_r * dx
            fy += f_over_r * dy
            fz += f_over_r * dz
            e += u
            w += f_over_r * r2
        f[i, 0] = fx
        f[i, 1] = fy
        f[i, 2] = fz
        epot += 0.5 * e
        vir += 0.5 * w
    return epot, vir


def compute_forces(state, domain, table):
    """Forces into ``state.f`` and the global (E_pot, W) [epsilon], reduced over ``domain.comm``."""
    epot, vir = pair_forces(state.x, state.n_local, domain.nlist, domain.count, domain.shifts,
                            table.eps4, table.sig2, table.rc2, table.ushift, table.fc, table.rc,
                            table.force_shift, state.f)
    domain.reverse_forces(state)
    tot = domain.comm.allreduce_sum(np.array([epot, vir]))
    return float(tot[0]), float(tot[1])

