"""Export one replica as a standalone H5MD file with a single particles group.

Common H5MD readers (MDAnalysis, VMD's plugin) open only the first group under
``particles``; this copies ``particles/replica_k`` and ``observables/replica_k`` together
with the ``h5md`` and ``parameters`` groups into a new file, keeping the group name and
the hard-linked ``step``/``time`` datasets (one HDF5 object copy per group).
"""
from __future__ import annotations

from pel_hpc.errors import CorruptFileError
from pel_hpc.io import layout as L
from pel_hpc.io.h5md import open_h5


def export_replica(path, out, replica: int = 0) -> None:
    """Write replica ``replica`` of ``path`` to ``out`` as a single-group H5MD 1.1 file."""
    with open_h5(path, "r") as src:
        if L.particles_path(replica) not in src:
            n = len(src[L.PARTICLES]) if L.PARTICLES in src else 0
            raise CorruptFileError(f"'{path}' has {n} replica groups, no replica {replica}")
        with open_h5(out, "w") as dst:
            for name in (L.H5MD, L.PARAMETERS):
                if name in src:
                    src.copy(src[name], dst, name=name)
            for top in (L.PARTICLES, L.OBSERVABLES):
                path_k = f"{top}/{L.replica_group(replica)}"
                if path_k in src:
                    src.copy(src[path_k], dst.require_group(top), name=L.replica_group(replica))
