"""YAML deck → validated, frozen :class:`~pel_hpc.deck.config.RunConfig`.

Every check happens here, before any work or output: unknown keys (with the nearest valid
name suggested), wrong types, out-of-range values, missing input files and inconsistent
combinations.  Each failure is a :class:`~pel_hpc.errors.DeckError` (or
:class:`~pel_hpc.errors.InputFileError`) whose one-line message starts with the key path.
"""
from __future__ import annotations

import difflib
import math
from pathlib import Path

import yaml

from pel_hpc.deck import checks
from pel_hpc.deck.config import CLASSES, RunConfig
from pel_hpc.deck.schema import OPTIONAL, REQUIRED, TOP_LEVEL, Key, keys_of
from pel_hpc.errors import DeckError


def load_deck(path) -> RunConfig:
    """Read and validate a YAML deck; relative paths are relative to the deck's folder.

    Raises
    ------
    DeckError
        Unreadable YAML or any invalid key; the message is one line naming the key path.
    """
    path = Path(path)
    text, data = read_deck_yaml(path)
    return validate_deck(data, path.resolve().parent, text=text, deck_path=str(path.resolve()))


def read_deck_yaml(path) -> tuple:
    """(text, parsed YAML) of the deck file ``path``, not yet validated; DeckError if unreadable."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise DeckError(f"cannot read deck '{path}': {exc.strerror or exc}") from None
    try:
        return text, yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise DeckError(f"{path.name}: YAML syntax error{where}: {problem}") from None


def validate_deck(data, base_dir, text: str = "", deck_path: str = "") -> RunConfig:
    """Validate a deck given as a parsed mapping; ``base_dir`` anchors relative paths."""
    sections = checks.resolve_paths(typed_sections(data), Path(base_dir))
    cfg = RunConfig(**sections, deck_text=text, deck_path=deck_path)
    return checks.cross_check(cfg)


def typed_sections(data) -> dict:
    """Every section of a parsed deck type- and range-checked, defaults filled in, as given otherwise:
    paths not resolved, derived values not derived, files not looked at (:func:`validate_deck`'s
    first half; also what :mod:`pel_hpc.deck.restart` compares)."""
    if data is None:
        raise DeckError("the deck is empty (expected sections run, system, integrator, stages, ...)")
    if not isinstance(data, dict):
        raise DeckError(f"the deck must be a mapping of sections, got {type(data).__name__}")
    if "grid" in data and set(data) <= {"pel", "grid", "run"}:  # postprocess.clm.scan's sections
        raise DeckError("this is a CLM scan file (sections pel, grid, run), not an MD deck: run it with "
                        "python -m postprocess.clm.scan FILE --out SCAN.h5")
    _reject_unknown(data, TOP_LEVEL, "")
    sections = {}
    for name in TOP_LEVEL:
        if name == "stages":
            sections[name] = _stages(data.get("stages", REQUIRED))
        elif name in OPTIONAL and name not in data:
            sections[name] = None
        else:
            sections[name] = _section(_mapping_or_empty(data.get(name)), name, name)
    return sections


def _reject_unknown(mapping: dict, valid, prefix: str) -> None:
    for name in mapping:
        if name in valid:
            continue
        path = f"{prefix}{name}"
        close = difflib.get_close_matches(str(name), list(valid), n=1, cutoff=0.6)
        if close:
            hint = f"{prefix}{close[0]}"
        else:
            hint = next((f"{sec}.{name}" for sec in TOP_LEVEL if sec not in ("stages", *OPTIONAL) and name in keys_of(sec)), "")
        raise DeckError(f"unknown key '{path}'" + (f" (did you mean '{hint}'?)" if hint else ""))


def _section(mapping, section: str, path: str):
    """Validate one mapping section into its frozen dataclass."""
    if not isinstance(mapping, dict):
        raise DeckError(f"{path}: expected a mapping of keys, got {_show(mapping)}")
    keys = keys_of(section)
    _reject_unknown(mapping, keys, f"{path}.")
    values = {}
    for name, key in keys.items():
        key_path = f"{path}.{name}"
        if key.kind == "section":
            values[name] = _section(_mapping_or_empty(mapping.get(name)), key.section, key_path)
        elif name in mapping:
            values[name] = coerce(key, mapping[name], key_path)
        elif key.default is REQUIRED:
            raise DeckError(f"{key_path}: required key is missing ({key.doc})")
        else:
            values[name] = key.default
    return CLASSES[section](**values)


def _mapping_or_empty(value):
    """An absent or empty (``key:``) section means all defaults; anything else is checked as given."""
    return {} if value is None else value


def _stages(items):
    if items is REQUIRED:
        raise DeckError("stages: required key is missing (a list of {name, steps, output})")
    if not isinstance(items, list) or not items:
        raise DeckError(f"stages: expected a non-empty list of {{name, steps, output}}, got {_show(items)}")
    stages = tuple(_section(item, "stage", f"stages[{i}]") for i, item in enumerate(items))
    names = [stage.name for stage in stages]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise DeckError(f"stages[{i}].name: duplicate stage name '{name}'")
    return stages


def _show(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def _as_number(value, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise DeckError(f"{path}: expected a number, got {_show(value)}")
    try:
        number = float(value)
    except ValueError:
        raise DeckError(f"{path}: expected a number, got {_show(value)}") from None
    if not math.isfinite(number):
        raise DeckError(f"{path}: expected a finite number, got {_show(value)}")
    return number


def _as_int(value, path: str) -> int:
    number = _as_number(value, path)
    if isinstance(value, int) or number.is_integer():
        return int(number)
    raise DeckError(f"{path}: expected an integer, got {_show(value)}")


def _check_range(key: Key, number, path: str) -> None:
    if key.low is not None and (number <= key.low if key.low_open else number < key.low):
        raise DeckError(f"{path}: must be {'>' if key.low_open else '>='} {key.low:g}, got {number}")
    if key.high is not None and (number >= key.high if key.high_open else number > key.high):
        raise DeckError(f"{path}: must be {'<' if key.high_open else '<='} {key.high:g}, got {number}")


def coerce(key: Key, value, path: str):
    """Check and convert one scalar value according to its :class:`Key`."""
    if value is None:
        if key.nullable:
            return None
        raise DeckError(f"{path}: must not be null ({key.doc})")
    if key.kind == "int_auto" and value == "auto":
        return "auto"
    if key.kind in ("int", "float", "int_auto"):
        if key.kind == "int_auto" and not isinstance(value, (int, float)):
            raise DeckError(f"{path}: expected an integer or \"auto\", got {_show(value)}")
        number = _as_number(value, path) if key.kind == "float" else _as_int(value, path)
        _check_range(key, number, path)
        return number
    if key.kind == "bool":
        if not isinstance(value, bool):
            raise DeckError(f"{path}: expected true or false, got {_show(value)}")
        return value
    if key.kind == "choice":
        if value not in key.choices:
            close = difflib.get_close_matches(str(value), key.choices, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise DeckError(f"{path}: must be one of {', '.join(key.choices)}, got {_show(value)}{hint}")
        return value
    if key.kind in ("str", "path"):
        if not isinstance(value, str) or not value.strip():
            raise DeckError(f"{path}: expected a non-empty string, got {_show(value)}")
        return value
    return _coerce_triple(key, value, path)


def _coerce_triple(key: Key, value, path: str):
    if key.kind == "grid" and value == "auto":
        return "auto"
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        wanted = '"auto" or ' if key.kind == "grid" else ""
        raise DeckError(f"{path}: expected {wanted}a list of three integers [nx, ny, nz], got {_show(value)}")
    triple = tuple(_as_int(v, f"{path}[{i}]") for i, v in enumerate(value))
    for i, v in enumerate(triple):
        if v < 1:
            raise DeckError(f"{path}[{i}]: must be >= 1, got {v}")
    return triple

