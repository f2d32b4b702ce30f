"""Input decks: the schema as data, validation into frozen dataclasses, cross-checks.

``load_deck(path) -> RunConfig`` is the entry point (see :mod:`pel_hpc.deck.validate`);
``python -m pel_hpc.deck.schema`` prints the deck reference as Markdown.
"""


def __getattr__(name):  # lazy, so ``python -m pel_hpc.deck.schema`` runs without a double import
    if name in ("load_deck", "validate_deck"):
        from pel_hpc.deck import validate

        return getattr(validate, name)
    raise AttributeError(name)


__all__ = ["load_deck", "validate_deck"]
