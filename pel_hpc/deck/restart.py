"""What ``pel-hpc run --restart`` may change in a deck: a restart continues the same run.

The output file holds one trajectory; a deck whose physics, start, protocol or output cadences
differ from the run's would append a different run to it.  :func:`check_restart_deck` compares
the new deck with the last deck the run used (its text is stored in the file, see
:func:`pel_hpc.io.reader.run_deck_text`) and refuses any difference except:

* how the run is computed, not what: ``run.threads``, ``system.skin``, ``decomposition.*``,
  ``ensemble.ranks_per_replica``, ``output.transfer``, ``checkpoint.every``;
* where files are: ``run.name``, ``output.file``, ``checkpoint.file``, ``system.init.file``
  (the start was read at the beginning; a restart reads the checkpoint);
* ``quench.max_iter`` (a quench that ran out of iterations may be given more);
* the stages still to come: stages finished at the checkpoint step are unchanged, the current
  one keeps its name and ``output`` flag and runs at least as far as it already has, later ones
  are free (extending a run, or adding a stage).

Comparison is of typed values with defaults filled in (:func:`pel_hpc.deck.validate.typed_sections`),
so comments, layout and spelling out a default make no difference.
"""
from __future__ import annotations

from dataclasses import fields, is_dataclass

import yaml

from pel_hpc.deck.validate import typed_sections
from pel_hpc.errors import DeckError

MAY_CHANGE = frozenset({
    "run.name", "run.threads", "system.skin", "system.init.file", "quench.max_iter", "output.file",
    "output.transfer", "checkpoint.every", "checkpoint.file", "ensemble.ranks_per_replica",
    "decomposition.grid", "decomposition.reproducible", "decomposition.balance",
})


def check_restart_deck(run_text: str, new_text: str, step: int, where: str) -> None:
    """Raise DeckError unless a deck ``new_text`` may continue, at ``step``, the run whose last deck
    was ``run_text`` (module docstring); ``where`` names the output file in the message."""
    if new_text == run_text:
        return
    try:
        old = typed_sections(yaml.safe_load(run_text))
    except (DeckError, yaml.YAMLError) as exc:
        raise DeckError(f"--restart: the deck stored in '{where}' does not validate ({exc}), so this deck "
                        "cannot be checked against it; start a new run instead") from None
    new = typed_sections(yaml.safe_load(new_text))  # already validated: cannot fail
    problem = _first_change(old, new, step)
    if problem:
        raise DeckError(f"--restart: {problem} (run: '{where}'); a restart may change only the stages still to come, "
                        "file names, threads, skin, decomposition and checkpoint cadence (a different run needs "
                        "another run.name or --overwrite)")


def _first_change(old: dict, new: dict, step: int) -> str:
    """The first forbidden difference, described, or ''."""
    for name in old:
        if name == "stages":
            continue
        for path, a, b in _differences(old[name], new[name], name):
            if path not in MAY_CHANGE:
                return f"{path} is {_show(b)} here but {_show(a)} in the run"
    return _stage_change(old["stages"], new["stages"], step)


def _differences(a, b, path: str):
    """(key path, old, new) of every leaf that differs between two section values."""
    if is_dataclass(a) and is_dataclass(b):
        for f in fields(a):
            yield from _differences(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif a != b:
        yield path, a, b


def _stage_change(old, new, step: int) -> str:
    """The first forbidden change of the stages at ``step`` (module docstring), or ''."""
    start, current = 0, 0
    for i, stage in enumerate(old):  # current: the last stage begun by ``step``
        if start <= step:
            current = i
        start += stage.steps
    start = 0
    for i, stage in enumerate(old[: current + 1]):
        if i >= len(new):
            return f"stages[{i}] ('{stage.name}') is missing here but begun in the run"
        ours = new[i]
        if (ours.name, ours.output) != (stage.name, stage.output):
            return (f"stages[{i}] is '{ours.name}' (output {ours.output}) here but '{stage.name}' "
                    f"(output {stage.output}) in the run")
        if i < current and ours.steps != stage.steps:
            return f"stages[{i}].steps ('{stage.name}', finished) is {ours.steps} here but {stage.steps} in the run"
        if i == current and ours.steps < step - start:
            return (f"stages[{i}].steps ('{stage.name}') is {ours.steps} here but the run has done "
                    f"{step - start} of them")
        start += stage.steps
    return ""


def _show(value) -> str:
    return repr(value) if not isinstance(value, tuple) else str(list(value))
