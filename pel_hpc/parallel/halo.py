"""Six-swap halo: migration, borders (plan), forward and reverse communication.

The communication cycle of a spatially decomposed MD step (Plimpton 1995):

* **exchange** (at a neighbour-list rebuild): particles that left the sub-box move to the
  owner, one hop per dimension and round, repeated until no particle is misplaced, so a
  particle may cross several sub-boxes between rebuilds;
* **borders** (at a rebuild): six swaps x−, x+, y−, y+, z−, z+ send the particles within the
  halo width :math:`r_h = r_c + r_{skin}` of a face; each swap also forwards ghosts received
  in earlier dimensions, so edge and corner ghosts arrive in two or three stages. A swap that
  crosses the global box adds ±L to that component (sender side); on a grid dimension of 1 the
  swap is a copy to oneself. The send lists and receive ranges are the *plan*;
* **forward** (every step): replays the plan on positions only;
* **reverse** (half lists, every step): sends ghost forces back along the plan, reversed.

All MPI calls are uppercase mpi4py calls on contiguous numpy buffers.

References
----------
S. Plimpton, J. Comp. Phys. 117, 1 (1995); LAMMPS ``CommBrick`` (design only).
"""
from __future__ import annotations

from time import perf_counter

import numpy as np

from pel_hpc.parallel import halo_kernels as hk

_N_BORDER_COLS = 5  # x, y, z, typ, tag


def sendrecv(comm, send, dest, source, recv, tag) -> None:
    """Send ``send`` to ``dest`` and receive ``recv`` from ``source`` (a copy when both are self)."""
    if dest == comm.rank and source == comm.rank:
        recv[...] = send
        return
    comm.raw.Sendrecv(send, dest=dest, sendtag=tag, recvbuf=recv, source=source, recvtag=tag)


def sendrecv_count(comm, n_send: int, dest, source, tag) -> int:
    """Exchange a count with the partners of a swap."""
    out = np.zeros(1, np.int64)
    sendrecv(comm, np.array([n_send], np.int64), dest, source, out, tag)
    return int(out[0])


def _swaps(grid):
    """(dimension, direction, send-to rank, receive-from rank, shift) of the six swaps."""
    out = []
    for d in range(3):
        minus, plus = grid.neighbors[d]
        last = grid.dims[d] - 1
        shift_minus = grid.box[d] if grid.coords[d] == 0 else 0.0
        shift_plus = -grid.box[d] if grid.coords[d] == last else 0.0
        out.append((d, -1, minus, plus, shift_minus))
        out.append((d, +1, plus, minus, shift_plus))
    return out


