"""Serial readers of pel_hpc H5MD files: one frame for a start configuration, file summaries.

Used by deck validation (:func:`frame_info`), the engine's initial configuration
(:func:`read_frame`) and ``pel-hpc info`` (:func:`describe`).  Names come from
:mod:`pel_hpc.io.layout`; a missing group or a truncated file is a
:class:`~pel_hpc.errors.CorruptFileError` with a one-line message.
"""
from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np

from pel_hpc.errors import CorruptFileError, DeckError
from pel_hpc.io import checkpoint, layout as L
from pel_hpc.io.h5md import open_h5
from pel_hpc.parallel.grid import kept_rows

SOURCES = {"position": L.POSITION, "inherent_structure": L.INHERENT_STRUCTURE}


@dataclass(frozen=True)
class Frame:
    """One configuration in tag order.

    Attributes
    ----------
    x : (N, 3) float64 positions [sigma] (wrapped; inherent structures as stored)
    image : (N, 3) int32 image counters (zeros for inherent structures)
    species : (N,) int32, 0 = A, 1 = B
    box : (3,) float64 edges [sigma]
    step : int MD step of the frame
    v : (N, 3) float64 velocities [sigma/tau] if stored at the same step, else None
    tag : the particles' tags (rows of the frame) if only some were read (``read_frame(keep=...)``),
        else None (all N, tags 0 … N−1)
    """

    x: np.ndarray
    image: np.ndarray
    species: np.ndarray
    box: np.ndarray
    step: int
    v: np.ndarray | None
    tag: np.ndarray | None = None


def _get(f: h5py.File, path: str):
    try:
        return f[path]
    except KeyError:
        raise CorruptFileError(f"'{f.filename}' has no '{path}' (not a pel_hpc H5MD file?)") from None


def stored(f: h5py.File, path: str, what: str, why: str):
    """``f[path]`` of a file of ours, or the CorruptFileError "'<file>' holds no <what>: <why>" when its run
    did not store it (``why`` names the deck key that was 0)."""
    if path not in f:
        raise CorruptFileError(f"'{f.filename}' holds no {what}: {why}")
    return f[path]


def _element(f, source: str, replica: int):
    checkpoint.refuse_checkpoint(f, "start from the run's output file, or continue the run with --restart")
    n_replicas = len(_get(f, L.PARTICLES))
    if not 0 <= replica < n_replicas:
        raise DeckError(f"system.init.replica: {replica}, but '{f.filename}' holds replicas 0 to {n_replicas - 1}")
    key = "output.is_positions" if source == "inherent_structure" else "output.positions"
    return stored(f, L.element_path(replica, SOURCES[source]), f"{source.replace('_', ' ')} frames",
                  f"its run stored none ({key}: 0 in its deck)")


def written_frames(group) -> int:
    """Rows of a time series that hold data: all but the trailing preallocated rows a killed run
    left (``step`` = :data:`~pel_hpc.io.layout.UNWRITTEN_STEP`, see :mod:`pel_hpc.io.plan`)."""
    steps = group[L.STEP][...]
    return int(np.searchsorted(steps, L.UNWRITTEN_STEP)) if len(steps) and steps[-1] == L.UNWRITTEN_STEP \
        else len(steps)


def stored_deck(f) -> str:
    """The deck text a pel_hpc file stores for provenance (``parameters/deck``): the deck the run
    started with (its physics hold for the whole run, :mod:`pel_hpc.deck.restart`)."""
    return _text(_get(f, f"{L.PARAMETERS}/{L.DECK}"))


def run_deck_text(f) -> str:
    """The deck the run last used: that of its latest restart that changed it, else :func:`stored_deck`."""
    restarts = f.get(f"{L.PARAMETERS}/{L.RESTART_DECKS}")
    if restarts is not None and len(restarts):
        return _text(restarts[sorted(restarts)[-1]])
    return stored_deck(f)


def _text(dset) -> str:
    raw = dset[()]
    return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)


def frame_info(path, source: str = "position", replica: int = 0) -> tuple[int, int, np.ndarray]:
    """(N, number of written frames of ``source``, box edges) of one replica of a file."""
    with open_h5(path, "r") as f:
        group = _element(f, source, replica)
        n_frames, n = written_frames(group), group[L.VALUE].shape[1]
        box = _get(f, f"{L.box_path(replica)}/{L.EDGES}")[...]
    return int(n), int(n_frames), np.asarray(box, dtype=np.float64)


