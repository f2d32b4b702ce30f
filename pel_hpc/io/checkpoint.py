"""Checkpoints: the complete :class:`~pel_hpc.state.State` of every rank, written then renamed.

A checkpoint holds every field of every rank's ``State`` as it is in memory — per-particle
arrays (positions, velocities, forces, images, tags, species) in each rank's local order,
and each rank's box, Nosé–Hoover chain, step, seed and replica — plus the driver's scalars
(stage index, ...).  The velocities are counter-based (:mod:`pel_hpc.md.velocities`), so
no random-generator state exists beyond the seed.  Restoring on the same rank count and
replica grouping gives every rank exactly its arrays back, so a restarted run continues
bitwise (:func:`read_checkpoint_states`).  The rows of all slots together are the global
arrays of every replica, so a checkpoint also restarts on any other rank count or grouping
(:func:`read_restart_states`): each replica is rebuilt in tag order, whole on a group of one
rank, and on a group of several each rank reads only the particles it owns on the run's grid; the
domain set-up distributes them, as at a fresh start.  That continuation equals
the uninterrupted run within the engine's decomposition tolerance, and bitwise in
``decomposition.reproducible`` mode (tag-ordered sums on any rank count).

The file is written by all ranks to ``<path>.tmp``, closed, then renamed over ``<path>``
by rank 0 (``os.replace`` is atomic on POSIX): a checkpoint is never half-written, and the
previous one survives a kill during the write.  A write that fails on some ranks (disk full, quota)
fails on all: the ranks agree on every stage's outcome instead of meeting at a barrier that the
failed ones never reach, every rank raises the first failure, and the ``.tmp`` is removed.
"""
from __future__ import annotations

import os
from dataclasses import fields

import numpy as np

from pel_hpc.errors import CorruptFileError, InputFileError
from pel_hpc.io.h5md import allocated_early, open_h5, transfer_plist, write_rows
from pel_hpc.parallel.grid import kept_rows
from pel_hpc.state import PER_PARTICLE, State

PARTICLES = "particles"
RANKS = "ranks"
ATTR_COMPLETE = "complete"
ATTR_N_RANKS = "n_ranks"
ATTR_FORMAT = "format"
FORMAT = "pel_hpc checkpoint 1"


def _rank_fields(state: State) -> list[str]:
    return [f.name for f in fields(state) if f.name not in PER_PARTICLE]


def _slot_arrays(states) -> dict:
    """This rank's rows of every dataset: per-particle fields, then one row per slot of the rank fields."""
    out = {f"{PARTICLES}/{name}": np.concatenate([getattr(s, name)[: s.n_local] for s in states])
           for name in PER_PARTICLE}
    out.update({f"{RANKS}/{name}": np.stack([np.asarray(0 if name == "n_ghost" else getattr(s, name)) for s in states])
                for name in _rank_fields(states[0])})
    return out


def write_checkpoint(path, state, comm, extra: dict | None = None) -> None:
    """Write every rank's ``state`` (owned particles only) and ``extra`` scalars, then rename.

    ``state`` may be a list of states: a rank that runs several replicas stores one slot per
    replica (``ranks/<field>`` then has one row per slot, ``ranks/slots`` the slots of each rank).
    Rank 0 creates the datasets serially (space allocated at creation); then every rank
    writes its rows with independent MPI-IO, and the ``complete`` flag is set last.
    """
    states = list(state) if isinstance(state, (list, tuple)) else [state]
    tmp = f"{path}.tmp"
    per_rank = comm.allgather([int(s.n_local) for s in states])
    slots = np.concatenate([[0], np.cumsum([len(p) for p in per_rank])]).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum([c for p in per_rank for c in p])]).astype(np.int64)
    mine = np.arange(slots[comm.rank], slots[comm.rank + 1])
    rows = np.concatenate([np.arange(offsets[k], offsets[k + 1]) for k in mine]).astype(np.int64)
    arrays = _slot_arrays(states)

    def skeleton():
        _create_skeleton(tmp, arrays, int(offsets[-1]), int(slots[-1]), comm.size, extra)
        with open_h5(tmp, "r+") as f:
            f.create_dataset(f"{RANKS}/offset", data=offsets)
            f.create_dataset(f"{RANKS}/slots", data=slots)

    def rows_of_every_rank():
        dxpl = transfer_plist(comm, collective=False)
        with open_h5(tmp, "r+", comm) as f:  # independent writes; the close is collective and always reached
            for name, arr in arrays.items():
                write_rows(f[name], None, rows if name.startswith(PARTICLES) else mine, arr, dxpl)

    def complete():
        with open_h5(tmp, "r+") as f:
            f.attrs[ATTR_COMPLETE] = True
        os.replace(tmp, path)

    for stage, everywhere in ((skeleton, False), (rows_of_every_rank, True), (complete, False)):
        _agreed(comm, stage, everywhere, path)