class Halo:
    """Plan-once, replay-every-step halo of one rank (see the module docstring).

    Parameters
    ----------
    comm : MPIComm or SerialComm
        The replica group's communicator (its ``raw`` mpi4py communicator is used).
    grid : RankGrid
        This rank's place in the grid (:mod:`pel_hpc.parallel.grid`).
    r_halo : float
        Halo width :math:`r_c + r_{skin}` [sigma].
    """

    def __init__(self, comm, grid, r_halo: float):
        self.comm, self.grid, self.r_halo = comm, grid, float(r_halo)
        self.swaps = _swaps(grid)
        self.send_idx = [np.zeros(0, np.int64) for _ in self.swaps]
        self.recv_first = [0] * 6
        self.recv_n = [0] * 6
        self.n_ghost = 0
        self.comm_time = 0.0  # seconds in forward communication (packing included), for benchmarks
        self._idx_buf = np.zeros(1024, np.int64)

    def _sendrecv(self, send, dest, source, recv, tag):
        sendrecv(self.comm, send, dest, source, recv, tag)

    # ---- borders: build the plan ---------------------------------------------------------
    def _select(self, x, n_last, d, bound, below):
        """Indices of the particles in a face slab (grows the index buffer on overflow)."""
        while True:
            c = hk.select_slab(x, n_last, d, bound, below, self._idx_buf)
            if c <= self._idx_buf.shape[0]:
                return self._idx_buf[:c].copy()
            self._idx_buf = np.zeros(2 * c, np.int64)

    def borders(self, x, typ, tag, n_local, grow):
        """Build the ghost layer and the swap plan after an exchange.

        Parameters
        ----------
        x, typ, tag : arrays of capacity rows holding ``[local | ghost]``
        n_local : int
        grow : callable(n_needed) -> (x, typ, tag)
            Enlarges the caller's arrays (and any per-particle arrays it keeps) to at least
            ``n_needed`` rows and returns the new position, species and tag arrays.

        Returns
        -------
        (x, typ, tag, n_ghost)
        """
        n = n_local
        lo, hi, rh = self.grid.lo, self.grid.hi, self.r_halo
        n_last = n
        for s, (d, direction, dest, source, shift) in enumerate(self.swaps):
            if direction < 0:
                n_last = n  # both swaps of a dimension see locals + ghosts of earlier dimensions
            below = direction < 0
            bound = lo[d] + rh if below else hi[d] - rh
            idx = self._select(x, n_last, d, bound, below)
            send = np.empty((idx.size, _N_BORDER_COLS))
            hk.pack_ghost_rows(x, typ, tag, idx, idx.size, d, shift, send)
            n_recv = sendrecv_count(self.comm, idx.size, dest, source, 100 + s)
            recv = np.empty((n_recv, _N_BORDER_COLS))
            self._sendrecv(send, dest, source, recv, 200 + s)
            if n + n_recv > x.shape[0]:
                x, typ, tag = grow(n + n_recv)
            hk.unpack_ghost_rows(recv, n_recv, n, x, typ, tag)
            self.send_idx[s], self.recv_first[s], self.recv_n[s] = idx, n, n_recv
            n += n_recv
        self.n_ghost = n - n_local
        self._plan_forward()
        return x, typ, tag, self.n_ghost

    # ---- every step ----------------------------------------------------------------------
    def _plan_forward(self) -> None:
        """Group the plan for :meth:`forward`: per dimension, either both swaps are self-copies
        (grid dimension 1: replayed by one numba call for a run of such dimensions) or both
        are real messages (their persistent send buffers)."""
        me = self.comm.rank
        self._self_dim = [all(self.swaps[s][2] == me and self.swaps[s][3] == me for s in (2 * d, 2 * d + 1))
                          for d in range(3)]
        sizes = [i.size for i in self.send_idx]
        self._idx_all = np.concatenate(self.send_idx) if sum(sizes) else np.zeros(0, np.int64)
        self._idx_start = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        self._swap_dim = np.array([sw[0] for sw in self.swaps], np.int64)
        self._swap_shift = np.array([sw[4] for sw in self.swaps], np.float64)
        self._swap_first = np.array(self.recv_first, np.int64)
        self._fwd_send = [np.empty((i.size, 3)) for i in self.send_idx]

    def forward(self, x, during=None) -> None:
        """Refresh the ghost positions in place by replaying the plan (every MD step).

        Consecutive dimensions of extent 1 (self-swaps) are replayed by one numba call that
        packs straight into the ghost rows; on a decomposed dimension both swaps go at once
        (two receives posted, both buffers packed and sent, then one wait), since the two
        swaps of a dimension send only particles known before it.  Nothing is allocated.

        ``during``: a callable run once while the first decomposed dimension's messages are in
        flight (at the end if there are none): work that reads no ghost, such as the forces on
        the interior rows (communication hidden behind computation).  Its time is not counted
        in :attr:`comm_time`.
        """
        t0 = perf_counter()
        d = 0
        while d < 3:
            if self._self_dim[d]:
                d_end = d
                while d_end < 3 and self._self_dim[d_end]:
                    d_end += 1
                hk.replay_swaps(x, self._idx_all, self._idx_start, self._swap_dim, self._swap_shift,
                                self._swap_first, 2 * d, 2 * d_end)
                d = d_end
                continue
            reqs = []
            for s in (2 * d, 2 * d + 1):
                _, _, _, source, _ = self.swaps[s]
                first, n = self.recv_first[s], self.recv_n[s]
                reqs.append(self.comm.raw.Irecv(x[first:first + n], source=source, tag=300 + s))
            for s in (2 * d, 2 * d + 1):
                _, _, dest, _, shift = self.swaps[s]
                idx, buf = self.send_idx[s], self._fwd_send[s]
                hk.pack_positions(x, idx, idx.size, d, shift, buf)
                reqs.append(self.comm.raw.Isend(buf, dest=dest, tag=300 + s))
            if during is not None:
                t1 = perf_counter()
                during()
                t0 += perf_counter() - t1
                during = None
            self.comm.waitall(reqs)
            d += 1
        self.comm_time += perf_counter() - t0
        if during is not None:
            during()

    @property
    def messages_per_step(self) -> int:
        """Point-to-point messages of one forward pass (self-swaps on a grid dimension of 1 are copies)."""
        me = self.comm.rank
        return sum(1 for (_, _, dest, source, _) in self.swaps if not (dest == me and source == me))

    def reverse(self, f) -> None:
        """Add the forces tallied on ghosts into their owners' rows (half lists), in place."""
        for s in range(5, -1, -1):
            _, _, dest, source, _ = self.swaps[s]
            idx, back = self.send_idx[s], self._fwd_send[s]
            first, n = self.recv_first[s], self.recv_n[s]
            self._sendrecv(np.ascontiguousarray(f[first:first + n]), source, dest, back, 400 + s)
            hk.accumulate_rows(f, idx, idx.size, back)


