"""Run (or reuse) a deck's preparation and find the lowest inherent structure of a file (Sect. III B).

A deck with a ``preparation`` section (:mod:`pel_hpc.deck.preparation`) starts from the inherent
structure (IS) of lowest energy of a preparation run.  :func:`ensure_preparation` is called by
:func:`pel_hpc.io.session.run_deck` before the production is set up, on every rank of the world:

* **done** — the preparation file exists, holds the same derived deck text and its
  ``lowest_inherent_structure`` record (written only after the run finished): nothing is run;
* **resume** — same deck text and a complete preparation checkpoint written by the same number of
  ranks: the preparation continues from it (bitwise, :mod:`pel_hpc.io.checkpoint`);
* **fresh** — otherwise the preparation runs from the start (overwriting a stale file).

The preparation is a function of the deck alone (its replicas' random numbers depend only on
``(preparation.seed, replica)``), so resuming or reusing it gives exactly the file a fresh run
would: a killed job restarts without redoing finished work, with or without ``--restart``.  It runs
on ``min(world size, preparation.replicas)`` ranks; the others wait.  A stop signal during the
preparation checkpoints it and exits with :class:`~pel_hpc.errors.CheckpointExit` (code 75) on
every rank.

**Crystal guard.**  Long KA runs can crystallise (A-rich fcc), and a crystallite has a much lower IS
energy, so the lowest IS is exactly where a crystal would be picked.  :func:`lowest_inherent_structure`
therefore takes the candidates in ascending energy and returns the first whose A particles are not
solid-like, by the criterion of the post-processing crystallisation watch (:mod:`postprocess.crystal`):
solid-like fraction of A ≤ :data:`~pel_hpc.analysis.bond_order.SOLID_FRACTION_FLAG` (q6 bond order
after ten Wolde, Ruiz-Montero & Frenkel 1996, :mod:`pel_hpc.analysis.bond_order`).  Only the lowest
candidates are tested (one, unless some are crystalline; at most :data:`MAX_TESTED`).  The number
skipped is recorded (``crystalline_skipped``) and printed; when every tested candidate is crystalline
the run stops with :class:`~pel_hpc.errors.CrystallineStartError` (exit 8) before any production output
is written.

References
----------
P. R. ten Wolde, M. J. Ruiz-Montero, D. Frenkel, J. Chem. Phys. 104, 9932 (1996).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import h5py
import numpy as np

from pel_hpc.analysis.bond_order import R_CUT, SOLID_FRACTION_FLAG, bond_order, crystalline
from pel_hpc.errors import CheckpointExit, CorruptFileError, CrystallineStartError, PelError
from pel_hpc.io import layout as L
from pel_hpc.io.reader import stored_deck, written_frames

FRESH, RESUME, DONE = "fresh", "resume", "done"
MAX_TESTED = 1000  # candidates tested by the crystal guard at most (~1-2 ms each for N = 65)


@dataclass(frozen=True)
class LowestIS:
    """The liquid-like IS of lowest energy of a file: ``replica``, IS ``frame`` index, MD ``step``, ``e_is``
    per particle [epsilon], the number of stored IS ``candidates`` it was chosen from, the number of lower
    ones skipped as crystalline, its own solid-like A fraction (NaN: not measured) and the smallest one of
    the skipped IS (0 when none was skipped).  Records written before the crystal guard read with these
    defaults."""

    replica: int
    frame: int
    step: int
    e_is: float
    candidates: int
    crystalline_skipped: int = 0
    solid_fraction: float = float("nan")
    skipped_solid_fraction: float = 0.0


def _replica_candidates(f, replica: int):
    """(frames, steps, e_IS) of the stored IS frames of one replica whose energy was recorded."""
    group = f[L.element_path(replica, L.INHERENT_STRUCTURE)]
    steps = group[L.STEP][:written_frames(group)]
    energy = f[L.observable_path(replica, L.IS_ENERGY)]
    e_steps, e_values = energy[L.STEP][()], energy[L.VALUE][()]
    frames = np.flatnonzero(np.isin(steps, e_steps))
    where = np.searchsorted(e_steps, steps[frames])
    return frames, steps[frames], e_values[where]


def _all_candidates(f):
    """(e_IS, replica, frame, step) of every candidate of the file, in the order of choice: ascending
    e_IS, ties to the lowest replica, then the earliest frame."""
    parts = []
    for replica in range(len(f[L.PARTICLES])):
        frames, steps, e_is = _replica_candidates(f, replica)
        parts.append((e_is, np.full(len(frames), replica), frames, steps))
    e_is, replica, frame, step = (np.concatenate(col) for col in zip(*parts))
    order = np.lexsort((frame, replica, e_is))
    return e_is[order], replica[order], frame[order], step[order]


def solid_fraction(f, replica: int, frame: int) -> float:
    """Solid-like fraction of the A particles (species 0) of one stored IS (ten Wolde et al. 1996).

    NaN when the box is shorter than 2 R_CUT (the minimum-image neighbours of
    :func:`pel_hpc.analysis.bond_order.neighbour_bonds` would miss bonds; no crystal fits there anyway).
    """
    box = np.asarray(f[f"{L.box_path(replica)}/{L.EDGES}"][()], float)
    if box.min() <= 2.0 * R_CUT:
        return float("nan")
    x = f[f"{L.element_path(replica, L.INHERENT_STRUCTURE)}/{L.VALUE}"][frame]
    species = f[f"{L.particles_path(replica)}/{L.SPECIES}"][()]
    return bond_order(x[species == 0], box).solid_fraction


def lowest_inherent_structure(path, max_tested: int = MAX_TESTED) -> LowestIS:
    """The stored IS of lowest energy over every replica and frame of a pel_hpc H5MD file whose A particles
    are not solid-like (crystal guard, module docstring).

    Candidates are the frames of ``inherent_structure`` whose step also has an
    ``inherent_structure_energy`` row.  They are tested in ascending energy (ties: lowest replica, then
    earliest frame) until the first with a solid-like A fraction ≤ ``SOLID_FRACTION_FLAG``; at most
    ``max_tested`` of them.

    Raises
    ------
    CorruptFileError
        When the file holds no inherent structure with a recorded energy.
    CrystallineStartError
        When every tested candidate (the ``max_tested`` lowest) is crystalline.
    """
    try:
        with h5py.File(path, "r") as f:
            e_is, replica, frame, step = _all_candidates(f)
            skipped = []
            for k in range(min(len(e_is), max_tested)):
                solid = solid_fraction(f, int(replica[k]), int(frame[k]))
                if not crystalline(solid):  # NaN (not measurable) counts as liquid-like
                    return LowestIS(int(replica[k]), int(frame[k]), int(step[k]), float(e_is[k]), len(e_is),
                                    len(skipped), solid, min(skipped, default=0.0))
                skipped.append(solid)
    except (OSError, KeyError, ValueError) as exc:
        raise CorruptFileError(f"'{path}' holds no inherent structures with energies ({exc})") from None
    if not len(e_is):
        raise CorruptFileError(f"'{path}' holds no inherent structure with a recorded energy")
    which = "all" if len(skipped) == len(e_is) else f"the {len(skipped)} lowest of"
    raise CrystallineStartError(
        f"'{path}': {which} {len(e_is)} inherent structures are crystalline (solid-like A fraction "
        f">= {min(skipped):.2f} > {SOLID_FRACTION_FLAG:g}, ten Wolde et al. 1996); run the preparation at a "
        "higher temperature or shorter (preparation.temperature, preparation.steps)")


def preparation_status(pcfg, n_ranks: int) -> str:
    """:data:`DONE`, :data:`RESUME` or :data:`FRESH` for the preparation deck ``pcfg`` (module docstring)."""
    from pel_hpc.io.checkpoint import ATTR_N_RANKS, checkpoint_step

    try:
        with h5py.File(pcfg.output.file, "r") as f:
            same, done = stored_deck(f) == pcfg.deck_text, L.LOWEST_IS in f
    except (OSError, KeyError, CorruptFileError):
        return FRESH
    if not same:
        return FRESH
    if done:
        return DONE
    chk = pcfg.checkpoint.file
    if chk is None or checkpoint_step(chk) is None:
        return FRESH
    with h5py.File(chk, "r") as f:
        return RESUME if int(f.attrs[ATTR_N_RANKS]) == n_ranks else FRESH


def _run(pcfg, world, resume: bool, stream) -> None:
    """Run the preparation deck on the first ranks; every rank returns or raises together."""
    from pel_hpc.io.session import run_deck
    from pel_hpc.io.signals import StopFlag

    inside = world.rank < min(world.size, pcfg.ensemble.replicas)
    sub = world.split(0 if inside else 1, world.rank)
    outcome, error = "ok", None
    flag = None if inside else StopFlag().install()  # a stop signal must not kill a waiting rank
    try:
        if inside:
            run_deck(pcfg, sub, restart=resume, stream=stream, check_allocation=False,
                     overwrite=True)  # a preparation of another deck, or one without a checkpoint, is redone
    except CheckpointExit:
        outcome = "stopped"
    except Exception as exc:  # noqa: BLE001 - re-raised below, after every rank knows
        outcome, error = f"{type(exc).__name__}: {exc}", exc
    finally:
        if flag is not None:
            flag.restore()
    world.idle_barrier()  # the ranks outside the preparation sleep here instead of spinning
    outcomes = world.allgather(outcome)
    if error is not None:
        raise error
    failed = [o for o in outcomes if o not in ("ok", "stopped")]
    if failed:
        raise PelError(f"preparation failed on another rank: {failed[0]}")
    if "stopped" in outcomes:
        raise CheckpointExit(f"stopped by signal during the preparation; checkpoint {pcfg.checkpoint.file}; "
                             "run again to continue it")


def write_record(path, best: LowestIS) -> None:
    """Record the chosen IS in the preparation file (``lowest_inherent_structure`` attributes); marks it done."""
    with h5py.File(path, "a") as f:
        group = f.require_group(L.LOWEST_IS)
        for key, value in asdict(best).items():
            group.attrs[key] = value


def read_record(path) -> LowestIS | None:
    """The recorded choice of a preparation file (fields missing in older records take their defaults),
    or None without a record."""
    with h5py.File(path, "r") as f:
        if L.LOWEST_IS not in f:
            return None
        attrs = f[L.LOWEST_IS].attrs
        return LowestIS(**{k: v.item() if hasattr(v, "item") else v for k, v in attrs.items()
                           if k in LowestIS.__dataclass_fields__})


def _choose(path, world, refresh: bool) -> LowestIS:
    """Rank 0 (re)writes the record when ``refresh`` or when it predates the crystal guard; all ranks
    then read it.  A failed choice (e.g. all candidates crystalline) raises on every rank, record unwritten."""
    error = None
    if world.rank == 0:
        try:
            with h5py.File(path, "r") as f:
                guarded = L.LOWEST_IS in f and "crystalline_skipped" in f[L.LOWEST_IS].attrs
            if refresh or not guarded:
                write_record(path, lowest_inherent_structure(path))
        except (PelError, OSError) as exc:  # re-raised below on every rank
            error = exc
    error = world.bcast(error)
    if error is not None:
        raise error
    world.barrier()
    return read_record(path)


def ensure_preparation(cfg, world, stream=None) -> LowestIS | None:
    """Make sure ``cfg``'s preparation file is complete (run, resume or reuse it) and return its lowest
    liquid-like IS (crystal guard, module docstring).

    Collective over ``world``; returns None for decks without a preparation section.  Rank 0 prints one
    line when crystalline IS below the chosen one were skipped.
    """
    from pel_hpc.deck.preparation import preparation_deck

    pcfg = preparation_deck(cfg)
    if pcfg is None:
        return None
    n_ranks = min(world.size, pcfg.ensemble.replicas)
    status = world.bcast(preparation_status(pcfg, n_ranks) if world.rank == 0 else None)
    if world.rank == 0 and stream is not None:
        print(f"# preparation ({status}): {pcfg.output.file}", file=stream, flush=True)
    if status != DONE:
        _run(pcfg, world, status == RESUME, stream)
    best = _choose(pcfg.output.file, world, refresh=status != DONE)
    if world.rank == 0 and stream is not None and best.crystalline_skipped:
        print(f"# preparation: skipped {best.crystalline_skipped} crystalline IS below e_IS={best.e_is:.4f} "
              f"(solid-like A fraction >= {best.skipped_solid_fraction:.2f} > {SOLID_FRACTION_FLAG:g}); "
              f"the chosen IS has {best.solid_fraction:.2f}", file=stream, flush=True)
    return best
