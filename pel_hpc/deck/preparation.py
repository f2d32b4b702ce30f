"""The deck's optional ``preparation`` section: a run of its own whose lowest inherent structure starts the deck.

Sect. III B of the paper prepares "a very immobile configuration of a 520 particle system by copying a
very stable N = 65 structure at T = 0.5": the lowest inherent structure (IS) of a long 65-particle IS
trajectory, replicated 2×2×2.  A deck with a ``preparation`` section and
``system.init.kind: lowest_inherent_structure`` does both in one run (:mod:`pel_hpc.preparation`).

The preparation is expressed as an ordinary deck derived from the production deck
(:func:`preparation_deck`): ``preparation.n`` particles placed at random, ``preparation.equilibration``
output-free steps, then ``preparation.steps`` steps with a quench and a stored IS every
``preparation.quench_every`` steps, at ``preparation.temperature``, for ``preparation.replicas``
independent replicas.  Inherited from the production deck: density, composition, cut-off, truncation,
skin, time step, thermostat, quench tolerance/method, thermo and checkpoint cadences, threads.  The
derived deck's YAML text is stored in the preparation file (``parameters/deck``): it identifies the
preparation, so a finished one is reused only by a deck that would produce the same file.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from pel_hpc.deck.schema import DERIVED
from pel_hpc.errors import DeckError

SEED_OFFSET = 2**31  # default preparation.seed = run.seed + SEED_OFFSET


def checkpoint_path(prep_file: str) -> str:
    """The preparation's checkpoint: ``<stem>.chk.h5`` next to its file (``ice520.prep.chk.h5``)."""
    path = Path(prep_file)
    return str(path.with_name(path.name.removesuffix(".h5") + ".chk.h5"))


def resolve(prep, run, integrator, out_path: Path, base_dir: Path):
    """The section with its derived values filled: temperature, seed and an absolute file path."""
    if prep is None:
        return None
    default_file = out_path.with_name(out_path.name.removesuffix(".h5") + ".prep.h5")
    path = default_file if prep.file is DERIVED else (base_dir / prep.file).resolve()
    if not path.parent.is_dir():
        raise DeckError(f"preparation.file: folder '{path.parent}' does not exist")
    temperature = integrator.temperature if prep.temperature is DERIVED else prep.temperature
    seed = run.seed + SEED_OFFSET if prep.seed is DERIVED else prep.seed
    return replace(prep, file=str(path), temperature=temperature, seed=seed)


def deck_data(cfg) -> dict:
    """The preparation as a plain deck mapping (every path absolute)."""
    p, s, i, q = cfg.preparation, cfg.system, cfg.integrator, cfg.quench
    stages = [{"name": "equilibration", "steps": p.equilibration, "output": False}] if p.equilibration else []
    stages.append({"name": "inherent_structures", "steps": p.steps})
    chk = None if cfg.checkpoint.file is None else checkpoint_path(p.file)
    return {
        "run": {"name": Path(p.file).name.removesuffix(".h5"), "seed": p.seed, "threads": cfg.run.threads},
        "system": {"n": p.n, "density": s.density, "fraction_a": s.fraction_a, "cutoff": s.cutoff,
                   "truncation": s.truncation, "skin": s.skin},
        "integrator": {"dt": i.dt, "ensemble": "nvt", "temperature": p.temperature, "tau_t": i.tau_t,
                       "chain": i.chain},
        "stages": stages,
        "quench": {"every": p.quench_every, "tolerance": q.tolerance, "method": q.method, "max_iter": q.max_iter},
        "output": {"file": p.file, "thermo": cfg.output.thermo, "positions": 0, "velocities": 0,
                   "is_positions": p.quench_every},
        "checkpoint": {"every": cfg.checkpoint.every, "file": chk},
        "ensemble": {"replicas": p.replicas, "ranks_per_replica": 1, "mode": "independent"},
    }


def preparation_deck(cfg):
    """The validated :class:`~pel_hpc.deck.config.RunConfig` of ``cfg``'s preparation (None without one).

    Raises
    ------
    DeckError
        When the derived deck is invalid (e.g. the cut-off does not fit the small box); the
        one-line message starts with ``preparation:`` and names the derived key.
    """
    if cfg.preparation is None:
        return None
    from pel_hpc.deck.validate import validate_deck

    data = deck_data(cfg)
    text = "# preparation derived from the production deck (pel_hpc.deck.preparation)\n"
    text += yaml.safe_dump(data, sort_keys=False)
    try:
        return validate_deck(data, Path(cfg.preparation.file).parent, text=text)
    except DeckError as err:
        raise DeckError(f"preparation: derived deck invalid: {err}") from None
