"""Derive a run deck from a campaign deck: set keys, anchor paths, validate, write.

Job arrays use it to give each task its own folder, seed and name::

    python -m pel_hpc.deck.derive input/ka65_T0.50.yaml runs/ka65_T0.50_s3/deck.yaml \\
        --set run.seed=3 --set run.name=ka65_T0.50_s3

Relative paths of the source deck (``system.init.file``, ``preparation.file``, and ``output.file`` /
``checkpoint.file`` only if given) are made absolute against the source deck's folder, so
the derived deck works from its new folder; outputs with default names land next to it.
The result is validated before it is written (a bad ``--set`` writes nothing).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from pel_hpc.deck.validate import read_deck_yaml, validate_deck
from pel_hpc.errors import DeckError, PelError

PATH_KEYS = (("system", "init", "file"), ("preparation", "file"))


def set_key(data: dict, dotted: str, text: str) -> None:
    """Set ``a.b.c`` in a nested dict to the YAML value ``text`` (``run.seed=3``)."""
    *parents, last = dotted.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise DeckError(f"--set {dotted}: '{key}' is not a section")
    node[last] = yaml.safe_load(text)


def derive(source, out, settings=()) -> Path:
    """Write the derived deck ``out`` from ``source`` with ``settings`` ("key=value") applied."""
    source, out = Path(source).resolve(), Path(out)
    data = read_deck_yaml(source)[1] or {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep:
            raise DeckError(f"--set {item}: expected key=value")
        set_key(data, key.strip(), value)
    for path in PATH_KEYS:
        node = data
        for key in path[:-1]:
            node = node.get(key) or {}
        if isinstance(node.get(path[-1]), str):
            node[path[-1]] = str((source.parent / node[path[-1]]).resolve())
    text = f"# derived from {source}\n" + yaml.safe_dump(data, sort_keys=False)
    folder = out.resolve().parent
    made = [p for p in (folder, *folder.parents) if not p.exists()]  # the run folder: validation checks it exists
    folder.mkdir(parents=True, exist_ok=True)
    try:
        validate_deck(yaml.safe_load(text), folder, text=text)
    except BaseException:
        for p in made:  # a bad deck leaves nothing behind
            p.rmdir()
        raise
    out.write_text(text)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pel_hpc.deck.derive", description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    try:
        derive(args.source, args.out, args.set)
    except PelError as err:
        print(f"pel-hpc: error: {err}", file=sys.stderr)
        return err.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
