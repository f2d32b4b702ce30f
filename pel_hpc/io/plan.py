"""The shape of a run's output, known from the deck before the first step.

The writer preallocates every time series at the number of rows the deck will produce
(:func:`rows_of`), chunks it (:func:`chunk_rows`) and buffers rows in memory, writing them
in blocks (:func:`block_rows`): one collective write per dataset per block instead of one
per frame.  A pure module: no h5py, no MPI.

Why preallocate instead of growing and trimming: shrinking a dataset (``H5Dset_extent``)
under the MPI-IO driver of HDF5 1.10.8 breaks the file in two ways, both reproduced here.

* Lost rows.  Raw-data writes bypass the chunk cache under mpio, but the shrink reads the
  chunk cut by the new end into the cache to reset its tail to the fill value.  Rows written
  into that chunk later go to disk past the cached copy, and when the copy is flushed (file
  flush or close) it overwrites them with stale data.  Growing in blocks and trimming at
  every checkpoint lost every row written after the first trim into the same chunk, with
  collective and independent transfers alike, on 1 rank under mpio as on 2.  Opening
  without a raw-data chunk cache (``rdcc_nbytes=0``) removes the stale copy.
* A hang at close.  A shrink that frees whole chunks at the end of the file leaves the ranks
  with different ends of allocation; the close then calls ``MPI_File_set_size`` on some
  ranks and ``MPI_Barrier`` on others (``H5FD_mpio_truncate``) and never returns.

So a parallel file is never shrunk: datasets are preallocated at the rows the deck will
write, extended if a run writes more, and trimmed to the written rows by rank 0 on the
closed file, opened serially (:meth:`pel_hpc.io.writer.H5MDWriter.close`).  The parallel
file is still opened without the chunk cache.  ``tests/mpi/test_output_blocks.py`` checks
every row of blocked, re-opened and extended output on 2 and 4 ranks.
"""
from __future__ import annotations

CHUNK_BYTES = 1 << 20  # target bytes of one chunk of a per-particle ``value`` dataset
BUFFER_BYTES = 8 << 20  # bytes of one element's frames (all replicas) held in memory at most
OBSERVABLE_BLOCK = 4096  # scalar rows held in memory per observable at most
CLOCK_CHUNK = 1024  # rows per chunk of ``step``/``time`` and scalar ``value`` datasets


def rows_of(cfg, every: int) -> int:
    """Number of rows a series with cadence ``every`` (MD steps) gets over the deck's stages.

    A stage of ``output: true`` writes at every multiple of ``every`` in (start, end], and
    the first stage run also at its start step; the start step of a later stage was acted by
    the stage before it (see :meth:`pel_hpc.simulation.Simulation.run`).  Example: stages of
    300 steps (``output: false``) and 1200 steps, ``every`` = 100: rows at steps 400 … 1500.
    """
    if every <= 0:
        return 0
    rows, first = 0, True
    for i, stage in enumerate(cfg.stages):
        if stage.steps <= 0:
            continue
        start = cfg.stage_start(i)
        lo = start if first else start + 1
        first = False
        if stage.output:
            rows += (start + stage.steps) // every - (lo - 1) // every
    return rows


def chunk_rows(row_bytes: int, rows: int) -> int:
    """Rows per chunk: about :data:`CHUNK_BYTES`, at least 1, at most the preallocated rows."""
    return max(1, min(max(rows, 1), CHUNK_BYTES // max(row_bytes, 1)))


def block_rows(frame_bytes: int) -> int:
    """Frames of one element buffered before a block write (all replicas within :data:`BUFFER_BYTES`)."""
    return max(1, BUFFER_BYTES // max(frame_bytes, 1))