def _agreed(comm, stage, everywhere: bool, path: str) -> None:
    """Run ``stage`` on every rank (or on rank 0 alone) and agree on its outcome: if it raised on any
    rank, rank 0 removes ``<path>.tmp`` and every rank raises the first failure (its own, or a copy;
    an OSError without a file name is given ``path``, which the run's one-line error then names)."""
    failure, tmp = None, f"{path}.tmp"
    if everywhere or comm.rank == 0:
        try:
            stage()
        except Exception as exc:  # noqa: BLE001 - handed to every rank below, then raised
            failure = exc
            if isinstance(exc, OSError) and exc.filename is None:  # h5py's: the message alone
                failure = OSError(exc.errno, exc.strerror or str(exc), path)
                failure.__cause__ = exc
    mine = None if failure is None else (isinstance(failure, OSError), getattr(failure, "errno", None),
                                         getattr(failure, "strerror", None) or str(failure),
                                         getattr(failure, "filename", None))
    reported = comm.allgather(mine)
    first = next((r for r in reported if r is not None), None)
    if first is None:
        return
    if comm.rank == 0 and os.path.exists(tmp):
        os.remove(tmp)
    if failure is not None:
        raise failure
    is_os, errno, text, filename = first
    raise OSError(errno, text, filename) if is_os else RuntimeError(text)


def _create_skeleton(path, arrays: dict, n_rows: int, n_slots: int, n_ranks: int, extra) -> None:
    """The checkpoint's datasets (no data yet) and attributes, created serially."""
    with open_h5(path, "w") as f:
        f.attrs[ATTR_FORMAT] = FORMAT
        f.attrs[ATTR_N_RANKS] = n_ranks
        for key, value in (extra or {}).items():
            f.attrs[key] = value
        for name, arr in arrays.items():
            length = n_rows if name.startswith(PARTICLES) else n_slots
            f.create_dataset(name, shape=(length,) + arr.shape[1:], dtype=arr.dtype, dcpl=allocated_early())


def read_checkpoint(path, comm) -> tuple[State, dict]:
    """This rank's :class:`State` and the ``extra`` scalars from a checkpoint of the same rank count.

    Raises
    ------
    InputFileError
        No checkpoint at ``path``, or one written by a different number of ranks.
    CorruptFileError
        Unreadable, truncated or incomplete file.
    """
    states, extra = read_checkpoint_states(path, comm)
    return states[0], extra


def read_checkpoint_states(path, comm) -> tuple[list, dict]:
    """All states (slots) of this rank, in the order written, and the ``extra`` scalars.

    Raises as :func:`read_checkpoint`.
    """
    with _open_complete(path) as f:
        if int(f.attrs[ATTR_N_RANKS]) != comm.size:
            raise InputFileError(f"checkpoint '{path}' was written by {int(f.attrs[ATTR_N_RANKS])} ranks; "
                                 f"restart it on the same number (this run has {comm.size})")
        slots = _slots(f)
        states = [_read_slot(f, int(k)) for k in range(slots[comm.rank], slots[comm.rank + 1])]
        extra = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()
                 if k not in (ATTR_FORMAT, ATTR_N_RANKS, ATTR_COMPLETE)}
    return states, extra


