"""The one entry point of every post-processing command (``python -m postprocess.…``).

Bad input — a missing or corrupt file, an HDF5 file that is not ours, a value the analysis cannot
use — is a :class:`~pel_hpc.errors.PelError` (or an ``OSError`` from the file system or HDF5) and
becomes one line, ``<prog>: error: <message>``, on stderr and a non-zero exit code (the error's own,
3 for an ``OSError``), as ``pel-hpc`` does; anything else is a bug and keeps its traceback.  Called
as a function, a command's ``main`` raises instead.  Option values out of range are refused earlier,
by argparse (its usage line, one error line naming the option, exit 2), through :func:`positive`
and :func:`nonnegative`.  Output piped into a reader that stops early (``| head``) ends the command
quietly with exit 141, as a program killed by SIGPIPE.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

from pel_hpc.errors import InputFileError, PelError


def run(main, prog: str, argv=None) -> int:
    """``main(argv)``'s exit code, with bad input reported in one line (module docstring)."""
    try:
        return main(argv)
    except BrokenPipeError:  # the reader of our output went away (``| head``): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 128 + signal.SIGPIPE
    except PelError as err:
        code, message = err.exit_code, str(err)
    except OSError as err:
        code, message = InputFileError.exit_code, str(err)
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def positive(kind):
    """argparse ``type``: a number of ``kind`` (int, float) > 0; anything else is argparse's error line."""
    return _bounded(kind, lambda v: v > 0, "> 0")


def nonnegative(kind):
    """argparse ``type``: a number of ``kind`` (int, float) >= 0."""
    return _bounded(kind, lambda v: v >= 0, ">= 0")


def _bounded(kind, ok, bound: str):
    def parse(text: str):
        value = kind(text)  # a ValueError becomes argparse's "invalid <kind> value"
        if not ok(value):  # NaN fails every bound
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse
