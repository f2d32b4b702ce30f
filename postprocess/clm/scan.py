r"""CLM parameter scans: a (T, q, lattice, r_max, seed) grid from a small YAML file into one HDF5 file.

``python -m postprocess.clm.scan SCAN.yaml --out FILE.h5`` runs every grid point that is not yet
stored and appends it; a second call (or a call after an interruption) recomputes nothing already
stored.  Each point is one HDF5 group named by its readable parameters plus a hash of the full
configuration (so changed run settings are new points, never silently reused); the group's
``complete`` attribute is written last, and incomplete groups left by a kill are redone.

YAML layout (all keys optional except ``grid.temperature``)::

    pel:  {sigma_gamma: 1.0, entropic_sign: -1}     # overrides of Table I (postprocess.landscape)
    grid: {temperature: [0.5, 0.6], q: [0, 0.01], shape: [[3, 3, 3]], r_max: [null, 2.0], seed: [1]}
    run:  {coupling: boltzmann, duration: 1.0e5, warmup: 2.0, n_blocks: 16, exponent: 3.0,
           gauss_step: 1.0, gauss_redraw: false}
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import itertools
import json
import os
import time

import h5py
import yaml

from pel_hpc import __version__
from pel_hpc.errors import CorruptFileError, DeckError, InputFileError
from pel_hpc.io import layout as L
from pel_hpc.io.h5md import git_commit
from postprocess.command import run
from postprocess.io import open_file
from postprocess.landscape import TABLE_I

from .simulation import CLMConfig, CLMSimulation, CLMTallies

GRID_KEYS = ("temperature", "q", "shape", "r_max", "seed")
RUN_TYPES = {"coupling": str, "duration": float, "warmup": float, "n_blocks": int, "exponent": float,
             "gauss_step": float, "gauss_redraw": bool}
RUN_KEYS = tuple(RUN_TYPES)
ARRAYS = ("moments", "tau_hist", "log_tau_edges", "energy_hist", "energy_edges")
SCALARS = ("n_active", "n_passive", "mean_tau_0", "tau_alpha_0", "n_eff", "block_time")


def _check_keys(section: dict, allowed, where: str):
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise DeckError(f"{where}: unknown key(s) {unknown}; allowed: {list(allowed)}")


def _typed(section: dict, types: dict, where: str) -> dict:
    """Convert YAML values (e.g. ``4.0e5``, which YAML 1.1 reads as a string) to their types."""
    out = {}
    for key, value in section.items():
        try:
            out[key] = types[key](float(value)) if types[key] is int else types[key](value)
        except (TypeError, ValueError):
            raise DeckError(f"{where}.{key}: expected {types[key].__name__}, got {value!r}") from None
    return out


def load_scan(path) -> list[CLMConfig]:
    """Read and validate a scan YAML file into the list of CLMConfig grid points."""
    try:
        with open(path) as fh:
            doc = yaml.safe_load(fh) or {}
    except OSError as exc:
        raise InputFileError(f"cannot read scan file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise DeckError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if isinstance(doc, dict) and {"integrator", "stages"} & set(doc):  # pel_hpc's deck sections
        raise DeckError(f"{path} is an MD deck (sections integrator, stages, ...), not a CLM scan file: run it with "
                        f"pel-hpc run")
    _check_keys(doc, ("pel", "grid", "run"), str(path))
    pel_over, grid, run = doc.get("pel") or {}, doc.get("grid") or {}, doc.get("run") or {}
    _check_keys(pel_over, [f.name for f in dataclasses.fields(TABLE_I)], f"{path}: pel")
    _check_keys(grid, GRID_KEYS, f"{path}: grid")
    _check_keys(run, RUN_KEYS, f"{path}: run")
    if "temperature" not in grid:
        raise DeckError(f"{path}: grid.temperature is required")
    pel_types = {f.name: (int if f.name == "entropic_sign" else float) for f in dataclasses.fields(TABLE_I)}
    pel = TABLE_I.replace(**_typed(pel_over, pel_types, f"{path}: pel"))
    run = _typed(run, RUN_TYPES, f"{path}: run")
    defaults = {"q": [0.0], "shape": [[3, 3, 3]], "r_max": [None], "seed": [1]}
    values = [list(grid.get(k, defaults.get(k))) for k in GRID_KEYS]
    try:
        return [CLMConfig(temperature=float(t), q=float(q), shape=tuple(int(n) for n in sh),
                          r_max=None if r is None else float(r), seed=int(s), pel=pel, **run)
                for t, q, sh, r, s in itertools.product(*values)]
    except (TypeError, ValueError) as exc:
        raise DeckError(f"{path}: grid values must be numbers (shape: lists of ints): {exc}") from None


def config_key(cfg: CLMConfig) -> str:
    """Group name: readable grid coordinates plus a hash of the full configuration."""
    blob = json.dumps(config_to_dict(cfg), sort_keys=True)
    rng = "nn" if cfg.r_max is None else f"r{cfg.r_max:g}"
    shape = "x".join(str(n) for n in cfg.shape)
    return (f"T{cfg.temperature:g}_q{cfg.q:g}_L{shape}_{rng}_s{cfg.seed}_"
            f"{hashlib.sha1(blob.encode()).hexdigest()[:10]}")


def config_to_dict(cfg: CLMConfig) -> dict:
    """A JSON-able dict of a CLMConfig (the PEL parameters nested)."""
    d = dataclasses.asdict(cfg)
    d["shape"] = list(cfg.shape)
    return d


def config_from_dict(d: dict) -> CLMConfig:
    """Inverse of :func:`config_to_dict`."""
    d = dict(d)
    d["pel"] = TABLE_I.replace(**d["pel"])
    d["shape"] = tuple(d["shape"])
    return CLMConfig(**d)


_commit = functools.lru_cache(maxsize=1)(git_commit)  # one `git rev-parse` per scan process


def write_point(h5: h5py.File, cfg: CLMConfig, tallies: CLMTallies, seconds: float):
    """Store one grid point; the ``complete`` attribute is set last (crash-safe marker)."""
    name = config_key(cfg)
    if name in h5:
        del h5[name]
    g = h5.create_group(name)
    for key in ARRAYS:
        g.create_dataset(key, data=getattr(tallies, key))
    for key in SCALARS:
        g.attrs[key] = getattr(tallies, key)
    g.attrs["config"] = json.dumps(config_to_dict(cfg), sort_keys=True)
    g.attrs["wall_seconds"] = seconds
    g.attrs["time_unit"] = "tau (LJ)"
    g.attrs["energy_unit"] = "epsilon (total MB energy of the ES)"
    g.attrs[L.ATTR_GIT_COMMIT] = _commit()  # provenance of each point: a resumed scan may mix code versions
    g.attrs[L.ATTR_PACKAGE_VERSION] = __version__
    g.attrs["complete"] = True
    h5.flush()


def read_results(path) -> list[CLMTallies]:
    """All complete grid points of a scan file as CLMTallies (with their configurations).

    A missing file is an InputFileError; one that HDF5 cannot read, or that holds no complete grid
    point (not written by :func:`run_scan`, or none finished), a CorruptFileError."""
    out = []
    with open_file(path) as h5:
        try:
            for name in sorted(h5):
                g = h5[name]
                if not isinstance(g, h5py.Group) or not g.attrs.get("complete", False):
                    continue
                cfg = config_from_dict(json.loads(g.attrs["config"]))
                arrays = {k: g[k][()] for k in ARRAYS}
                scalars = {k: g.attrs[k].item() for k in SCALARS}
                out.append(CLMTallies(config=cfg, **arrays, **scalars))
        except KeyError as exc:
            raise CorruptFileError(f"{path}: a grid point lacks {exc} (not a CLM scan file?)") from None
    if not out:
        raise CorruptFileError(f"{path}: no complete CLM grid point (a file of python -m postprocess.clm.scan?)")
    return out


SCAN_MARK = "pel_hpc_clm_scan"  # root attribute of a scan file


def check_scan_target(path) -> None:
    """Refuse an ``--out`` that a scan must not write into: a file that is not a scan file (an MD
    output, say: its groups would be kept but it would gain grid points), an unreadable one, or a
    missing folder.  A new file, or a scan file to extend, passes."""
    if not os.path.exists(path):
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise InputFileError(f"output folder '{folder}' does not exist")
        return
    with open_file(path) as h5:
        foreign = [] if h5.attrs.get(SCAN_MARK, False) else \
            [name for name in h5 if not (isinstance(h5[name], h5py.Group) and "config" in h5[name].attrs)]
    if foreign:
        raise CorruptFileError(f"{path} exists and is not a CLM scan file (it holds {', '.join(map(repr, foreign[:4]))}): "
                               "choose another --out")


def run_scan(configs, out_path, log=print) -> int:
    """Run every configuration not yet complete in ``out_path``; returns how many were computed."""
    check_scan_target(out_path)
    done = 0
    with h5py.File(out_path, "a") as h5:
        h5.attrs[SCAN_MARK] = True  # a point cut short by a crash (no config yet) keeps the file a scan file
        for cfg in configs:
            name = config_key(cfg)
            if name in h5 and h5[name].attrs.get("complete", False):
                continue
            start = time.perf_counter()
            tallies = CLMSimulation(cfg).run()
            seconds = time.perf_counter() - start
            write_point(h5, cfg, tallies, seconds)
            done += 1
            log(f"{name}: {tallies.n_active} active, {tallies.n_passive} passive events in {seconds:.2f} s")
    return done


def main(argv=None) -> int:
    """``python -m postprocess.clm.scan SCAN.yaml --out FILE.h5``."""
    ap = argparse.ArgumentParser(prog="python -m postprocess.clm.scan", description=__doc__.split("\n")[0])
    ap.add_argument("scan", help="scan YAML file")
    ap.add_argument("--out", required=True, help="HDF5 file to create or extend")
    args = ap.parse_args(argv)
    configs = load_scan(args.scan)
    n = run_scan(configs, args.out)
    print(f"{n} of {len(configs)} grid points computed, {len(configs) - n} already stored in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.clm.scan"))