def read_restart_states(path, comm, replicas, group=None, keep=None) -> list:
    """Start states of ``replicas`` on this rank for ``--restart``, whatever the writing rank count.

    The exact per-rank states when the checkpoint was written by ``comm.size`` ranks holding
    ``replicas`` here (bitwise continuation); otherwise each replica's state in tag order
    (:func:`replica_state`), which the domain set-up distributes: whole, or with ``keep(box) ->
    (keep(x) -> mask)`` only the particles this rank of the replica ``group`` communicator owns
    (:func:`pel_hpc.parallel.grid.owned_by`), so that no rank holds a whole large system.

    Raises
    ------
    InputFileError
        No checkpoint at ``path``, or one without a requested replica.
    CorruptFileError
        Unreadable, truncated or incomplete file.
    """
    with _open_complete(path) as f:
        slots = _slots(f)
        same = int(f.attrs[ATTR_N_RANKS]) == comm.size
        mine = range(slots[comm.rank], slots[comm.rank + 1]) if same else range(0)
        exact = same and _slot_replicas(f)[list(mine)].tolist() == list(replicas)
        if comm.allreduce_min(int(exact)):  # every rank holds its replicas' exact arrays
            return [_read_slot(f, int(k)) for k in mine]
        return [replica_state(f, int(k), path, group, keep) for k in replicas]


def replica_state(f, replica: int, path="checkpoint", group=None, keep=None) -> State:
    """The state of ``replica`` (all its slots' rows, sorted by tag) from an open checkpoint; with
    ``keep`` (see :func:`read_restart_states`) only the rows it selects, read a chunk at a time, and
    the tags checked over the ``group`` communicator instead of on this rank."""
    which = np.flatnonzero(_slot_replicas(f) == replica)
    if not len(which):
        raise InputFileError(f"checkpoint '{path}' holds no replica {replica} "
                             f"(it has {sorted(set(_slot_replicas(f).tolist()))})")
    first = _read_slot_scalars(f, int(which[0]))
    mine = None if keep is None else keep(first["box"])
    parts = []
    for k in which:
        lo, hi = (int(v) for v in f[f"{RANKS}/offset"][k: k + 2])
        parts.append(kept_rows(hi - lo, lambda a, b, lo=lo: {name: f[f"{PARTICLES}/{name}"][lo + a: lo + b]
                                                             for name in ("x", "v", "typ", "tag", "image")},
                               mine)[1])
    rows = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    order = np.argsort(rows["tag"], kind="stable")
    rows = {name: r[order] for name, r in rows.items()}
    n_global = int(first["n_global"])
    if not _tags_once_each(rows["tag"], n_global, None if keep is None else group):
        raise CorruptFileError(f"'{path}': replica {replica} does not hold tags 0..{n_global - 1} once each")
    state = State.from_arrays(rows["x"], rows["typ"], first["box"], v=rows["v"], tag=rows["tag"], image=rows["image"],
                              step=int(first["step"]), nhc_eta=np.array(first["nhc_eta"]),
                              nhc_veta=np.array(first["nhc_veta"]), nhc_ke2=float(first["nhc_ke2"]),
                              seed=int(first["seed"]), replica=replica)
    state.n_global = n_global
    return state


