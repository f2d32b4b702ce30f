"""The ``pel-hpc`` command (also ``python -m pel_hpc``).

Subcommands are registered in :data:`COMMANDS` as ``name -> (add_arguments, handler, help)``;
a handler gets the parsed arguments and returns an exit code.  Errors of
:mod:`pel_hpc.errors` become one line on stderr and their exit code; nothing below this
module sees a raw deck dict.

    pel-hpc run DECK.yaml [--restart | --overwrite]   run a deck, printing the thermo table
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from pel_hpc.errors import OutputExistsError, PelError
from pel_hpc.io.commands import COMMANDS as WORKFLOW_COMMANDS


def _add_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("deck", help="input deck (YAML)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--restart", action="store_true",  # workflow: continue from the checkpoint
                      help="continue from the last complete checkpoint, appending to the output "
                           "(a run with neither output nor checkpoint yet starts from the beginning)")
    mode.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def continue_run(cfg, restart: bool, overwrite: bool, stream=sys.stderr) -> bool:
    """Whether to continue (True) or start afresh, given what exists on disk.

    A fresh run never silently replaces an existing output file: that needs ``--overwrite``
    (raises :class:`OutputExistsError` otherwise).  ``--restart`` with neither an output file nor a
    checkpoint (e.g. killed during a deck's ``preparation``) has nothing to continue and starts afresh.
    """
    from pel_hpc.io.runlock import check_not_running

    out, chk = Path(cfg.output.file), cfg.checkpoint.file
    check_not_running(out)  # a job still running this output: say so rather than "exists"
    if restart:
        if not out.exists() and not (chk is not None and Path(chk).exists()):
            if stream is not None:
                print(f"pel-hpc: --restart: no output '{out}' and no checkpoint yet, starting from the beginning",
                      file=stream)
            return False
        return True
    if out.exists() and not overwrite:
        raise OutputExistsError(f"output file '{out}' exists: continue it with --restart or replace it with --overwrite")
    return False


def _run(args) -> int:
    # workflow hook: output file, checkpoints, signals, replicas and restart live in pel_hpc.io.session
    from pel_hpc.deck.validate import load_deck
    from pel_hpc.io.session import run_deck
    from pel_hpc.parallel.comm import world

    cfg = load_deck(args.deck)
    comm = world()
    restart = continue_run(cfg, args.restart, args.overwrite, sys.stderr if comm.rank == 0 else None)
    comm.barrier()  # every rank has looked at the disk before anyone writes
    run_deck(cfg, comm, restart=restart, ignore_late_signals=True, overwrite=args.overwrite)
    return 0


COMMANDS = {"run": (_add_run, _run, "run a deck (under mpirun for several ranks) and print the thermo table")}
COMMANDS.update(WORKFLOW_COMMANDS)  # workflow: validate, info, export, deck-reference


class _Version(argparse.Action):
    """``--version``: the package version and git commit (as every output file records them), found only
    when asked (it runs git)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from pel_hpc import __version__
        from pel_hpc.io.h5md import git_commit

        print(f"pel-hpc {__version__} (git {git_commit()})")
        parser.exit()


def make_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="pel-hpc", description="Kob–Andersen MD and PEL analysis (LJ units)")
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="print the package version and the git commit of the sources, then exit")
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
        from pel_hpc.parallel.comm import report_failure  # once per run, whole, on stderr

        report_failure(f"pel-hpc: error: {err}", err.exit_code)
        if err.hard_exit:  # HDF5 holds a file it must not close (PelError.hard_exit): leave now
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(err.exit_code)
        return err.exit_code
    except KeyboardInterrupt:
        print("pel-hpc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output went away (``pel-hpc info F | head``): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 128 + signal.SIGPIPE
