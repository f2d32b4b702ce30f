"""Workflow subcommands of ``pel-hpc``: ``validate``, ``info``, ``export``, ``deck-reference``.

Registered in :data:`pel_hpc.cli.COMMANDS` (same ``(add_arguments, handler, help)`` shape).

    pel-hpc validate DECK.yaml         check a deck without running (exit 0 when valid)
    pel-hpc info FILE.h5               what an output file holds (replicas, elements, frames)
    pel-hpc export FILE.h5 OUT.h5 -r K write replica K as a standalone single-group H5MD file
    pel-hpc deck-reference             the deck reference (Markdown table)
"""
from __future__ import annotations


def _add_validate(parser) -> None:
    parser.add_argument("deck", help="input deck (YAML)")
    parser.add_argument("--ranks", type=int, default=None,
                        help="also check the deck against this many MPI ranks")


def _validate(args) -> int:
    from pel_hpc.deck.checks import check_auto_grid, check_world_size
    from pel_hpc.deck.validate import load_deck

    cfg = load_deck(args.deck)
    per = cfg.ensemble.ranks_per_replica
    if args.ranks is not None:
        per = check_world_size(cfg, args.ranks)
        check_auto_grid(cfg, per)
    per = "the ranks shared equally (auto)" if per == "auto" else f"{per} rank(s) each"
    stages = ", ".join(f"{s.name} {s.steps}" for s in cfg.stages)
    print(f"{args.deck}: valid — N={cfg.system.n}, T={cfg.integrator.temperature}, stages [{stages}], "
          f"{cfg.ensemble.replicas} replica(s), {per}, output {cfg.output.file}")
    return 0


def _add_info(parser) -> None:
    parser.add_argument("file", help="pel_hpc H5MD output file or checkpoint")


def _info(args) -> int:
    from pel_hpc.io.reader import describe
    from pel_hpc.io.runlock import check_not_running

    check_not_running(args.file)
    print(describe(args.file))
    return 0


def _add_export(parser) -> None:
    parser.add_argument("file", help="pel_hpc H5MD output file")
    parser.add_argument("out", help="standalone H5MD file to write")
    parser.add_argument("-r", "--replica", type=int, default=0, help="replica to export (default 0)")
    parser.add_argument("--mdanalysis", action="store_true",
                        help="adapt to MDAnalysis' reader: no unit attributes, time-series box edges")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def _export(args) -> int:
    from pel_hpc.io.export import export_replica
    from pel_hpc.io.runlock import check_not_running

    check_not_running(args.file)
    export_replica(args.file, args.out, args.replica, args.mdanalysis, args.overwrite)
    print(f"wrote replica {args.replica} of {args.file} to {args.out}")
    return 0


def _add_nothing(parser) -> None:
    """No arguments."""


def _reference(args) -> int:
    from pel_hpc.deck.schema import reference_markdown

    print(reference_markdown(), end="")
    return 0


COMMANDS = {
    "validate": (_add_validate, _validate, "check a deck without running it"),
    "info": (_add_info, _info, "summarise an output file or a checkpoint"),
    "export": (_add_export, _export, "write one replica as a standalone H5MD file"),
    "deck-reference": (_add_nothing, _reference, "print the deck reference (Markdown)"),
}
