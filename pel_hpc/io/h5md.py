"""Collective H5MD 1.1 writer: every rank writes its own rows, nothing is gathered to rank 0.

The file is opened by all ranks of the run's communicator with ``driver="mpio"`` (serial runs
open it plainly).  Every call here is made by all ranks in the same order with the same step
(metadata operations and data transfers are collective, see :func:`transfer_plist`); a rank
contributes the rows of the particles it owns (by global tag) for its own replica and an
empty selection for the others.  Time series are chunked datasets preallocated at the
deck's row count (:mod:`pel_hpc.io.plan`) and written in blocks of rows (:func:`write_block`);
``step``/``time`` are shared by hard links among elements of the same cadence.  Names come
from :mod:`pel_hpc.io.layout`.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import h5py
import numpy as np

from pel_hpc import __version__, units
from pel_hpc.errors import CorruptFileError, FileInUseError, InputFileError, OutputExistsError
from pel_hpc.io import layout as L
from pel_hpc.io.plan import CLOCK_CHUNK

ELEMENT_UNITS = {L.POSITION: units.LENGTH, L.IMAGE: units.DIMENSIONLESS, L.VELOCITY: units.VELOCITY,
                 L.INHERENT_STRUCTURE: units.LENGTH}
OBSERVABLE_UNITS = {L.POTENTIAL_ENERGY: units.ENERGY, L.KINETIC_ENERGY: units.ENERGY,
                    L.CONSERVED_ENERGY: units.ENERGY, L.TEMPERATURE: units.TEMPERATURE,
                    L.PRESSURE: units.PRESSURE, L.IS_ENERGY: units.ENERGY}
PER_PARTICLE = (L.POTENTIAL_ENERGY, L.KINETIC_ENERGY, L.CONSERVED_ENERGY, L.IS_ENERGY)


def open_h5(path, mode: str, comm=None) -> h5py.File:
    """Open an HDF5 file on all ranks of ``comm`` (mpio when it has more than one rank).

    Raises
    ------
    InputFileError
        Reading (``r``, ``r+``) a file that does not exist.
    FileInUseError
        Another process holds the file open (HDF5's file lock), e.g. a job writing it.
    OutputExistsError
        Creating (``x``) a file that exists.
    CorruptFileError
        The file exists but is not readable HDF5 (e.g. truncated).
    """
    if mode in ("r", "r+") and not Path(path).exists():
        raise InputFileError(f"no such file: '{path}'")
    try:
        if comm is not None and comm.size > 1:  # no raw-data chunk cache: see pel_hpc.io.plan
            return h5py.File(path, mode, driver="mpio", comm=comm.raw, rdcc_nbytes=0)
        return h5py.File(path, mode)
    except FileExistsError:
        raise OutputExistsError(f"'{path}' was created by another process meanwhile (another run writing the "
                                f"same file?)") from None
    except OSError as exc:
        if isinstance(exc, BlockingIOError) or "unable to lock file" in str(exc):  # HDF5's lock refusal
            raise FileInUseError(f"'{path}' is open in another process (HDF5 file lock): a job still writing it? "
                                 f"Wait until it has ended") from None
        if Path(path).exists() and mode not in ("w", "x"):
            raise CorruptFileError(f"'{path}' is not a readable HDF5 file ({exc.__class__.__name__}: "
                                   f"{str(exc).splitlines()[0][:120]})") from None
        raise


def create_file(path, replace: bool = False) -> h5py.File:
    """Create ``path`` for writing (serial, rank 0) without ever truncating a file in use.

    HDF5's ``w`` mode truncates before it takes its file lock, so it would destroy the file of a job
    still writing it; here an existing file is replaced only with ``replace`` (``--overwrite``) and
    only if HDF5 can lock it (:class:`FileInUseError` otherwise), by unlinking it (a corrupt file
    too); the new file is created exclusively (``x``: :class:`OutputExistsError` if another process
    created it in between).
    """
    path = Path(path)
    if path.exists():
        if not replace:
            raise OutputExistsError(f"output file '{path}' exists (created after this run checked for it: "
                                    f"another run writing the same file?)")
        try:
            open_h5(path, "r+").close()  # HDF5's own lock decides whether anyone holds it
        except CorruptFileError:
            pass  # not HDF5 (or truncated): nothing to protect
        path.unlink()
    return open_h5(path, "x")


def transfer_plist(comm, collective: bool = False):
    """Data-transfer property list: MPI-IO collective (the default everywhere) or independent.

    Each rank writes one contiguous block of rows per dataset and block of frames
    (:mod:`pel_hpc.io.writer`).  Rows lost under mpio were caused by shrinking a dataset
    between writes, with either transfer mode (see :mod:`pel_hpc.io.plan`), not by the mode;
    ``benchmarks/bench_io.py`` measures and verifies both.  Metadata operations (create,
    resize) are always collective.
    """
    if comm is None or comm.size == 1:
        return None
    dxpl = h5py.h5p.create(h5py.h5p.DATASET_XFER)
    dxpl.set_dxpl_mpio(h5py.h5fd.MPIO_COLLECTIVE if collective else h5py.h5fd.MPIO_INDEPENDENT)
    return dxpl


def write_rows(dset, frame, rows, values, dxpl=None) -> None:
    """Collectively write ``values[k]`` into row ``rows[k]`` of ``dset[frame]`` (or ``dset`` if frame is None).

    ``rows`` must be sorted and unique; runs of consecutive rows become one hyperslab each.
    A rank with no rows takes part with an empty selection (required by collective I/O).
    """
    fspace = dset.id.get_space()
    tail = dset.shape[2:] if frame is not None else dset.shape[1:]
    lead = () if frame is None else (frame,)
    if len(rows) == 0 or np.size(values) == 0:
        fspace.select_none()
        mspace = h5py.h5s.create_simple((1,))
        mspace.select_none()
        dset.id.write(mspace, fspace, np.zeros(1, dset.dtype), dxpl=dxpl)
        return
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    op = h5py.h5s.SELECT_SET
    for run in np.split(rows, breaks):
        start = lead + (int(run[0]),) + (0,) * len(tail)
        count = (1,) * len(lead) + (len(run),) + tuple(tail)
        fspace.select_hyperslab(start, count, op=op)
        op = h5py.h5s.SELECT_OR
    data = np.ascontiguousarray(values, dtype=dset.dtype)
    mspace = h5py.h5s.create_simple(data.shape)
    dset.id.write(mspace, fspace, data, dxpl=dxpl)


def write_block(dset, start: tuple, data, dxpl=None) -> None:
    """Collectively write ``data`` into the box of ``dset`` that starts at ``start`` (one hyperslab).

    ``data`` None or empty: this rank takes part with an empty selection (collective I/O).
    """
    fspace = dset.id.get_space()
    if data is None or np.size(data) == 0:
        fspace.select_none()
        mspace = h5py.h5s.create_simple((1,))
        mspace.select_none()
        dset.id.write(mspace, fspace, np.zeros(1, dset.dtype), dxpl=dxpl)
        return
    data = np.ascontiguousarray(data, dtype=dset.dtype)
    start = tuple(int(s) for s in start) + (0,) * (data.ndim - len(start))
    fspace.select_hyperslab(start, data.shape)
    dset.id.write(h5py.h5s.create_simple(data.shape), fspace, data, dxpl=dxpl)


def git_commit() -> str:
    """The git commit of the sources, with ``-dirty`` appended (git describe's mark) when tracked files of
    ``pel_hpc/`` or ``postprocess/`` differ from it: a result made by modified code says so.  "unknown"
    outside a work tree."""
    root = Path(__file__).resolve().parents[2]

    def git(*args) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        if not commit:
            return "unknown"
        return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no", "--", "pel_hpc",
                                         "postprocess") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write_header(f: h5py.File, deck_text: str, n_ranks: int, replicas: int, commit: str) -> None:
    """The ``h5md`` group (version, author, creator) and the provenance ``parameters`` group."""
    h5md = f.require_group(L.H5MD)
    h5md.attrs[L.ATTR_VERSION] = np.array(L.H5MD_VERSION, dtype=np.int32)
    f.require_group(L.AUTHOR).attrs[L.ATTR_NAME] = "pel_hpc user"
    creator = f.require_group(L.CREATOR_GROUP)
    creator.attrs[L.ATTR_NAME] = L.CREATOR
    creator.attrs[L.ATTR_VERSION] = __version__
    params = f.require_group(L.PARAMETERS)
    _write_text(params, L.DECK, deck_text)
    params.attrs[L.ATTR_PACKAGE_VERSION] = __version__
    params.attrs[L.ATTR_GIT_COMMIT] = commit
    params.attrs[L.ATTR_N_RANKS] = n_ranks
    params.attrs[L.ATTR_REPLICAS] = replicas


def record_restart_deck(f: h5py.File, step: int, deck_text: str) -> None:
    """Keep the deck of a restart at ``step`` that changed the run's deck (``parameters/restart_decks/<step>``,
    :mod:`pel_hpc.deck.restart`); collective on a parallel file."""
    group = f.require_group(f"{L.PARAMETERS}/{L.RESTART_DECKS}")
    name = f"{int(step):012d}"  # zero-padded: HDF5's name order is step order
    if name in group:  # a restart from the same checkpoint again
        del group[name]
    _write_text(group, name, deck_text)


def _write_text(group: h5py.Group, name: str, text: str) -> None:
    raw = text.encode("utf-8")  # fixed-length: parallel HDF5 cannot write variable-length data
    group.create_dataset(name, data=np.array(raw, dtype=h5py.string_dtype("utf-8", max(1, len(raw)))))


def write_box(f: h5py.File, replica: int, edges) -> None:
    """``particles/<group>/box`` with dimension, boundary and a fixed (3,) ``edges`` dataset."""
    box = f.require_group(L.box_path(replica))
    box.attrs[L.ATTR_DIMENSION] = np.int32(3)
    box.attrs[L.ATTR_BOUNDARY] = np.array([L.PERIODIC] * 3, dtype=h5py.string_dtype())
    box.create_dataset(L.EDGES, data=np.asarray(edges, dtype=np.float64).reshape(3))
    box[L.EDGES].attrs[L.ATTR_UNIT] = units.LENGTH


def allocated_early():
    """Dataset-creation list that allocates every chunk at creation and extension.

    A chunked dataset created serially (default: chunks allocated when first written) and
    later written under mpio fails in HDF5 1.10.8 ("MPI_File_set_view failed: invalid
    datatype"; the serial-to-parallel allocation bug fixed in HDF5 PR #3394), which a
    serial run restarted on several ranks would hit.  Without fill values it costs no writes.
    """
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    return dcpl


def create_clock(group: h5py.Group, rows: int) -> None:
    """``step`` (int64, unwritten rows :data:`~pel_hpc.io.layout.UNWRITTEN_STEP`) and ``time``
    (float64, [tau]) datasets of ``rows`` rows in ``group``, extendible."""
    group.create_dataset(L.STEP, shape=(rows,), maxshape=(None,), chunks=(CLOCK_CHUNK,), dtype=np.int64,
                         fillvalue=L.UNWRITTEN_STEP, dcpl=allocated_early())
    group.create_dataset(L.TIME, shape=(rows,), maxshape=(None,), chunks=(CLOCK_CHUNK,), dtype=np.float64,
                         fill_time="never", dcpl=allocated_early())
    group[L.TIME].attrs[L.ATTR_UNIT] = units.TIME


def link_clock(group: h5py.Group, source: h5py.Group) -> None:
    """Hard-link ``source``'s ``step`` and ``time`` into ``group`` (a shared cadence)."""
    group[L.STEP] = source[L.STEP]
    group[L.TIME] = source[L.TIME]


def create_series(f: h5py.File, path: str, inner: tuple, dtype, unit: str, clock_of: str | None,
                  rows: int = 0, chunk: int = CLOCK_CHUNK):
    """A time-dependent element ``path``: ``value`` of shape (rows, *inner), chunks of ``chunk`` rows.

    ``value`` has no fill (``step`` marks unwritten rows), so preallocating costs no writes.
    """
    group = f.require_group(path)
    group.create_dataset(L.VALUE, shape=(rows,) + inner, maxshape=(None,) + inner, chunks=(chunk,) + inner,
                         dtype=dtype, fill_time="never", dcpl=allocated_early())
    if unit:
        group[L.VALUE].attrs[L.ATTR_UNIT] = unit
    if clock_of is None:
        create_clock(group, rows)
    else:
        link_clock(group, f[clock_of])
    return group
