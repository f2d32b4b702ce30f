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
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import h5py
import numpy as np

from pel_hpc.errors import CheckpointExit, CorruptFileError, PelError
from pel_hpc.io import layout as L
from pel_hpc.io.reader import stored_deck, written_frames

FRESH, RESUME, DONE = "fresh", "resume", "done"


@dataclass(frozen=True)
class LowestIS:
    """The IS of lowest energy of a file: ``replica``, IS ``frame`` index, MD ``step``, ``e_is``
    per particle [epsilon] and the number of stored IS ``candidates`` it was chosen from."""

    replica: int
    frame: int
    step: int
    e_is: float
    candidates: int


def _replica_candidates(f, replica: int):
    """(frames, steps, e_IS) of the stored IS frames of one replica whose energy was recorded."""
    group = f[L.element_path(replica, L.INHERENT_STRUCTURE)]
    steps = group[L.STEP][:written_frames(group)]
    energy = f[L.observable_path(replica, L.IS_ENERGY)]
    e_steps, e_values = energy[L.STEP][()], energy[L.VALUE][()]
    frames = np.flatnonzero(np.isin(steps, e_steps))
    where = np.searchsorted(e_steps, steps[frames])
    return frames, steps[frames], e_values[where]


def lowest_inherent_structure(path) -> LowestIS:
    """The stored IS of lowest energy over every replica and frame of a pel_hpc H5MD file.

    Candidates are the frames of ``inherent_structure`` whose step also has an
    ``inherent_structure_energy`` row; ties go to the lowest replica, then the earliest frame.

    Raises
    ------
    CorruptFileError
        When the file holds no inherent structure with a recorded energy.
    """
    best, count = None, 0
    try:
        with h5py.File(path, "r") as f:
            for replica in range(len(f[L.PARTICLES])):
                frames, steps, e_is = _replica_candidates(f, replica)
                count += len(frames)
                if len(frames) and (best is None or e_is.min() < best.e_is):
                    k = int(np.argmin(e_is))
                    best = LowestIS(replica, int(frames[k]), int(steps[k]), float(e_is[k]), 0)
    except (OSError, KeyError) as exc:
        raise CorruptFileError(f"'{path}' holds no inherent structures with energies ({exc})") from None
    if best is None:
        raise CorruptFileError(f"'{path}' holds no inherent structure with a recorded energy")
    return LowestIS(best.replica, best.frame, best.step, best.e_is, count)


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
            run_deck(pcfg, sub, restart=resume, stream=stream, check_allocation=False)
    except CheckpointExit:
        outcome = "stopped"
    except Exception as exc:  # noqa: BLE001 - re-raised below, after every rank knows
        outcome, error = f"{type(exc).__name__}: {exc}", exc
    finally:
        if flag is not None:
            flag.restore()
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


def ensure_preparation(cfg, world, stream=None) -> LowestIS | None:
    """Make sure ``cfg``'s preparation file is complete (run, resume or reuse it) and return its lowest IS.

    Collective over ``world``; returns None for decks without a preparation section.
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
        if world.rank == 0:
            write_record(pcfg.output.file, lowest_inherent_structure(pcfg.output.file))
        world.barrier()
    return lowest_inherent_structure(pcfg.output.file)
