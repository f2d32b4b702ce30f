"""The input-deck schema as data: every key with its type, default, range and documentation.

One table feeds both the validator (:mod:`pel_hpc.deck.validate`), the frozen configuration
dataclasses (:mod:`pel_hpc.deck.config`) and the generated deck reference of the README
(``python -m pel_hpc.deck.schema`` prints it as Markdown).  All values are in Lennard-Jones
units of the A particles (:mod:`pel_hpc.units`); cadences are counted in MD steps.

A section is a tuple of :class:`Key`; a key of kind ``"section"`` nests another section
(``system.init``), a key of kind ``"list"`` holds a list of sections (``stages``).  Sections in
:data:`OPTIONAL` (``preparation``) are None when absent from the deck.
"""
from __future__ import annotations

from dataclasses import dataclass

REQUIRED = object()  # sentinel: the key has no default and must be given
DERIVED = "<derived>"  # default computed from other keys during validation


@dataclass(frozen=True)
class Key:
    """One deck key.

    Parameters
    ----------
    name : str
        The YAML key (and the dataclass field name).
    kind : str
        ``int``, ``float``, ``bool``, ``str``, ``path``, ``choice``, ``int3``, ``grid``, ``int_auto``
        (an int or ``"auto"``),
        ``section`` (nested mapping) or ``list`` (list of mappings).
    default : object
        Default value, :data:`REQUIRED`, or :data:`DERIVED` (filled in by the validator).
    low, high : float or None
        Inclusive bounds unless ``low_open``/``high_open``.
    choices : tuple of str
        Allowed values of a ``choice`` key.
    nullable : bool
        Whether ``null`` is accepted.
    section : str or None
        Name of the nested section for kinds ``section`` and ``list``.
    doc : str
        One-line documentation (units in brackets).
    """

    name: str
    kind: str
    default: object = REQUIRED
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    nullable: bool = False
    section: str | None = None
    doc: str = ""


