"""Export one replica as a standalone H5MD file with a single particles group.

Common H5MD readers (MDAnalysis, VMD's plugin) open only the first group under
``particles``; this copies ``particles/replica_k`` and ``observables/replica_k`` together
with the ``h5md`` and ``parameters`` groups into a new file, keeping the group name and
the hard-linked ``step``/``time`` datasets (one HDF5 object copy per group).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pel_hpc.errors import CorruptFileError, DeckError, InputFileError, OutputExistsError
from pel_hpc.io.checkpoint import refuse_checkpoint
from pel_hpc.io import layout as L
from pel_hpc.io.h5md import open_h5


def export_replica(path, out, replica: int = 0, mdanalysis: bool = False, overwrite: bool = False) -> None:
    """Write replica ``replica`` of ``path`` to ``out`` as a single-group H5MD 1.1 file.

    ``out`` is written as ``out.tmp`` and renamed when complete, so it is never half-written; an
    existing ``out`` is replaced only with ``overwrite`` (OutputExistsError otherwise), and never
    when it is ``path`` itself.

    ``mdanalysis`` adapts the copy to MDAnalysis' H5MD reader (2.x), which departs from the
    spec in three ways: it refuses unit strings it does not know (our reduced "sigma",
    "tau"), so ``unit`` attributes are dropped; it reads ``box/edges`` only as a time series,
    so the fixed edges become ``edges/{step,time,value}`` on the position clock; and it reads
    velocities at the position frame index, so velocities at another cadence are dropped.
    """
    out = Path(out)
    if out.exists() and Path(path).exists() and os.path.samefile(out, path):
        raise OutputExistsError(f"'{out}' is the file being exported: choose another output file")
    if out.exists() and not overwrite:
        raise OutputExistsError(f"output file '{out}' exists: replace it with --overwrite")
    if not out.absolute().parent.is_dir():
        raise InputFileError(f"output folder '{out.absolute().parent}' does not exist")
    tmp = out.with_name(out.name + ".tmp")
    with open_h5(path, "r") as src:
        refuse_checkpoint(src, "export from the run's output file")
        if L.PARTICLES not in src or not len(src[L.PARTICLES]):
            raise CorruptFileError(f"'{path}' has no '{L.PARTICLES}' group: not a pel_hpc H5MD output file")
        if L.particles_path(replica) not in src:
            raise DeckError(f"--replica {replica}: '{path}' holds replicas 0 to {len(src[L.PARTICLES]) - 1}")
        try:
            with open_h5(tmp, "w") as dst:
                for name in (L.H5MD, L.PARAMETERS):
                    if name in src:
                        src.copy(src[name], dst, name=name)
                for top in (L.PARTICLES, L.OBSERVABLES):
                    path_k = f"{top}/{L.replica_group(replica)}"
                    if path_k in src:
                        src.copy(src[path_k], dst.require_group(top), name=L.replica_group(replica))
                if mdanalysis:
                    _adapt_for_mdanalysis(dst[L.particles_path(replica)])
                    dst.visititems(_drop_unit)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    os.replace(tmp, out)


def _adapt_for_mdanalysis(group) -> None:
    """Time-dependent box edges on the position clock; drop velocities on another clock."""
    pos = group[L.POSITION]
    edges = group[f"{L.BOX}/{L.EDGES}"][...]
    del group[f"{L.BOX}/{L.EDGES}"]
    series = group.require_group(f"{L.BOX}/{L.EDGES}")
    series[L.STEP], series[L.TIME] = pos[L.STEP], pos[L.TIME]
    series.create_dataset(L.VALUE, data=np.tile(edges, (pos[L.STEP].shape[0], 1)))
    vel = group.get(L.VELOCITY)
    if vel is not None and not np.array_equal(vel[L.STEP][...], pos[L.STEP][...]):
        del group[L.VELOCITY]


def _drop_unit(name, obj) -> None:
    if L.ATTR_UNIT in obj.attrs:
        del obj.attrs[L.ATTR_UNIT]