def read_frame(path, frame: int = -1, source: str = "position", replica: int = 0, keep=None) -> Frame:
    """One frame (negative indices count from the end) of a replica, in tag order.

    ``keep(box) -> (keep(x) -> mask)`` (e.g. "owned by this rank", :func:`pel_hpc.parallel.grid.owned_by`)
    reads the frame a chunk of rows at a time and keeps the particles selected (``Frame.tag`` says
    which), so that no process holds a whole large frame."""
    with open_h5(path, "r") as f:
        group = _element(f, source, replica)
        n_frames = written_frames(group)
        if not -n_frames <= frame < n_frames:
            raise CorruptFileError(f"'{path}' has {n_frames} frames of {source}, no frame {frame}")
        frame %= n_frames
        step = int(group[L.STEP][frame])
        box = _get(f, f"{L.box_path(replica)}/{L.EDGES}")[...]
        species = _get(f, f"{L.particles_path(replica)}/{L.SPECIES}")
        series = {"x": (group[L.VALUE], frame)}  # time series: (dataset, row of this frame)
        if source == "position" and L.IMAGE in f[L.particles_path(replica)]:
            series["image"] = (f[L.element_path(replica, L.IMAGE)][L.VALUE], frame)
        v_row = _velocity_row(f, replica, step)
        if v_row is not None:
            series["v"] = (f[L.element_path(replica, L.VELOCITY)][L.VALUE], v_row)
        n = series["x"][0].shape[1]

        def rows(lo, hi):
            return {"species": species[lo:hi], **{k: d[t, lo:hi] for k, (d, t) in series.items()}}

        tag, got = kept_rows(n, rows, None if keep is None else keep(box))
        tag = None if keep is None else tag
        image = got["image"] if "image" in got else np.zeros((len(got["x"]), 3), np.int32)
        return Frame(got["x"], image, got["species"], box, step, got.get("v"), tag)


def _velocity_row(f, replica: int, step: int):
    """Row of the replica's velocity time series at ``step``, or None (none stored then)."""
    path = L.element_path(replica, L.VELOCITY)
    if path not in f:
        return None
    hits = np.flatnonzero(f[path][L.STEP][...] == step)
    return int(hits[0]) if len(hits) else None


def describe(path) -> str:
    """A human-readable summary of a file: replicas, elements, frames, steps, provenance."""
    lines = [f"{path}"]
    with open_h5(path, "r") as f:
        if checkpoint.is_checkpoint(f):
            return "\n".join(lines + checkpoint.describe_checkpoint(f))
        version = _get(f, L.H5MD).attrs.get(L.ATTR_VERSION)
        lines.append(f"  H5MD version {[int(v) for v in version] if version is not None else '?'}")
        if L.PARAMETERS in f:
            attrs = f[L.PARAMETERS].attrs
            lines.append(f"  pel_hpc {attrs.get(L.ATTR_PACKAGE_VERSION)}, commit {attrs.get(L.ATTR_GIT_COMMIT)}, "
                         f"{attrs.get(L.ATTR_N_RANKS)} ranks")
        for top in (L.PARTICLES, L.OBSERVABLES):
            for name, group in _get(f, top).items():
                lines.append(f"  {top}/{name}")
                lines.extend(_describe_group(group))
    return "\n".join(lines)


def _describe_group(group) -> list[str]:
    lines = []
    for name, item in group.items():
        if isinstance(item, h5py.Group) and L.VALUE in item:
            steps = item[L.STEP][: written_frames(item)]
            span = f"steps {steps[0]}…{steps[-1]}" if len(steps) else "empty"
            lines.append(f"    {name:28s} {str(item[L.VALUE].shape):18s} {len(steps)} frames, {span}")
        elif isinstance(item, h5py.Dataset):
            lines.append(f"    {name:28s} {str(item.shape):18s} {item.dtype}")
        elif name == L.BOX:
            lines.append(f"    box edges {[round(float(e), 6) for e in item[L.EDGES][...]]}")
    return lines