SECTIONS: dict[str, tuple[Key, ...]] = {
    "run": (
        Key("name", "str", "run", doc="run name; the default output file is <name>.h5"),
        Key("seed", "int", 12345, low=0, doc="master seed of velocities and random placement"),
        Key("threads", "int", 1, low=1, doc="numba threads per MPI rank for the pair forces and the list "
            "build (bitwise the same result; the rest of a step, and N = 65 boxes, run on one): needs that many CPUs per rank "
            "(SLURM --cpus-per-task; jobs/common.sh maps the ranks)"),
    ),
    "system": (
        Key("n", "int", DERIVED, low=2,
            doc="number of particles N (required for init.kind=random; derived from the file otherwise)"),
        Key("density", "float", 1.2, low=0, low_open=True, doc="number density N/V [sigma^-3]"),
        Key("fraction_a", "float", 0.8, low=0, high=1, low_open=True,
            doc="fraction of A particles: N_A = round(fraction_a*N), N_B = N - N_A"),
        Key("cutoff", "float", 2.5, low=0, low_open=True,
            doc="cut-off r_c in units of sigma_ab (pair cut-off r_c*sigma_ab) [1]"),
        Key("truncation", "choice", "shift", choices=("shift", "force_shift"),
            doc="energy-shifted (LAMMPS pair_modify shift yes) or force-shifted LJ"),
        Key("skin", "float", 0.3, low=0, doc="Verlet-list skin [sigma]"),
        Key("init", "section", None, section="system.init", doc="initial configuration"),
    ),
    "system.init": (
        Key("kind", "choice", "random", choices=("random", "file", "replicate", "lowest_inherent_structure"),
            doc="random placement pushed apart until no force exceeds 3 eps/sigma (the same start on any "
                "rank count), a frame of an H5MD file, that frame replicated nx*ny*nz times, or the "
                "inherent structure of lowest energy in the file (all its replicas) or of the preparation run, replicated"),
        Key("file", "path", None, nullable=True,
            doc="H5MD file of the start frame (kinds file, replicate, lowest_inherent_structure without "
                "a preparation section; with one it is the preparation's file)"),
        Key("frame", "int", -1, doc="frame index in that file (negative counts from the end)"),
        Key("source", "choice", "position", choices=("position", "inherent_structure"),
            doc="read MD positions or inherent-structure positions"),
        Key("replica", "int", 0, low=0, doc="replica (particles group) to read"),
        Key("replicate", "int3", (1, 1, 1), low=1,
            doc="copies along x, y, z (kinds replicate and lowest_inherent_structure)"),
    ),
    "integrator": (
        Key("dt", "float", 0.005, low=0, low_open=True, doc="time step [tau]"),
        Key("ensemble", "choice", "nvt", choices=("nvt", "nve"), doc="thermostatted or microcanonical"),
        Key("temperature", "float", REQUIRED, low=0, low_open=True,
            doc="Nose-Hoover target and initial Maxwell-Boltzmann temperature [epsilon/k_B]"),
        Key("tau_t", "float", 0.5, low=0, low_open=True, doc="Nose-Hoover time constant [tau]"),
        Key("chain", "int", 3, low=1, doc="Nose-Hoover chain length"),
    ),
    "stages": (
        Key("stages", "list", REQUIRED, section="stage", doc="stages run in order"),
    ),
    "stage": (
        Key("name", "str", REQUIRED, doc="stage name (unique)"),
        Key("steps", "int", REQUIRED, low=0, doc="number of MD steps"),
        Key("output", "bool", True, doc="whether output operations fire (false for equilibration)"),
    ),
    "quench": (
        Key("every", "int", 0, low=0, doc="quench to the inherent structure every this many steps (0 = never)"),
        Key("tolerance", "float", 1e-8, low=0, low_open=True,
            doc="stop when the 2-norm of the total force vector is below this (LAMMPS ftol) [epsilon/sigma]"),
        Key("method", "choice", "lbfgs", choices=("lbfgs", "fire", "cg"),
            doc="minimiser: L-BFGS (3-7x fewer force calls than FIRE), FIRE, or scipy CG (serial only)"),
        Key("max_iter", "int", 100000, low=1, doc="maximum minimiser iterations"),
    ),
    "output": (
        Key("file", "path", DERIVED, doc="H5MD output file (default <run.name>.h5)"),
        Key("thermo", "int", 100, low=0, doc="cadence of observables and the thermo table (0 = never)"),
        Key("positions", "int", 1000, low=0, doc="cadence of positions and images (0 = never)"),
        Key("velocities", "int", 0, low=0, doc="cadence of velocities (0 = never)"),
        Key("is_positions", "int", 0, low=0,
            doc="cadence of inherent-structure positions, a multiple of quench.every (0 = never)"),
        Key("transfer", "choice", "collective", choices=("collective", "independent"),
            doc="MPI-IO data transfers of the parallel file: collective (all ranks in every block write, "
                "two-phase aggregation) or independent (each rank writes its contiguous block alone)"),
    ),
    "checkpoint": (
        Key("every", "int", 0, low=0, doc="checkpoint cadence (0 = only on SIGTERM/SIGUSR1 and at the end)"),
        Key("file", "path", DERIVED, nullable=True,
            doc="checkpoint file (default <output stem>.chk.h5; null disables checkpoints)"),
    ),
    "ensemble": (
        Key("replicas", "int", 1, low=1, doc="number of replicas in one run"),
        Key("ranks_per_replica", "int_auto", "auto", low=1,
            doc="MPI ranks per replica; auto: the product of an explicit decomposition.grid, else the world "
                "shared equally (mpirun -n 8 on 1 replica: 8; on 64 replicas: 1, several replicas per rank)"),
        Key("mode", "choice", "independent", choices=("independent", "iso_configurational"),
            doc="independent starts, or one configuration with per-replica velocities"),
    ),
    "preparation": (
        Key("n", "int", REQUIRED, low=2, doc="particles of the preparation run (e.g. 65, the paper's minimum system)"),
        Key("temperature", "float", DERIVED, low=0, low_open=True,
            doc="its NVT temperature [epsilon/k_B] (default integrator.temperature)"),
        Key("equilibration", "int", 0, low=0, doc="MD steps before the inherent-structure trajectory (no output)"),
        Key("steps", "int", REQUIRED, low=1, doc="MD steps of the inherent-structure trajectory"),
        Key("quench_every", "int", 100, low=1,
            doc="quench and store the inherent structure every this many steps (all candidates kept)"),
        Key("replicas", "int", 1, low=1,
            doc="independent preparation runs (seeds per replica, run in parallel); the lowest IS of all"),
        Key("seed", "int", DERIVED, low=0,
            doc="master seed of the preparation (default run.seed + 2^31: unrelated to the production's)"),
        Key("file", "path", DERIVED,
            doc="its H5MD file (default <output stem>.prep.h5; its checkpoint <stem>.prep.chk.h5)"),
    ),
    "decomposition": (
        Key("grid", "grid", "auto", doc='rank grid [nx, ny, nz] or "auto"'),
        Key("reproducible", "bool", False,
            doc="bitwise the same MD (NVE, NVT) and quenches on any rank count (tag-sorted lists, exact global sums)"),
        Key("balance", "bool", False,
            doc="dynamic load balancing: at each list rebuild, shift the sub-box planes so that ranks' measured "
                "compute times equalise (trajectories then vary in the last bits from run to run, unless reproducible)"),
    ),
}

