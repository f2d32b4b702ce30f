"""A diverging run (time step far too large) stops with one line and exit 11, keeping what it wrote.

Δt = 0.05 τ is ten times the KA mixture's usual step: within a few steps particles run into each
other's cores.  Before, NVT ended in an OverflowError traceback from the displacement forecast, or ran
on with the thermostat freezing every particle in place (finite, meaningless rows: T = 10⁻⁷, H = 10¹⁰⁴);
NVE ran on with H = 10⁴¹.  The same decks at Δt = 0.005 run through (the rest of the suite runs such
decks on every path, so the limits never fire on a healthy run).
"""
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from pel_hpc.cli import main
from pel_hpc.errors import UnstableDynamicsError
from pel_hpc.io import layout as L
from pel_hpc.md import thermostat
from pel_hpc.md.neighbors import list_is_stale, max_displacement2
from pel_hpc.parallel.comm import SerialComm

DECK = """run: {{name: blow, seed: 1}}
system: {{n: {n}, density: 1.2{cutoff}}}
integrator: {{dt: {dt}, temperature: 0.6, ensemble: {ensemble}}}
stages: [{{name: production, steps: {steps}}}]
output: {{thermo: {thermo}, positions: {positions}, file: out.h5}}
ensemble: {{replicas: {replicas}}}
"""


def write_deck(folder, n=500, dt=0.05, ensemble="nvt", steps=400, thermo=100, replicas=1, cutoff="", positions=0):
    deck = folder / "blow.yaml"
    deck.write_text(DECK.format(n=n, dt=dt, ensemble=ensemble, steps=steps, thermo=thermo, replicas=replicas,
                                cutoff=cutoff, positions=positions))
    return deck


def thermo_steps(path, replica=0):
    """Steps of the written thermo rows (unwritten preallocated rows skipped)."""
    with h5py.File(path, "r") as f:
        steps = f[f"{L.OBSERVABLES}/{L.replica_group(replica)}/temperature/step"][:]
    return steps[steps != L.UNWRITTEN_STEP].tolist()


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("pel-hpc: error: ")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("ensemble, reason", [("nvt", "the kinetic temperature reached"),
                                              ("nve", "the conserved energy H jumped")])
def test_a_diverging_run_stops_with_one_line_and_keeps_its_rows(tmp_path, capsys, ensemble, reason):
    """NVT: caught by the runaway kinetic temperature in the step's own reduction; NVE (no reduction
    of K per step): by the jump of H between thermo rows.  No checkpoint of the diverged state."""
    deck = write_deck(tmp_path, ensemble=ensemble)
    assert main(["run", str(deck)]) == UnstableDynamicsError.exit_code == 11
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert line.startswith("pel-hpc: error: replica 0: the MD diverged by step ") and reason in line
    assert "integrator.dt = 0.05 tau" in line and "holds every row before the divergence" in line
    assert "Traceback" not in captured.err
    step = int(line.split("by step ")[1].split(":")[0])
    assert 0 < step < 400
    rows = thermo_steps(tmp_path / "out.h5")
    assert rows == list(range(0, step, 100))  # every row before the divergence, none of it
    assert not (tmp_path / "out.chk.h5").exists()  # checkpoints only at the end: none was written
    assert not list(tmp_path.glob(".*.lock"))


def test_the_limits_are_far_from_a_healthy_run(tmp_path, capsys):
    """The same deck at Δt = 0.005 runs through; its largest kinetic temperature and its largest change
    of H between rows are far inside the limits (what the runaway test and the row test compare)."""
    deck = write_deck(tmp_path, dt=0.005, steps=2000, thermo=50)
    assert main(["run", str(deck)]) == 0
    lines = [ln.split() for ln in capsys.readouterr().out.splitlines() if ln and ln[0] != "#"][1:]
    t, h = np.array([float(r[2]) for r in lines]), np.array([float(r[5]) for r in lines])
    assert t.max() < 0.1 * thermostat.RUNAWAY * 0.6
    assert np.abs(np.diff(h)).max() < 1e-2


def test_a_start_with_overlapping_particles_diverges_in_its_first_step(tmp_path, capsys):
    """Two particles of a start frame 0.05 sigma apart (a hand-edited or wrongly replicated file): at the
    usual time step the report points at the start, not at integrator.dt."""
    deck = write_deck(tmp_path, dt=0.005, steps=100, positions=100)
    assert main(["run", str(deck)]) == 0
    with h5py.File(tmp_path / "out.h5", "r+") as f:
        frames = f[f"{L.PARTICLES}/{L.replica_group(0)}/position/value"]
        x = frames[-1]
        x[1] = x[0] + 0.05
        frames[-1] = x
    (tmp_path / "out.h5").rename(tmp_path / "start.h5")
    capsys.readouterr()
    (tmp_path / "ovl.yaml").write_text(deck.read_text().replace("n: 500,", "init: {kind: file, file: start.h5},")
                                       .replace("dt: 0.05", "dt: 0.005"))
    assert main(["run", str(tmp_path / "ovl.yaml"), "--overwrite"]) == 11
    line = one_error_line(capsys.readouterr().err)
    assert "the MD diverged by step 1: " in line and "look for overlapping particles in the start" in line


