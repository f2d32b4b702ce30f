"""``run.threads``: the pair kernel and the list build on several numba threads per rank give bitwise
the forces, energy and virial shares and the neighbour lists of one thread, and a run whose rank cannot have that many CPUs is refused.

Numba fixes its thread pool at the first threaded call, so each case runs in a fresh process."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CPUS = len(os.sched_getaffinity(0))

THREADED_FORCES = """
import numba, numpy as np
from pel_hpc.md.domain import SerialDomain
from pel_hpc.md.forces import energy_shares, force_rows, local_forces, pair_forces_threaded
from pel_hpc.md.init import random_state, soft_push
from pel_hpc.md.neighbors import build_cells_threaded
from pel_hpc.parallel.comm import SerialComm
from pel_hpc.parallel.domain import DecomposedDomain
from pel_hpc.parallel.launch import use_threads
from pel_hpc.physics.kob_andersen import pair_table

table = pair_table(2.5)
s = random_state(1500, 1.2, 0.8, seed=3)
soft_push(s, SerialDomain(table.rc_max, 0.3), table, max_iter=300)
dom = DecomposedDomain(table.rc_max, 0.3, SerialComm())
dom.setup(s)
n = s.n_local
use_threads(2)
assert numba.get_num_threads() == 2
out = {}
for threads in (2, 1, 2):
    dom.threads = threads
    force_rows(s, dom, table, 0, n)
    f = s.f[:n].copy()
    ew = energy_shares(s, dom, table)
    fused = local_forces(s, dom, table, "fused")
    force_rows(s, dom, table, 7, 1000)  # a part of the rows, as while halo messages travel
    out.setdefault(threads, []).append((f, ew, fused, s.f[7:1000].copy()))
    assert np.array_equal(s.f[7:1000], f[7:1000])
for a, b in zip(out[1][0], out[2][0]):
    assert np.array_equal(a, b)  # bitwise, every array
for a, b in zip(out[2][0], out[2][1]):
    assert np.array_equal(a, b)
assert pair_forces_threaded.signatures  # the threaded path ran
lists = {}
for threads in (1, 2):  # the list build: bitwise the same rows (each built whole from its cell's stencil)
    dom.threads = threads
    dom.nlist[:], dom.count[:], dom.count_a[:] = -1, 0, 0  # nothing left from the previous build
    dom.rebuild(s)
    assert dom.count[:n].min() > 0
    lists[threads] = (dom.count[:n].copy(), dom.count_a[:n].copy(),
                      [dom.nlist[i, :dom.count[i]].copy() for i in range(n)], s.tag[:n].copy())
assert all(np.array_equal(a, b) for a, b in zip(lists[1][:2] + lists[1][3:], lists[2][:2] + lists[2][3:]))
assert all(np.array_equal(a, b) for a, b in zip(lists[1][2], lists[2][2]))
assert build_cells_threaded.signatures
assert np.abs(out[1][0][0]).max() > 1.0
print("ok")
"""


@pytest.mark.skipif(CPUS < 2, reason="needs 2 CPUs")
def test_two_threads_give_bitwise_the_forces_energies_virials_and_lists_of_one():
    env = dict(os.environ, NUMBA_NUM_THREADS="2", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", THREADED_FORCES], env=env, capture_output=True, text=True,
                         timeout=600, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]


DECK = """run: {name: t, threads: 2}
system: {n: 65, cutoff: 1.8}
integrator: {temperature: 0.6}
stages: [{name: production, steps: 10}]
"""


@pytest.mark.parametrize("prefix, extra_env, expected", [
    (["taskset", "-c", "0"], {}, "run.threads is 2 but this rank may run on 1 CPU(s) (its affinity mask); "
                                 "launch with mpirun --map-by slot:PE=2 (or --bind-to none)"),
    ([], {"SLURM_CPUS_PER_TASK": "1"}, "run.threads is 2 but SLURM gives each task 1 CPU(s) "
                                       "(SLURM_CPUS_PER_TASK); submit with --cpus-per-task=2"),
    ([], {"NUMBA_NUM_THREADS": "1"}, "run.threads is 2 but NUMBA_NUM_THREADS is 1; export NUMBA_NUM_THREADS=2 "
                                     "(or unset it)"),
])
def test_more_threads_than_the_rank_has_cpus_is_refused_before_writing(tmp_path, prefix, extra_env, expected):
    if prefix and subprocess.run(["which", "taskset"], capture_output=True).returncode:
        pytest.skip("no taskset")
    (tmp_path / "t.yaml").write_text(DECK)
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{"NUMBA_NUM_THREADS": "2", **extra_env})
    out = subprocess.run(prefix + [sys.executable, "-m", "pel_hpc", "run", "t.yaml"], env=env, capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 6 and out.stderr.strip() == f"pel-hpc: error: {expected}"
    assert sorted(os.listdir(tmp_path)) == ["t.yaml"]


@pytest.mark.skipif(CPUS < 2, reason="needs 2 CPUs")
def test_a_run_with_two_threads_writes_the_file_of_one(tmp_path):
    """The whole CLI path: N = 1040 (a list, threaded rows) with threads 1 and 2: identical data."""
    import h5py
    import numpy as np

    files = []
    for threads in (1, 2):
        folder = tmp_path / f"t{threads}"
        folder.mkdir()
        (folder / "t.yaml").write_text(DECK.replace("threads: 2", f"threads: {threads}").replace("n: 65", "n: 1040")
                                       .replace("steps: 10", "steps: 40") + "output: {thermo: 10, positions: 20}\n")
        out = subprocess.run([sys.executable, "-m", "pel_hpc", "run", "t.yaml"],
                             env=dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_NUM_THREADS="2"),
                             capture_output=True, text=True, timeout=600, cwd=folder)
        assert out.returncode == 0, out.stderr[-2000:]
        files.append(folder / "t.h5")
    with h5py.File(files[0], "r") as a, h5py.File(files[1], "r") as b:
        for path in ("particles/replica_000/position/value", "observables/replica_000/potential_energy/value",
                     "observables/replica_000/pressure/value"):
            assert np.array_equal(a[path][()], b[path][()]), path