#: Top-level sections in deck order; ``stages`` is a list, all others are mappings.
TOP_LEVEL = ("run", "system", "integrator", "stages", "quench", "output", "checkpoint", "ensemble",
             "decomposition", "preparation")

#: Sections that may be absent: the config attribute is then None (not a section of defaults).
OPTIONAL = ("preparation",)


def keys_of(section: str) -> dict[str, Key]:
    """The keys of one section by name."""
    return {key.name: key for key in SECTIONS[section]}


def _range_text(key: Key) -> str:
    if key.choices:
        return " \\| ".join(key.choices)
    parts = []
    if key.low is not None:
        parts.append(f"{'>' if key.low_open else '>='} {key.low:g}")
    if key.high is not None:
        parts.append(f"{'<' if key.high_open else '<='} {key.high:g}")
    return ", ".join(parts)


def _default_text(key: Key) -> str:
    if key.default is REQUIRED:
        return "**required**"
    if key.kind == "section":
        return ""
    return "null" if key.default is None else f"`{key.default}`"


NOTES = """
**Preparation** (optional section, e.g. `input/ice520.yaml`): before the production, the deck runs a
`preparation.n`-particle NVT run at `preparation.temperature` with random starts (`preparation.replicas`
of them, seeded from `preparation.seed`), quenching every `preparation.quench_every` steps and storing
every inherent structure (IS) in `preparation.file`, a complete pel_hpc H5MD file of its own (a
second file, because it is a run of its own: its own deck text, replicas and checkpoints, readable
by every tool that reads a run, and reusable on its own).  The production starts from the IS of lowest
energy of that trajectory (`system.init.kind: lowest_inherent_structure`, required with a preparation),
replicated `system.init.replicate` times; the choice (replica, frame, step, e_IS) is recorded in the
preparation file's `lowest_inherent_structure` group.  The production's N and density follow from it.
The start is the lowest IS that is not crystalline: candidates are tested in ascending e_IS with the
crystallisation watch's criterion (solid-like fraction of the A particles > 0.1 by q6 bond order, ten
Wolde, Ruiz-Montero & Frenkel, J. Chem. Phys. 104, 9932 (1996); `pel_hpc/analysis/bond_order.py`); the
number skipped is printed and recorded (`crystalline_skipped`).  If all tested candidates (at most 1000)
are crystalline the run stops with exit 8 (`CrystallineStartError`) before writing any output: rerun the
preparation at a higher temperature or with fewer steps.  The same guard applies to
`lowest_inherent_structure` from a given `system.init.file`.
Restart: a finished preparation with the same derived deck is reused (never redone), an unfinished one
continues from its own checkpoint (bitwise: it is a function of the deck), so a killed run restarted
with or without `--restart` never repeats finished work.  Delete the preparation file to redo it.
"""


def reference_markdown() -> str:
    """The deck reference as a Markdown table (generated from :data:`SECTIONS`) and the notes."""
    lines = ["| key | type | default | range | meaning |", "|---|---|---|---|---|"]
    order = ["run", "system", "system.init", "integrator", "stages", "stage", "quench", "output",
             "checkpoint", "ensemble", "decomposition", "preparation"]
    for section in order:
        prefix = "stages[i]" if section == "stage" else section
        for key in SECTIONS[section]:
            if key.kind == "section":
                continue
            path = key.name if section == "stages" else f"{prefix}.{key.name}"
            kind = "int or auto" if key.kind == "int_auto" else key.kind
            lines.append(f"| `{path}` | {kind} | {_default_text(key)} | {_range_text(key)} | {key.doc} |")
    return "\n".join(lines) + "\n" + NOTES


if __name__ == "__main__":
    print(reference_markdown(), end="")