def test_a_quench_from_a_hot_file_is_not_a_divergence(tmp_path, capsys):
    """A start file's velocities are kept: from T ≈ 3 (a run at T = 5 stopped early) to a target of 0.02
    the run starts at over 100 times its target and cools, which the runaway test (relative to the larger
    of target and start) lets through."""
    hot = write_deck(tmp_path, dt=0.002, steps=100, positions=100)
    hot.write_text(hot.read_text().replace("temperature: 0.6", "temperature: 5.0")
                   .replace("positions: 100,", "positions: 100, velocities: 100,"))
    assert main(["run", str(hot)]) == 0
    (tmp_path / "out.h5").rename(tmp_path / "hot.h5")
    cold = tmp_path / "cold.yaml"
    cold.write_text(hot.read_text().replace("n: 500,", "init: {kind: file, file: hot.h5},")
                    .replace("temperature: 5.0", "temperature: 0.02").replace("steps: 100", "steps: 400"))
    capsys.readouterr()
    assert main(["run", str(cold)]) == 0, capsys.readouterr().err
    rows = [ln.split() for ln in capsys.readouterr().out.splitlines() if ln[:1] == " " and ln.split()[0].isdigit()]
    temps = [float(r[2]) for r in rows]
    assert temps[0] > thermostat.RUNAWAY * 0.02 and temps[-1] < 0.5 * temps[0]


def test_a_diverging_batch_of_small_replicas_names_them(tmp_path, capsys):
    """N = 65 replicas run in the compiled loop (one batch): the loop records each replica's largest
    kinetic temperature, and the batch names every replica that diverged."""
    deck = write_deck(tmp_path, n=65, dt=0.05, replicas=3, cutoff=", cutoff: 1.8")
    assert main(["run", str(deck)]) == 11
    line = one_error_line(capsys.readouterr().err)
    assert "replicas 0, 1, 2: the MD diverged by step " in line
    assert "100 times the larger of the target and the start's" in line


def test_non_finite_displacements_are_not_hidden():
    """A NaN position loses every comparison; the displacement maximum reports it as inf and the
    displacement check refuses it before a cell list is built from it."""
    x = np.zeros((4, 3))
    x_build = x.copy()
    x[2, 1] = np.nan
    assert max_displacement2(x, x_build, 4) == np.inf
    assert max_displacement2(x, x_build, 2) == 0.0

    class S:
        pass
    state = S()
    state.x, state.n_local = x, 4
    with pytest.raises(UnstableDynamicsError, match="not finite"):
        list_is_stale(state, x_build, 0.3, SerialComm())
    assert thermostat.runaway(float("nan"), 10, 1.0)
    assert thermostat.runaway(10 * 100.0 * 1.0 * 1.0001, 10, 1.0)
    assert not thermostat.runaway(10 * 100.0 * 0.9999, 10, 1.0)


MPIRUN = ["mpirun", "--oversubscribe", "-n", "2"]


def _mpirun_cli(folder, deck):
    return subprocess.run(MPIRUN + [sys.executable, "-m", "pel_hpc", "run", str(deck)], capture_output=True,
                          text=True, cwd=folder, env=dict(os.environ), timeout=180)


def test_diverging_on_two_ranks(tmp_path):
    """One system decomposed over 2 ranks: both ranks see the reduced runaway at the same step, rank 0
    alone reports, the file is closed with every row before the divergence."""
    deck = write_deck(tmp_path, n=2000)
    proc = _mpirun_cli(tmp_path, deck)
    assert proc.returncode == 11, proc.stderr
    line = one_error_line(proc.stderr)
    assert "replica 0: the MD diverged by step " in line and "every row before the divergence" in line
    step = int(line.split("by step ")[1].split(":")[0])
    assert thermo_steps(tmp_path / "out.h5") == list(range(0, step, 100))


def test_diverging_replica_group_of_an_ensemble_ends_the_job(tmp_path):
    """Two replicas, one rank group each: a group cannot close the shared file alone (collective over
    the world), so it reports and the job ends with exit 11 instead of hanging; the file stays
    readable, with the rows its last flush wrote (here none: no checkpoint or stage end came first)."""
    deck = write_deck(tmp_path, n=300, replicas=2)
    proc = _mpirun_cli(tmp_path, deck)
    assert proc.returncode == 11, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("pel-hpc: error: ")]
    assert 1 <= len(lines) <= 2 and all("the MD diverged" in ln and "last checkpoint or stage end" in ln
                                        for ln in lines), proc.stderr
    assert "Traceback" not in proc.stderr
    for replica in (0, 1):
        rows = thermo_steps(tmp_path / "out.h5", replica)
        assert rows == list(range(0, 100 * len(rows), 100)) and len(rows) < 4
