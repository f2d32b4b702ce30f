"""Frozen configuration dataclasses built from the schema table (:mod:`pel_hpc.deck.schema`).

Field names are exactly the YAML keys, so ``cfg.system.init.kind`` reads like the deck.
The classes are generated from :data:`pel_hpc.deck.schema.SECTIONS`, so the schema is the
only place a key is spelled.  Nothing below :mod:`pel_hpc.cli` sees a raw dict: the engine
receives a :class:`RunConfig` from :func:`pel_hpc.deck.validate.load_deck`.
"""
from __future__ import annotations

from dataclasses import dataclass, make_dataclass
from typing import Any

from pel_hpc.deck.schema import SECTIONS

_CLASS_NAMES = {
    "run": "RunSection", "system": "SystemConfig", "system.init": "InitConfig",
    "integrator": "IntegratorConfig", "stage": "StageConfig", "quench": "QuenchConfig",
    "output": "OutputConfig", "checkpoint": "CheckpointConfig", "ensemble": "EnsembleConfig",
    "decomposition": "DecompositionConfig", "preparation": "PreparationConfig",
}


def _make(section: str):
    fields = [(key.name, Any) for key in SECTIONS[section]]
    cls = make_dataclass(_CLASS_NAMES[section], fields, frozen=True)
    cls.__module__ = __name__  # picklable (configs may be broadcast to other ranks)
    return cls


RunSection = _make("run")
SystemConfig = _make("system")
InitConfig = _make("system.init")
IntegratorConfig = _make("integrator")
StageConfig = _make("stage")
QuenchConfig = _make("quench")
OutputConfig = _make("output")
CheckpointConfig = _make("checkpoint")
EnsembleConfig = _make("ensemble")
DecompositionConfig = _make("decomposition")
PreparationConfig = _make("preparation")

CLASSES = {section: globals()[name] for section, name in _CLASS_NAMES.items()}


@dataclass(frozen=True)
class RunConfig:
    """A validated deck.

    Attributes are the deck's sections; ``stages`` is a tuple of :class:`StageConfig`.
    Paths (``output.file``, ``checkpoint.file``, ``system.init.file``) are absolute.
    ``deck_text`` is the deck as read (stored in the output for provenance) and ``deck_path``
    its absolute path ("" for decks validated from a dict).  ``preparation`` is None unless the
    deck has a preparation section (:mod:`pel_hpc.deck.preparation`).
    """

    run: Any
    system: Any
    integrator: Any
    stages: tuple
    quench: Any
    output: Any
    checkpoint: Any
    ensemble: Any
    decomposition: Any
    preparation: Any = None
    deck_text: str = ""
    deck_path: str = ""

    @property
    def total_steps(self) -> int:
        """Number of MD steps over all stages."""
        return sum(stage.steps for stage in self.stages)

    def stage_start(self, index: int) -> int:
        """Global step at which stage ``index`` begins."""
        return sum(stage.steps for stage in self.stages[:index])

