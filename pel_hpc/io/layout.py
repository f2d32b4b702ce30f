"""The H5MD 1.1 layout of pel_hpc files: the only place group, dataset and attribute names are spelled.

Used by the writer (:mod:`pel_hpc.io.h5md`), the checkpoint code, the readers
(:mod:`pel_hpc.io.reader`) and the post-processing (``postprocess/io.py``).  A pure module:
it imports neither h5py nor mpi4py.

File layout (H5MD 1.1, https://www.nongnu.org/h5md/h5md.html)::

    /h5md                         attrs version = [1, 1]
        author                    attrs name
        creator                   attrs name = "pel_hpc", version
    /particles/replica_000        one particles group per replica (ensemble member), "replica_%03d"
        box                       attrs dimension = 3, boundary = ["periodic"] * 3
            edges                 (3,) float64 [sigma]  (fixed box: time-independent)
        species                   (N,) int32, 0 = A, 1 = B (time-independent, particles in tag order)
        mass                      (N,) float64 [m]
        position/{step,time,value}          value (frames, N, 3) float64 [sigma], wrapped into the box
        image/{step,time,value}             value (frames, N, 3) int32; unwrapped = position + image·edges
        velocity/{step,time,value}          value (frames, N, 3) float64 [sigma/tau]
        inherent_structure/{step,time,value} value (frames, N, 3) float64 [sigma], IS positions
    /observables/replica_000      scalar time series, per particle where the name says so
        potential_energy, kinetic_energy, conserved_energy     {step,time,value} [epsilon] per particle
        temperature [epsilon/k_B], pressure [epsilon/sigma^3]  {step,time,value}
        inherent_structure_energy                              [epsilon] per particle, at every quench
    /parameters                   provenance: deck (the YAML text), attrs package_version, git_commit,
                                  n_ranks, replicas

Time series are preallocated at the rows the deck will write (:mod:`pel_hpc.io.plan`),
filled in blocks and trimmed to the written rows when the run closes the file (also after
SIGTERM/SIGUSR1); after a kill, trailing rows not yet written have ``step`` =
:data:`UNWRITTEN_STEP` (``--restart`` rewrites them).
Rows of every per-particle ``value`` are in global-tag order (row i is particle i).
``step`` (int64) and ``time`` (float64, [tau]) are stored explicitly; elements written at the
same cadence share them through HDF5 hard links (``image`` links ``position``'s; the
observables at the thermo cadence share one pair).  Common H5MD readers open only the
first particles group: ``pel-hpc export FILE OUT --replica k`` writes replica k as a
standalone single-group file (:func:`pel_hpc.io.export.export_replica`).
"""
from __future__ import annotations

H5MD_VERSION = (1, 1)
CREATOR = "pel_hpc"

H5MD = "h5md"
AUTHOR = "h5md/author"
CREATOR_GROUP = "h5md/creator"
PARTICLES = "particles"
OBSERVABLES = "observables"
PARAMETERS = "parameters"

# element names inside a particles group
BOX = "box"
EDGES = "edges"
SPECIES = "species"
MASS = "mass"
POSITION = "position"
IMAGE = "image"
VELOCITY = "velocity"
INHERENT_STRUCTURE = "inherent_structure"

# time-series members
UNWRITTEN_STEP = 2**63 - 1  # fill value of ``step`` in rows preallocated but not (yet) written
STEP = "step"
TIME = "time"
VALUE = "value"

# observables
POTENTIAL_ENERGY = "potential_energy"
KINETIC_ENERGY = "kinetic_energy"
CONSERVED_ENERGY = "conserved_energy"
TEMPERATURE = "temperature"
PRESSURE = "pressure"
IS_ENERGY = "inherent_structure_energy"
THERMO_OBSERVABLES = (POTENTIAL_ENERGY, KINETIC_ENERGY, CONSERVED_ENERGY, TEMPERATURE, PRESSURE)

# attributes
ATTR_VERSION = "version"
ATTR_NAME = "name"
ATTR_UNIT = "unit"
ATTR_DIMENSION = "dimension"
ATTR_BOUNDARY = "boundary"
ATTR_PACKAGE_VERSION = "package_version"
ATTR_GIT_COMMIT = "git_commit"
ATTR_N_RANKS = "n_ranks"
ATTR_REPLICAS = "replicas"
ATTR_PER_PARTICLE = "per_particle"
DECK = "deck"
RESTART_DECKS = "restart_decks"  # parameters/restart_decks/<step>: a deck a restart at that step changed to
PERIODIC = "periodic"
# preparation files (pel_hpc.preparation): attributes replica, frame, step, e_is, candidates of the chosen IS
LOWEST_IS = "lowest_inherent_structure"

# per-particle time-dependent elements: dtype and the deck cadence key that drives them
PARTICLE_ELEMENTS = {
    POSITION: ("float64", "positions"),
    IMAGE: ("int32", "positions"),
    VELOCITY: ("float64", "velocities"),
    INHERENT_STRUCTURE: ("float64", "is_positions"),
}


def replica_group(replica: int) -> str:
    """Name of the particles (and observables) group of one replica: ``replica_000``."""
    return f"replica_{replica:03d}"


def particles_path(replica: int) -> str:
    """``particles/replica_%03d``."""
    return f"{PARTICLES}/{replica_group(replica)}"


def element_path(replica: int, element: str) -> str:
    """Path of a time-dependent particle element, e.g. ``particles/replica_000/position``."""
    return f"{particles_path(replica)}/{element}"


def observable_path(replica: int, name: str) -> str:
    """Path of a scalar time series, e.g. ``observables/replica_000/potential_energy``."""
    return f"{OBSERVABLES}/{replica_group(replica)}/{name}"


def box_path(replica: int) -> str:
    """Path of the box group of one replica."""
    return f"{particles_path(replica)}/{BOX}"
