"""Run LAMMPS (Debian ``lmp``) on the identical Kob–Andersen system: data file, inputs, parsing.

Used by the LAMMPS cross-check tests and by ``benchmarks/bench_md.py``.  Species 0/1 are
LAMMPS types 1/2; pair coefficients are the KA ones with ``pair_modify shift yes``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

EPS = {(1, 1): 1.0, (1, 2): 1.5, (2, 2): 0.5}
SIG = {(1, 1): 1.0, (1, 2): 0.8, (2, 2): 0.88}


def lmp_binary() -> str | None:
    """Path of the LAMMPS executable, ``$LMP`` if set (a cluster's ``lmp_mpi``, a full path), else
    ``lmp`` (Debian); None when it cannot be found."""
    return shutil.which(os.environ.get("LMP") or "lmp")


def write_data(path, x, typ, box, v=None) -> None:
    """A LAMMPS ``atomic`` data file (ids are tags + 1, types are species + 1)."""
    n = len(x)
    x, box = np.asarray(x, dtype=float).tolist(), [float(b) for b in box]
    v = None if v is None else np.asarray(v, dtype=float).tolist()
    lines = ["Kob-Andersen configuration from pel_hpc", "", f"{n} atoms", "2 atom types", ""]
    lines += [f"0.0 {box[d]!r} {lo}lo {lo}hi" for d, lo in enumerate("xyz")]
    lines += ["", "Masses", "", "1 1.0", "2 1.0", "", "Atoms # atomic", ""]
    lines += [f"{i + 1} {typ[i] + 1} {x[i][0]!r} {x[i][1]!r} {x[i][2]!r}" for i in range(n)]
    if v is not None:
        lines += ["", "Velocities", ""] + [f"{i + 1} {v[i][0]!r} {v[i][1]!r} {v[i][2]!r}" for i in range(n)]
    Path(path).write_text("\n".join(lines) + "\n")


def pair_block(cutoff: float, skin: float = 0.3) -> str:
    """pair_style/pair_coeff/neighbor lines for the KA mixture at r_c·σ_αβ."""
    out = [f"pair_style lj/cut {cutoff * 1.0}"]
    out += [f"pair_coeff {a} {b} {EPS[a, b]} {SIG[a, b]} {float(cutoff * SIG[a, b])!r}" for (a, b) in EPS]
    out += ["pair_modify shift yes", f"neighbor {skin} bin", "neigh_modify every 1 delay 0 check yes"]
    return "\n".join(out)


def header(data: str, cutoff: float, skin: float = 0.3) -> str:
    """Common input head: LJ units, the data file, the KA pair style."""
    return f"units lj\natom_style atomic\nboundary p p p\nread_data {data}\n{pair_block(cutoff, skin)}\n"


def run(workdir, script: str, suffix_opt: bool = False, timeout: float = 600) -> str:
    """Run ``lmp`` on ``script`` in ``workdir`` (one thread), return its log text."""
    workdir = Path(workdir)
    (workdir / "in.run").write_text(script)
    cmd = [lmp_binary(), "-in", "in.run", "-log", "log.run", "-screen", "none"]
    if suffix_opt:
        cmd += ["-sf", "opt"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(cmd, cwd=workdir, check=True, env=env, timeout=timeout)
    return (workdir / "log.run").read_text()


def thermo_rows(log: str, first: str = "Step") -> list[list[float]]:
    """Numeric rows of every thermo block in a log (header starting with ``first``)."""
    rows, inside = [], False
    for line in log.splitlines():
        words = line.split()
        if words[:1] == [first]:
            inside = True
            continue
        if inside:
            try:
                rows.append([float(w) for w in words])
            except ValueError:
                inside = False
    return rows


def loop_time(log: str) -> float:
    """Wall seconds of the last ``Loop time of`` line."""
    return float(re.findall(r"Loop time of ([0-9.eE+-]+)", log)[-1])


def read_dump_forces(path) -> np.ndarray:
    """Forces (N, 3) ordered by id from a ``dump custom ... id fx fy fz`` file."""
    lines = Path(path).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("ITEM: ATOMS")) + 1
    data = np.array([[float(w) for w in line.split()] for line in lines[start:]])
    return data[np.argsort(data[:, 0]), 1:4]
