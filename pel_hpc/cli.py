"""The ``pel-hpc`` command (also ``python -m pel_hpc``).

Subcommands are registered in :data:`COMMANDS` as ``name -> (add_arguments, handler, help)``;
a handler gets the parsed arguments and returns an exit code.  Errors of
:mod:`pel_hpc.errors` become one line on stderr and their exit code; nothing below this
module sees a raw deck dict.

    pel-hpc run DECK.yaml      run a deck serially, printing the thermo table
"""
from __future__ import annotations

import argparse
import sys

from pel_hpc.errors import PelError


def _add_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("deck", help="input deck (YAML)")


def _run(args) -> int:
    from pel_hpc.build import build_simulation, run_stages
    from pel_hpc.deck.validate import load_deck

    cfg = load_deck(args.deck)
    sim = build_simulation(cfg, extra_operations=output_operations_factory())
    run_stages(sim, cfg)
    return 0


def output_operations_factory():
    """``extra_operations`` for :func:`pel_hpc.build.build_simulation`: the H5MD writer and
    checkpoint operations of :mod:`pel_hpc.io` (None if that package is not available)."""
    try:
        from pel_hpc.io.ops import output_operations
        from pel_hpc.io.writer import H5MDWriter
    except ImportError:
        return None

    def make(cfg, quench_op, sim):
        st, comm = sim.state, sim.domain.comm
        writer = H5MDWriter(cfg, comm, st.replica).create(st.box, st.tag[: st.n_local], st.typ[: st.n_local])
        return output_operations(cfg, writer, quench_op, comm)

    return make


COMMANDS = {"run": (_add_run, _run, "run a deck serially and print the thermo table")}


def make_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="pel-hpc", description="Kob–Andersen MD and PEL analysis (LJ units)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (add_arguments, handler, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        add_arguments(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv=None) -> int:
    """Entry point: parse, dispatch, and turn a PelError into a one-line message and exit code."""
    args = make_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except PelError as err:
        print(f"pel-hpc: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("pel-hpc: interrupted", file=sys.stderr)
        return 130
