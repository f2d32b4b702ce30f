"""Shared plumbing of the CLM figures 6–10: arguments, the scan summary table, PNG + CSV output.

Each figure reads one CLM scan file written by ``python -m postprocess.clm.scan`` (and, where the
paper compares with MD, an optional CSV of MD results with columns T, N, tau_alpha, D; see
:func:`postprocess.finite_size.read_md_table`).  Every PNG gets a footer naming its sources and a
CSV with the plotted numbers.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from postprocess.clm.scan import read_results  # noqa: E402
from postprocess.clm.summary import select, summarise  # noqa: E402
from postprocess.figures.save import save_png  # noqa: E402


def parser(module: str, doc: str, md: bool = False) -> argparse.ArgumentParser:
    """``python -m postprocess.figures.figNN SCAN.h5 --out DIR [--md MD.csv]``."""
    ap = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.splitlines()[0])
    ap.add_argument("scan", help="CLM scan HDF5 file (python -m postprocess.clm.scan)")
    ap.add_argument("--out", required=True, help="output directory")
    if md:
        ap.add_argument("--md", help="MD finite-size CSV (T, N, tau_alpha, D)")
    return ap


def nearest_neighbour_table(path):
    """Summary rows of a scan with nearest-neighbour coupling (the paper's Sect. IV A set-up)."""
    table = summarise(read_results(path))
    return select(table, np.isnan(table["r_max"]))


def finish(fig, out, name: str, sources: str, header: str, columns) -> Path:
    """Save ``name``.png and ``name``.csv (columns stacked) in ``out`` with a sources footer."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    png = save_png(fig, out / f"{name}.png", sources)
    np.savetxt(out / f"{name}.csv", np.column_stack(columns), delimiter=",", comments="", fmt="%.6g",
               header=f"# sources: {sources}\n{header}")
    print(png)
    return png
