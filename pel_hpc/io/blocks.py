"""Buffered frames of per-particle rows → one dense block of rows per rank, for one collective write.

Each rank holds, for every buffered frame, the rows of the particles it owned at that step
(``{replica: (tags, values)}``; ownership changes between frames as particles migrate).
:func:`dense_blocks` sends every row, in one ``alltoall`` for the whole block, to the rank
that owns its tag in the write layout: rank k holds the contiguous tags
``[kN/P, (k+1)N/P)`` (:func:`tag_bounds`) of every replica, so it then writes one
hyperslab ``(frames, tags, 3)`` per replica and block.  Nothing is gathered to rank 0.
"""
from __future__ import annotations

import numpy as np


def tag_bounds(n: int, size: int) -> np.ndarray:
    """(size + 1,) first tag of each rank's block of rows, then ``n``."""
    return np.arange(size + 1, dtype=np.int64) * n // size


def _stacked(frames: list, replica: int):
    """(frame index, tag, value) of this rank's rows of ``replica`` over all buffered frames."""
    held = [(j, parts[replica]) for j, parts in enumerate(frames) if replica in parts]
    if not held:
        return None
    which = np.concatenate([np.full(len(tags), j, np.int64) for j, (tags, _) in held])
    tags = np.concatenate([tags for _, (tags, _) in held])
    values = np.concatenate([values for _, (_, values) in held])
    return which, tags, values


def _route(stacked, bounds: np.ndarray) -> list:
    """Split ``stacked`` rows by the rank that writes their tag (one piece per rank)."""
    which, tags, values = stacked
    dest = np.searchsorted(bounds, tags, side="right") - 1
    order = np.argsort(dest, kind="stable")
    cuts = np.cumsum(np.bincount(dest, minlength=len(bounds) - 1))[:-1]
    return [(which[idx], tags[idx], values[idx]) for idx in np.split(order, cuts)]


def dense_blocks(comm, n: int, frames: list, replicas: int, inner: tuple, dtype) -> dict:
    """``{replica: (len(frames), hi - lo, *inner) array}`` of this rank's tag block ``[lo, hi)``.

    Collective over ``comm`` (one ``alltoall``); every rank passes the same number of frames.

    Raises
    ------
    RuntimeError
        When the frames do not cover every tag of the block exactly once (a writer bug).
    """
    size, rank = comm.size, comm.rank
    bounds = tag_bounds(n, size)
    send = [{} for _ in range(size)]
    for r in range(replicas):
        stacked = _stacked(frames, r)
        if stacked is not None:
            for k, piece in enumerate(_route(stacked, bounds)):
                if len(piece[1]):
                    send[k][r] = piece
    got = comm.alltoall(send) if size > 1 else send
    lo, hi = int(bounds[rank]), int(bounds[rank + 1])
    out = {r: np.empty((len(frames), hi - lo) + tuple(inner), dtype) for r in range(replicas)}
    filled = dict.fromkeys(out, 0)
    for pieces in got:
        for r, (which, tags, values) in pieces.items():
            out[r][which, tags - lo] = values
            filled[r] += len(tags)
    short = [r for r in out if filled[r] != out[r].shape[0] * out[r].shape[1]]
    if short:
        raise RuntimeError(f"buffered frames cover {filled[short[0]]} of {out[short[0]].shape[:2]} rows "
                           f"of replica {short[0]} on rank {rank}")
    return out