# ---- exchange: migration of particles to their owners (at a rebuild) --------------------------
def _rows_view(a: np.ndarray) -> np.ndarray:
    """``a`` as a (rows, width) view (never a copy: the kernels write through it)."""
    v = a.reshape(a.shape[0], -1)
    if not np.may_share_memory(v, a):
        raise ValueError("per-particle arrays must be C-contiguous in their trailing dimensions")
    return v


def _to_matrix(arrays: dict, rows: np.ndarray) -> np.ndarray:
    """The selected rows of every per-particle array side by side as float64 (ints are exact < 2**53)."""
    views = [_rows_view(a) for a in arrays.values()]
    out, c = np.empty((rows.size, sum(v.shape[1] for v in views))), 0
    for v in views:
        hk.gather_columns(v, rows, out, c)
        c += v.shape[1]
    return out


def _unpack_matrix(arrays: dict, mat: np.ndarray, first: int) -> None:
    """Inverse of :func:`_to_matrix`: store the rows of ``mat`` as rows ``first…`` of every array."""
    c = 0
    for a in arrays.values():
        v = _rows_view(a)
        hk.scatter_columns(mat, v, first, c)
        c += v.shape[1]


def _fill_holes(arrays: dict, leave: np.ndarray, n: int) -> int:
    """Remove the rows ``leave`` (ascending) from the first ``n`` rows of every array by moving
    the last staying rows into the holes: O(leavers) work, not O(n).  Returns the rows kept."""
    holes, sources = hk.hole_plan(leave, n)
    if holes.size:
        for a in arrays.values():
            hk.move_rows(_rows_view(a), holes, sources)
    return n - leave.size


def _hop_dimension(comm, grid, arrays: dict, n: int, d: int, x_name: str, grow):
    """One hop along ``d``: rows whose owner lies that way are packed (one matrix, minus-bound
    rows first) and sent to the minus/plus neighbour, the holes they leave are filled from the
    end, the received rows are appended (those from the plus side first).  Numba kernels do the
    scan and every row copy; two counts and two row exchanges; only leaving and arriving
    particles are copied."""
    minus, plus = grid.neighbors[d]
    out = (np.empty(n, np.int64), np.empty(n, np.int64))
    n_minus, n_plus = hk.leaving_rows(arrays[x_name], n, d, grid.cuts[d], grid.coords[d], out[0], out[1])
    leave = np.concatenate((out[0][:n_minus], out[1][:n_plus]))
    packed = _to_matrix(arrays, leave)
    n = _fill_holes(arrays, np.sort(leave), n)
    swaps = ((minus, plus, packed[:n_minus]), (plus, minus, packed[n_minus:]))
    counts = [sendrecv_count(comm, send.shape[0], dest, source, 500 + 2 * d + k)
              for k, (dest, source, send) in enumerate(swaps)]
    recv, first = np.empty((sum(counts), packed.shape[1])), 0
    for k, ((dest, source, send), n_recv) in enumerate(zip(swaps, counts)):  # straight into one matrix
        sendrecv(comm, send, dest, source, recv[first:first + n_recv], 600 + 2 * d + k)
        first += n_recv
    if n + recv.shape[0] > arrays[x_name].shape[0]:
        arrays = grow(n + recv.shape[0])
    _unpack_matrix(arrays, recv, n)
    return arrays, n + recv.shape[0]


def exchange(comm, grid, arrays: dict, n_local: int, grow, x_name: str = "x"):
    """Move every particle to the rank owning its (wrapped) position, in place.

    Parameters
    ----------
    comm : MPIComm or SerialComm
    grid : RankGrid
    arrays : dict of name -> ndarray
        Per-particle arrays of capacity rows (positions ``x_name`` wrapped into the box,
        velocities, images, species, tags and any per-particle state); the first ``n_local``
        rows are the owned particles.  Rows beyond them (ghosts) are overwritten.
    n_local : int
    grow : callable(n_needed) -> dict
        Enlarges every array to at least ``n_needed`` rows (keeping contents) and returns the
        new arrays under the same names.

    Returns
    -------
    (arrays, new n_local)
        Hops repeat until no particle anywhere is misplaced, so any displacement is handled.
        Owned particles that stay keep their rows unless a leaver's hole is filled with them;
        on a one-rank grid nothing moves.
    """
    if grid.size == 1:
        return arrays, n_local
    n = n_local
    coords = np.asarray(grid.coords)
    while True:
        for d in range(3):
            if grid.dims[d] > 1:
                arrays, n = _hop_dimension(comm, grid, arrays, n, d, x_name, grow)
        misplaced = hk.count_misplaced(arrays[x_name], n, *grid.cuts, coords)
        if comm.allreduce_max(misplaced) == 0:
            break
    return arrays, n