def _tags_once_each(tags, n: int, group) -> bool:
    """Do the sorted ``tags`` (of this rank, or of all ranks of ``group``) hold 0 … n−1 once each?  Over a
    group: no repeat on a rank, and the count, sum and sum of squares of all ranks' tags (exact Python
    integers) are those of 0 … n−1."""
    if group is None:
        return np.array_equal(tags, np.arange(n))
    local = bool(np.all(np.diff(tags) > 0)) and (tags.size == 0 or (tags[0] >= 0 and tags[-1] < n))
    t = [int(v) for v in tags]
    sums = group.allgather((local, len(t), sum(t), sum(v * v for v in t)))
    totals = tuple(sum(s[k] for s in sums) for k in (1, 2, 3))
    return all(s[0] for s in sums) and totals == (n, n * (n - 1) // 2, (n - 1) * n * (2 * n - 1) // 6)


def _read_slot_scalars(f, slot: int) -> dict:
    """The rank fields of one slot (box, step, chain, seed, n_global, ...), without its particle rows."""
    return {name: f[f"{RANKS}/{name}"][slot] for name in f[RANKS] if name not in ("offset", "slots")}


def is_checkpoint(f) -> bool:
    """Is the open HDF5 file ``f`` a pel_hpc checkpoint (complete or not)?"""
    return f.attrs.get(ATTR_FORMAT) == FORMAT


def refuse_checkpoint(f, advice: str) -> None:
    """CorruptFileError if the open file ``f``, given where an output file belongs, is a checkpoint."""
    if is_checkpoint(f):
        raise CorruptFileError(f"'{f.filename}' is a checkpoint, not an output file: {advice}")


def describe_checkpoint(f) -> list[str]:
    """Lines of ``pel-hpc info`` for an open checkpoint ``f``: writers, each replica's particles, step
    and box [sigma]."""
    complete = bool(f.attrs.get(ATTR_COMPLETE, False))
    ranks = f"written by {int(f.attrs[ATTR_N_RANKS])} ranks"
    if not complete:
        return [f"  pel_hpc checkpoint, INCOMPLETE (a write was interrupted): not restartable; {ranks}"]
    lines = [f"  pel_hpc checkpoint, complete: continue with --restart; {ranks}"]
    replicas, box = _slot_replicas(f), f[f"{RANKS}/box"][...]
    n_global, step = f[f"{RANKS}/n_global"][...], f[f"{RANKS}/step"][...]
    for r in sorted(set(replicas.tolist())):
        k = int(np.flatnonzero(replicas == r)[0])
        lines.append(f"  replica {r}: {int(n_global[k])} particles, step {int(step[k])}, "
                     f"box edges {[round(float(e), 6) for e in box[k]]}")
    return lines


def _open_complete(path):
    """The checkpoint at ``path`` opened for reading (serially), if it exists and is complete."""
    if not os.path.isfile(path):
        raise InputFileError(f"no checkpoint '{path}' to restart from")
    f = open_h5(path, "r")
    if not is_checkpoint(f) or not f.attrs.get(ATTR_COMPLETE, False):
        f.close()
        raise CorruptFileError(f"'{path}' is not a complete pel_hpc checkpoint")
    return f


def _slots(f) -> np.ndarray:
    """(n_ranks + 1,) first slot of each writing rank (one slot per rank in old files)."""
    return f[f"{RANKS}/slots"][...] if "slots" in f[RANKS] else np.arange(int(f.attrs[ATTR_N_RANKS]) + 1)


def _slot_replicas(f) -> np.ndarray:
    """The replica of every slot."""
    return np.asarray(f[f"{RANKS}/replica"][...]).reshape(-1)


def _read_slot(f, slot: int) -> State:
    lo, hi = f[f"{RANKS}/offset"][slot: slot + 2]
    kw = {name: f[f"{PARTICLES}/{name}"][lo:hi] for name in PER_PARTICLE}
    kw.update({k: v if np.ndim(v) else v.item() for k, v in _read_slot_scalars(f, slot).items()})
    known = {field.name for field in fields(State)}
    return State(**{k: v for k, v in kw.items() if k in known})


def checkpoint_step(path) -> int | None:
    """The step of a complete checkpoint at ``path``, or None if there is none (for job scripts)."""
    if not os.path.isfile(path):
        return None
    try:
        with open_h5(path, "r") as f:
            return int(f[f"{RANKS}/step"][0]) if f.attrs.get(ATTR_COMPLETE, False) else None
    except (CorruptFileError, KeyError, OSError):
        return None
